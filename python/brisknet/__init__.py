"""brisknet: Keras-compatible dense neural networks trained on fast C++ kernels.

``import brisknet as keras`` runs a Keras Sequential/Dense program unchanged.
"""
from . import _core  # noqa: F401  (the compiled kernels; import errors surface here)
from . import activations, applications, backend, callbacks, constraints, datasets, initializers, interop, kernels, layers, losses, metrics, models, ops
from . import config, cuda, devices, distribution, mixed_precision, optimizers, random, reference, regularizers, saving, utils
from .devices import device, get_device, set_device
from .layers import Input
from .mixed_precision import DTypePolicy
from .models import Model, Sequential
from .utils import cpu_info, get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "DTypePolicy", "Input", "Model", "config", "mixed_precision", "Sequential", "activations", "applications", "backend", "callbacks", "constraints", "cpu_info", "cuda", "datasets",
    "device",
    "devices", "distribution", "get_device", "get_num_threads", "set_device",
    "initializers", "interop", "layers", "losses", "metrics", "models", "kernels", "optimizers", "random", "reference", "regularizers",
    "saving", "set_num_threads", "utils",
]
