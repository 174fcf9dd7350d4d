"""Datasets with Keras' load_data() interface."""
from . import fashion_mnist, imdb, mnist, reuters

__all__ = ["fashion_mnist", "imdb", "mnist", "reuters"]
