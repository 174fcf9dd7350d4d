"""Layers with Keras names and arguments."""
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .attention import MultiHeadAttention
from .batch_normalization import BatchNormalization, LayerNormalization
from .convolutional import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .dense import Dense
from .dropout import Dropout, SpatialDropout1D, SpatialDropout2D
from .category_encoding import CategoryEncoding
from .embedding import Embedding
from .hashing import Hashing
from .flatten import Flatten
from .image_preprocessing import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                                  RandomTranslation, RandomZoom, Resizing)
from .image_reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from .input_layer import Input, InputLayer, InputSpec
from .lambda_layer import Lambda
from .layer import Layer
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, dot, maximum, minimum, multiply, subtract)
from .noise import GaussianDropout, GaussianNoise
from .normalization import Normalization, Rescaling
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .recurrent import GRU, LSTM, RNN, Bidirectional, SimpleRNN
from .recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .lookup import IntegerLookup, StringLookup
from .masking import Masking
from .score_attention import AdditiveAttention, Attention
from .time_distributed import TimeDistributed
from .reshaping import Identity, Permute, RepeatVector, Reshape
from .text_vectorization import TextVectorization

__all__ = ["Activation", "Add", "AdditiveAttention", "Attention", "Average", "AveragePooling1D", "AveragePooling2D", "BatchNormalization", "Bidirectional",
           "CenterCrop", "Concatenate", "Conv1D", "Conv2D", "Conv2DTranspose", "Cropping2D", "Dense", "DepthwiseConv2D", "Dot", "Dropout",
           "CategoryEncoding", "ELU", "Embedding", "Flatten", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GRU", "GRUCell", "Hashing", "Identity", "Input", "IntegerLookup",
           "InputLayer", "InputSpec", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization", "LeakyReLU", "Masking", "MaxPooling1D",
           "MaxPooling2D", "Maximum", "Minimum", "MultiHeadAttention", "Multiply", "Normalization", "Permute", "ReLU",
           "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
           "RandomZoom", "Resizing", "RNN", "RepeatVector", "Rescaling", "Reshape", "SeparableConv2D", "SimpleRNN", "SimpleRNNCell", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "StackedRNNCells", "StringLookup",
           "Subtract", "TextVectorization", "TimeDistributed", "UpSampling2D", "ZeroPadding2D", "add", "average", "concatenate", "dot", "maximum", "minimum",
           "multiply", "subtract"]
