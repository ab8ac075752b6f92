"""satlearn: Self-Adaptive Training (SAT) for PyTorch."""

__version__ = "0.1.0"
