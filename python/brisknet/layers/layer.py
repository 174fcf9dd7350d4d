"""Layer base class. A layer describes itself (config, weight shapes) and runs its forward and
backward pass through the C++ kernels on buffers it keeps per batch size, so the steady-state
training step allocates nothing. In a model, weights are views of the model's one flat parameter
buffer; a layer used on its own (``Dense(4)(x)``, ``layer.build((None, 3))``) owns its weights
until a model takes it in (keeping their values)."""
from __future__ import annotations

import weakref

import numpy as np

from ..naming import to_snake_case, unique_name
from ..variables import Variable
from .symbolic import SymbolicTensor, is_symbolic


class Layer:
    weights_trainable = True  # False: the layer's weights are never trained (Normalization's statistics)
    _model = None  # a weak reference to the model whose buffer holds the weights (bind)

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"{type(self).__name__}: only float32 layers are supported, got dtype={dtype!r}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self.input_shape = None   # without the batch dimension
        self.output_shape = None
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._weights: list = []  # views into the model's flat parameter buffer
        self._grads: list = []
        self._buffers: dict = {}  # batch size -> workspace arrays

    # ---------------------------------------------------------------- structure
    def build(self, input_shape) -> None:
        """Keras' build: `input_shape` with the batch dimension first, e.g. (None, 4); a layer
        built on its own creates (and initialises) its own weights."""
        shape = tuple(input_shape) if input_shape is not None else ()
        if len(shape) < 2 or any(not isinstance(d, (int, np.integer)) or d < 1 for d in shape[1:]):
            raise ValueError(f"{type(self).__name__} {self.name!r}: build expects a shape with the batch "
                             f"dimension first, e.g. (None, 4), got {input_shape!r}")
        self.build_sample(tuple(int(d) for d in shape[1:]))
        self.create_own_weights()

    def build_sample(self, sample_shape) -> None:
        """Shapes from one sample's shape (no batch dimension): what a model calls."""
        self.input_shape = tuple(sample_shape)
        self.output_shape = self.sample_output_shape(self.input_shape)
        self.built = True

    def sample_output_shape(self, sample_shape):
        """The shape of one output sample, given one input sample's shape."""
        return tuple(sample_shape)

    def compute_output_shape(self, input_shape):
        """Keras' form: batch dimension first."""
        shape = tuple(input_shape)
        return shape[:1] + tuple(self.sample_output_shape(shape[1:]))

    def weight_specs(self) -> list:
        """[(name, shape, initializer)] of this layer's weights, in Keras' order."""
        return []

    def create_own_weights(self) -> None:
        """Weights (and gradient buffers) of this layer alone, initialised, for use outside a model."""
        specs = self.weight_specs()
        kept = self._weights
        weights = []
        for i, (_, shape, init) in enumerate(specs):
            if i < len(kept) and kept[i].shape == tuple(shape):
                weights.append(np.array(kept[i], np.float32))
            else:
                weights.append(np.array(init(shape, np.float32), dtype=np.float32).reshape(shape))
        self.bind(weights, [np.zeros_like(w) for w in weights])

    def bind(self, weights: list, grads: list, model=None) -> None:
        """The layer's weights (views of `model`'s flat buffer, when given: a device engine of that
        model may hold newer copies, brought to and from the host around reads and writes)."""
        self._weights, self._grads = list(weights), list(grads)
        self._buffers.clear()
        self._model = weakref.ref(model) if model is not None else None

    def _owner(self):
        """The model whose flat buffer holds this layer's weights (None: the layer owns them)."""
        return self._model() if self._model is not None else None

    def _weights_to_host(self) -> None:
        if (model := self._owner()) is not None:
            model._weights_to_host()

    def _weights_from_host(self) -> None:
        if (model := self._owner()) is not None:
            model._weights_from_host()

    @property
    def weights(self) -> list:
        """Keras-like variables (.numpy(), .shape, .name, .path, .assign) over this layer's weights."""
        if not self.built:
            return []
        return [Variable(self, i, name) for i, (name, _, _) in enumerate(self.weight_specs())
                if i < len(self._weights)]

    @property
    def trains(self) -> bool:
        """Whether the optimizer updates this layer's weights."""
        return self.trainable and self.weights_trainable

    @property
    def trainable_weights(self) -> list:
        return self.weights if self.trains else []

    @property
    def non_trainable_weights(self) -> list:
        return [] if self.trains else self.weights

    @property
    def variables(self) -> list:
        return self.weights

    def get_weights(self) -> list:
        self._weights_to_host()
        return [w.copy() for w in self._weights]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"layer {self.name!r} expects {len(self._weights)} weight arrays, got {len(weights)}")
        for i, (dst, src) in enumerate(zip(self._weights, weights)):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(f"layer {self.name!r}, weight {i}: expected shape {dst.shape}, got {src.shape}")
        self._weights_to_host()
        for dst, src in zip(self._weights, weights):
            dst[...] = np.asarray(src, np.float32)
        self._weights_from_host()

    def count_params(self) -> int:
        return int(sum(int(np.prod(s)) for _, s, _ in self.weight_specs()))

    def regularization_loss(self) -> float:
        return 0.0

    def engine_spec(self, offset_of):
        """This layer as the training engine runs it: a list of _core.LayerSpec (empty when it has
        nothing to do there, as Flatten), or None when the engine has no such layer (the model
        then trains on the Python path). offset_of(weight) is the weight's offset in the model's
        flat parameter buffer."""
        return None

    def add_regularization_gradient(self) -> None:
        pass

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable}

    def get_state(self) -> dict:
        """State beyond the weights that training depends on (JSON-able; saved with the model)."""
        return {}

    def set_state(self, state: dict) -> None:
        if state:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) has no state, got {sorted(state)}")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ---------------------------------------------------------------- compute
    def buffer(self, key: str, shape, dtype=np.float32) -> np.ndarray:
        """A workspace array reused across steps of the same batch size."""
        k = (key, shape)
        b = self._buffers.get(k)
        if b is None:
            b = self._buffers[k] = np.empty(shape, dtype)
        return b

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        """Gradients of this layer's weights (into the flat gradient buffer) and, if asked, dx."""
        raise NotImplementedError

    def __call__(self, x, training=False):
        """Eager forward pass on a numpy batch, as Keras: the first call builds the layer (and its
        own weights) from x's shape; later calls need samples of that shape. On a symbolic tensor
        (keras.Input(...) or another layer's symbolic output): the functional API's record of the
        call, a symbolic tensor of this layer's output."""
        if is_symbolic(x):
            return SymbolicTensor(self.sample_output_shape(x.sample_shape), self, x)
        if isinstance(x, (list, tuple)) and x and all(is_symbolic(t) for t in x):
            raise NotImplementedError(f"{self.name}: layers of several inputs (Concatenate, Add, ...) are not "
                                      "supported yet; a functional model is one chain of layers for now")
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: expected a numeric array, got dtype {x.dtype}")
        if x.ndim < 2:
            raise ValueError(f"{self.name}: expected a batch (samples, features...), got shape {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not self.built or (self.weight_specs() and not self._weights):
            self.build(x.shape)
        elif tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.name}: built for samples of shape {self.input_shape}, got {x.shape[1:]}")
        return self.forward(x, training=bool(training)).copy()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
