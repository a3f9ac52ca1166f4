"""The serving artifact: tensors and plain data, weights-only, and publishing it on purpose."""
