"""Datasets with Keras' load_data() interface."""
from . import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
