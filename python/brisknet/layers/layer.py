"""Layer base class. A layer describes itself (config, weight shapes) and runs its forward and
backward pass through the C++ kernels on buffers it keeps per batch size, so the steady-state
training step allocates nothing. In a model, weights are views of the model's one flat parameter
buffer; a layer used on its own (``Dense(4)(x)``, ``layer.build((None, 3))``) owns its weights
until a model takes it in (keeping their values)."""
from __future__ import annotations

import weakref

import numpy as np

from .. import autodiff, mixed_precision
from ..naming import to_snake_case, unique_name
from ..variables import Variable
from . import custom, unknown_dims
from .symbolic import SymbolicTensor, is_symbolic


class Layer:
    """A built-in layer (forward/backward written by hand) or, subclassed with a call() of one's
    own, a custom layer as Keras' guide writes them (layers/custom.py: build, add_weight, call
    traced and differentiated)."""
    weights_trainable = True  # False: the layer's weights are never trained (Normalization's statistics)
    _model = None  # a weak reference to the model whose buffer holds the weights (bind)

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        if cls.call is not Layer.call:  # a custom layer: what it was made with, for get_config
            layer._init_arguments = custom.init_arguments(cls, args, kwargs)
        return layer

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None, **kwargs):
        kwargs.pop("autocast", None)  # (Keras' switch for casting inputs: every layer takes float32 here)
        if "input_dim" in kwargs and input_shape is None:
            input_shape = (kwargs.pop("input_dim"),)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        try:
            self._dtype_policy = mixed_precision.policy_of(dtype)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self.input_shape = None   # without the batch dimension
        self.output_shape = None
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._weights: list = []  # views into the model's flat parameter buffer
        self._grads: list = []
        self._buffers: dict = {}  # batch size -> workspace arrays
        self._own = custom.OwnWeights()  # a custom layer's add_weight variables
        self._last_losses: list = []  # add_loss values of the last call

    @property
    def dtype_policy(self):
        """Keras' DTypePolicy: float32, or mixed_bfloat16 (bf16 products, float32 variables)."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = mixed_precision.policy_of(value)

    @property
    def dtype(self) -> str:
        """The variables' dtype (Keras: the policy's variable_dtype)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype_policy.variable_dtype

    @property
    def _bf16(self) -> bool:
        """Whether this layer's products round their operands to bfloat16 (mixed_bfloat16)."""
        return self._dtype_policy.bf16

    @property
    def _is_custom(self) -> bool:
        """A subclass with a call() of its own (Keras' subclassing API)."""
        return type(self).call is not Layer.call

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: a layer subclass defines call()")

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None):
        """Keras' add_weight: a variable of this layer, created in __init__ or build()."""
        return custom.add_weight(self, shape, initializer, dtype, trainable, regularizer, constraint, name)

    add_variable = add_weight

    def add_loss(self, loss):
        """Keras' add_loss: a scalar summed into the training loss (activity regularization)."""
        custom.add_loss(self, loss)

    @property
    def losses(self) -> list:
        """The add_loss values of the last call and the weights' penalties, sublayers' too."""
        return custom.losses_of(self)

    # ---------------------------------------------------------------- structure
    def build(self, input_shape) -> None:
        """Keras' build: `input_shape` with the batch dimension first, e.g. (None, 4); a layer
        built on its own creates (and initialises) its own weights."""
        if self._is_custom:  # a custom layer's own build() creates its weights; this one has none
            self.built = True
            return
        shape = tuple(input_shape) if input_shape is not None else ()
        if len(shape) < 2 or any(not isinstance(d, (int, np.integer)) or d < 1 for d in shape[1:]):
            raise ValueError(f"{type(self).__name__} {self.name!r}: build expects a shape with the batch "
                             f"dimension first, e.g. (None, 4), got {input_shape!r}")
        self.build_sample(tuple(int(d) for d in shape[1:]))
        self.create_own_weights()

    def build_sample(self, sample_shape) -> None:
        """Shapes from one sample's shape (no batch dimension): what a model calls."""
        if self._is_custom:
            custom.build_from_sample(self, _shape_arg(sample_shape))
            return
        self.input_shape = tuple(sample_shape)
        self.output_shape = self.sample_output_shape(self.input_shape)
        self.built = True

    def sample_output_shape(self, sample_shape):
        """The shape of one output sample, given one input sample's shape."""
        if self._is_custom:
            return custom.sample_output_shape(self, _shape_arg(sample_shape),
                                              type(self).compute_output_shape is not Layer.compute_output_shape)
        return tuple(sample_shape)

    # ---------------------------------------------------------------- masks (layers/masking.py)
    _MASKING = False  # a built-in layer that passes its input's mask on (Keras' supports_masking)

    @property
    def supports_masking(self) -> bool:
        """Keras' supports_masking: whether compute_mask gives the output's mask (else the mask
        stops here); True for a layer with a compute_mask of its own, unless set."""
        own = self.__dict__.get("_supports_masking")
        if own is not None:
            return own
        return type(self)._MASKING or type(self).compute_mask is not Layer.compute_mask

    @supports_masking.setter
    def supports_masking(self, value) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, mask=None):
        """Keras' compute_mask: the output's mask from the inputs and their mask (here: the same)."""
        return mask

    def compute_output_shape(self, input_shape):
        """Keras' form: batch dimension first."""
        shape = tuple(input_shape)
        return shape[:1] + tuple(self.sample_output_shape(shape[1:]))

    def weight_specs(self) -> list:
        """[(name, shape, initializer)] of this layer's weights, in Keras' order."""
        return self._own.specs()

    def create_own_weights(self) -> None:
        """Weights (and gradient buffers) of this layer alone, initialised, for use outside a model."""
        if self._is_custom:  # add_weight made them
            return
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
        if self._is_custom:
            return custom.weights_of(self)
        if not self.built:
            return []
        return [Variable(self, i, name) for i, (name, _, _) in enumerate(self.weight_specs())
                if i < len(self._weights)]

    @property
    def trains(self) -> bool:
        """Whether the optimizer updates this layer's weights."""
        return self.trainable and self.weights_trainable

    def trainable_mask(self) -> list:
        """Per weight, in weight_specs' order: whether the optimizer updates it (BatchNormalization's
        moving statistics never are)."""
        if self._is_custom:
            return [self.trainable and t for t in self._own.trainable]
        return [self.trains] * len(self.weight_specs())

    @property
    def trainable_weights(self) -> list:
        if self._is_custom:
            return custom.weights_of(self, trainable=True)
        return [w for w, t in zip(self.weights, self.trainable_mask()) if t]

    @property
    def non_trainable_weights(self) -> list:
        if self._is_custom:
            return custom.weights_of(self, trainable=False)
        return [w for w, t in zip(self.weights, self.trainable_mask()) if not t]

    def count_trainable_params(self) -> int:
        return int(sum(int(np.prod(s)) for (_, s, _), t in zip(self.weight_specs(), self.trainable_mask()) if t))

    @property
    def variables(self) -> list:
        return self.weights

    def get_weights(self) -> list:
        if self._is_custom:
            return [v.numpy() for v in self.weights]
        return self._own_weight_values()

    def _own_weight_values(self) -> list:
        """Copies of this layer's own weights (not its sublayers'), in weight_specs' order."""
        self._weights_to_host()
        return [w.copy() for w in self._weights]

    def set_weights(self, weights) -> None:
        if self._is_custom:
            return custom.set_weights(self, weights)
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
        """Its weights' sizes, its sublayers' too (a custom layer's)."""
        holders = {id(h): h for h in self._weight_holders()}.values()
        return int(sum(int(np.prod(s)) for h in holders for _, s, _ in h.weight_specs()))

    def weight_regularizers(self) -> list:
        """[(weight index, regularizer)] of the weights with a penalty."""
        return self._own.regularizers()

    def regularization_loss(self) -> float:
        return sum((r(self._weights[i]) for i, r in self.weight_regularizers()), 0.0)

    def weight_constraints(self) -> list:
        """[(weight index, constraint)] of the weights projected after each update."""
        return self._own.constraints()

    def engine_spec(self, offset_of):
        """This layer as the training engine runs it: a list of _core.LayerSpec (empty when it has
        nothing to do there, as Flatten), or None when the engine has no such layer (the model
        then trains on the Python path). offset_of(weight) is the weight's offset in the model's
        flat parameter buffer."""
        return None

    def add_regularization_gradient(self) -> None:
        for i, r in self.weight_regularizers():
            r.add_gradient(self._grads[i], self._weights[i])

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self._dtype_policy.name != "float32":  # (Keras writes it always; float32 is every reader's default)
            config["dtype"] = mixed_precision.serialize(self._dtype_policy)
        if self._is_custom and type(self).get_config is Layer.get_config:
            return custom.auto_config(self, config)
        return config

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
        k = (key, shape, np.dtype(dtype).char)
        b = self._buffers.get(k)
        if b is None:
            b = self._buffers[k] = np.empty(shape, dtype)
        return b

    def forward(self, x: np.ndarray, training: bool, mask=None) -> np.ndarray:
        """The forward pass on a batch (mask: its Keras mask, given to layers that take one)."""
        if self._is_custom:  # its traced call() as one node of a Sequential or graph
            return custom.forward(self, x, training, mask)
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        """Gradients of this layer's weights (into the flat gradient buffer) and, if asked, dx."""
        if self._is_custom:
            return custom.backward(self, dy, need_dx)
        raise NotImplementedError

    def _weight_holders(self) -> list:
        """The layers whose own weights make up this one's, in Keras' order (a custom layer's
        tracked sublayers follow it)."""
        return custom.weight_holders(self) if self._is_custom else [self]

    def __call__(self, x=None, *args, training=None, **kwargs):
        """A layer's call: on traced tensors (inside a model's traced call()), a node of the graph
        (a custom layer's call() traced in line); else the eager or functional call below."""
        if self._is_custom:
            return custom.call(self, x, args, training, kwargs)
        if args or kwargs:
            raise TypeError(f"{self.name}: unexpected arguments to a {type(self).__name__} call")
        if autodiff.is_traced(x) or (isinstance(x, (list, tuple)) and x and autodiff.is_traced(x[0])):
            return custom.record_builtin(self, x, training)
        trace = autodiff.current()
        if trace is not None and x is not None and not is_symbolic(x) and not isinstance(x, (list, tuple)):
            # inside a traced call() on a constant (the positions of a position embedding): still a
            # node of the graph, so that the layer's weights get their gradient
            return custom.record_builtin(self, trace.constant(np.asarray(x)), training)
        return self._eager_or_symbolic_call(x, bool(training))

    def _eager_or_symbolic_call(self, x, training=False):
        """Eager forward pass on a numpy batch (a list of batches for a merge layer), as Keras: the
        first call builds the layer (and its own weights) from x's shape; later calls need samples
        of that shape. On symbolic tensors (keras.Input(...) or other layers' symbolic outputs):
        the functional API's record of the call, a symbolic tensor of this layer's output."""
        several = isinstance(x, (list, tuple))
        if is_symbolic(x) or (several and x and all(is_symbolic(t) for t in x)):
            return self._symbolic_call(tuple(x) if several else (x,), several)
        if several != self.takes_several_inputs:
            raise TypeError(f"{self.name}: expected " + ("a list of arrays" if self.takes_several_inputs
                                                          else "one array, got a list"))
        raw = [np.asarray(a) for a in (x if several else [x])]
        if self.elementwise and all(a.ndim < 2 for a in raw) and len({a.shape for a in raw}) == 1:
            # (as Keras: an element-wise layer takes an array of any rank; run it as one sample)
            rows = [a.reshape(1, -1) for a in raw]
            return self._eager_or_symbolic_call(rows if several else rows[0], training).reshape(raw[0].shape)
        arrays = [self._eager_input(a) for a in raw]
        shapes = [a.shape[1:] for a in arrays]
        shape = shapes if several else shapes[0]
        if not self.built or (self.weight_specs() and not self._weights):
            self.build_sample(shape)
            self.create_own_weights()
        else:
            self._fit_to(shape)
        out = self.forward(arrays if several else arrays[0], training=bool(training))
        return out.copy()

    takes_several_inputs = False  # a merge layer is called on a list of tensors
    elementwise = False  # True: each output element depends on the same element of the input(s) only

    def _eager_input(self, x):
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: expected a numeric array, got dtype {x.dtype}")
        if x.ndim < 2:
            raise ValueError(f"{self.name}: expected a batch (samples, features...), got shape {x.shape}")
        return np.ascontiguousarray(x, dtype=np.float32)

    def _fit_to(self, sample_shape) -> None:
        """The layer's shapes for samples of another shape (as Keras, a layer takes any shape its
        weights fit: a sequence's length, an unknown dimension met at run time)."""
        several = self.takes_several_inputs
        shape = [tuple(s) for s in sample_shape] if several else tuple(sample_shape)
        current = [tuple(s) for s in self.input_shape] if several else tuple(self.input_shape)
        if shape == current:
            return
        before = unknown_dims.weight_shapes(self)
        self.build_sample(shape)
        after = unknown_dims.weight_shapes(self)
        if after != before:
            self.build_sample(current)
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) was built for samples of shape {current}; "
                             f"samples of shape {shape} would need weights of other shapes ({after} for {before})")

    def _symbolic_call(self, inputs, several):
        """The functional API's record of a call: checks the shapes now, naming this layer."""
        if several != self.takes_several_inputs:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) takes " +
                             ("a list of tensors (it merges them)" if self.takes_several_inputs else
                              f"one tensor, got a list of {len(inputs)} (merge them first, e.g. with "
                              "layers.Concatenate())"))
        shapes = [tuple(t.sample_shape) for t in inputs]
        shape = shapes if several else shapes[0]
        called = getattr(self, "_called_on", None)
        if called is None and self.built and self.input_shape is not None:  # (a custom layer keeps none)
            called = list(self.input_shape) if several else tuple(self.input_shape)
        if called is not None and called != shape:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) was called on samples of shape "
                             f"{called}; it cannot be called again on {shape} (a layer called twice shares its "
                             "weights, so its inputs must have the same shape)")
        try:
            if not self.built or (self.weight_specs() and not self._weights):
                unknown_dims.build_for(self, shape)  # as Keras: the first call creates the weights
                self.create_own_weights()
            out = unknown_dims.output_shape(self.sample_output_shape, shape)
        except ValueError as e:
            raise ValueError(str(e) if self.name in str(e) else f"layer {self.name!r} ({type(self).__name__}): {e}") \
                from None
        self._called_on = shape
        result = SymbolicTensor(out, self, inputs)
        shapes = self.__dict__.get("_output_shapes") if self._is_custom else None
        if shapes:  # several outputs (return_state): the first is the call's, each other reads it
            def rule(k):
                return lambda sample: custom.output_shapes(self, sample)[k]
            result = [result] + [SymbolicTensor(unknown_dims.output_shape(rule(k), shape), self, (result,), part=k)
                                 for k in range(1, len(shapes))]
        if "_first_call" not in self.__dict__:  # layer.input / layer.output: of its first symbolic call
            self._first_call = (inputs, result)
        return result

    @property
    def input(self):
        """The symbolic tensor (a list for a merge layer) the layer was first called on."""
        inputs = self._first_symbolic_call("input")[0]
        return list(inputs) if self.takes_several_inputs else inputs[0]

    @property
    def output(self):
        """The symbolic tensor the layer's first call made: sub-models end there, as
        keras.Model(model.inputs, model.get_layer(name).output)."""
        return self._first_symbolic_call("output")[1]

    def _first_symbolic_call(self, what):
        call = self.__dict__.get("_first_call")
        if call is None:
            raise AttributeError(f"layer {self.name!r} has never been called on a symbolic input (keras.Input), so it "
                                 f"has no {what}")
        return call

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _shape_arg(sample_shape):
    """A sample shape as a tuple, or a list of them (a call on several tensors)."""
    return [tuple(s) for s in sample_shape] if isinstance(sample_shape, list) else tuple(sample_shape)


def sublayer_entry(layer) -> dict:
    """A sublayer's entry in its holder's config, in Keras' form."""
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}
