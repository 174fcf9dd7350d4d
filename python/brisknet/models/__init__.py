"""Models: Sequential (and its compile/fit/evaluate/predict)."""
from .sequential import Sequential

__all__ = ["Sequential"]
