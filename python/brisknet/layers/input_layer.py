from __future__ import annotations


class InputSpec:
    """What ``brisknet.Input(shape)`` returns: the per-sample shape a Sequential starts from, and
    the symbolic input of a functional model (calling a layer on it starts the graph)."""

    def __init__(self, shape, batch_size=None, name=None, dtype=None):
        if shape is None:
            raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if not shape or any((not isinstance(d, int)) or d < 1 for d in shape):
            raise ValueError(f"Input: shape must be a tuple of positive ints, got {shape!r}")
        self.shape = shape
        self.batch_size = batch_size
        self.name = name

    @property
    def sample_shape(self) -> tuple:
        """The per-sample shape (the functional API's symbolic tensors have it too)."""
        return self.shape

    def __repr__(self):
        return f"<Input shape=(None, {', '.join(map(str, self.shape))})>"


def Input(shape=None, batch_size=None, name=None, dtype=None):
    return InputSpec(shape, batch_size, name, dtype)


InputLayer = Input
