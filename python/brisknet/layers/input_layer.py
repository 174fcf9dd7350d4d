from __future__ import annotations

from ..naming import unique_name


class InputLayer:
    """What ``brisknet.Input(shape)`` returns: the per-sample shape a Sequential starts from, and
    the symbolic input of a functional model (calling a layer on it starts the graph; it is the
    model's InputLayer in model.layers, as Keras'). It has no weights and does nothing."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
                 **kwargs):
        if kwargs:
            raise TypeError(f"Input: unexpected arguments {sorted(kwargs)}")
        if shape is None and batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if not shape or any(d is not None and ((not isinstance(d, int)) or isinstance(d, bool) or d < 1)
                            for d in shape):
            raise ValueError(f"Input: shape must be a tuple of positive ints (None for a size known only at run "
                             f"time), got {shape!r}")
        if dtype not in (None, "float32", "float64", "int32", "int64", "string"):
            raise ValueError(f"Input: dtype {dtype!r} is not supported (models compute in float32; a 'string' "
                             "input goes through a text layer first)")
        if sparse:
            raise NotImplementedError("Input: sparse inputs are not supported")
        self.sample_shape = shape
        self.batch_size = batch_size
        self.dtype = dtype or "float32"
        self.name = name if name is not None else unique_name("input_layer")
        self.trainable = True
        self.built = True

    @property
    def shape(self) -> tuple:
        """Keras' shape of the symbolic input: the batch dimension first (None unless given)."""
        return (self.batch_size,) + self.sample_shape

    @property
    def input_shape(self) -> tuple:
        return self.sample_shape

    output_shape = input_shape

    # a layer without weights, as model.layers lists it
    weights = trainable_weights = non_trainable_weights = property(lambda self: [])
    _weights = ()

    def get_weights(self) -> list:
        return []

    def count_params(self) -> int:
        return 0

    def get_config(self) -> dict:
        return {"batch_shape": [self.batch_size, *self.sample_shape], "dtype": self.dtype, "sparse": False,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<InputLayer name={self.name} shape={self.shape}>"


def Input(shape=None, batch_size=None, name=None, dtype=None, sparse=None, batch_shape=None):
    return InputLayer(shape, batch_size, dtype, sparse, batch_shape, name)


InputSpec = InputLayer  # (the name the models' code uses for it)
