"""Prices in, tensors out: sources, cleaning, the calendar split, the codec, windows, the DataModule."""
