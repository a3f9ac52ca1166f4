"""The LSTM network (a plain nn.Module) and the LightningModule that trains it."""
