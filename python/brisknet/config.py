"""keras.config: the global settings Keras programs read and set (a face: it only re-exports)."""
from .backend import backend, epsilon, floatx, image_data_format
from .mixed_precision import dtype_policy, set_dtype_policy

__all__ = ["backend", "dtype_policy", "epsilon", "floatx", "image_data_format", "set_dtype_policy"]
