"""biotorch: a PyTorch-style deep-learning library for computational biology."""
