"""Layers with Keras names and arguments."""
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input_layer import Input, InputLayer, InputSpec
from .layer import Layer
from .normalization import Normalization, Rescaling

__all__ = ["Activation", "Dense", "Dropout", "ELU", "Flatten", "Input", "InputLayer", "InputSpec", "Layer", "LeakyReLU",
           "Normalization", "ReLU", "Rescaling", "Softmax"]
