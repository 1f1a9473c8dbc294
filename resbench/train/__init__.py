"""Training: data sets as device tensors, the training loop, sweeps and analyses."""
