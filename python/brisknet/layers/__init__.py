"""Layers with Keras names and arguments."""
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .batch_normalization import BatchNormalization, LayerNormalization
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .input_layer import Input, InputLayer, InputSpec
from .layer import Layer
from .merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .noise import GaussianDropout, GaussianNoise
from .normalization import Normalization, Rescaling
from .pooling import GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D
from .reshaping import Identity, Permute, RepeatVector, Reshape

__all__ = ["Activation", "Add", "Average", "BatchNormalization", "Concatenate", "Dense", "Dot", "Dropout", "ELU",
           "Embedding", "Flatten", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Identity", "Input", "InputLayer",
           "InputSpec", "Layer", "LayerNormalization", "LeakyReLU", "Maximum", "Minimum", "Multiply",
           "Normalization", "Permute", "ReLU", "RepeatVector", "Rescaling", "Reshape", "Softmax", "Subtract"]
