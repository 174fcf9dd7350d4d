"""keras.Model. Called with inputs and outputs it makes a functional model (functional.py); a
subclass with __init__ and call() is Keras' subclassing API: its call() is traced per input shape
and training flag into an op graph (autodiff/), whose forward pass, reverse mode and the layers'
own fused passes make a training step with the same loss, penalties and optimizer update as
every model. The layers assigned to its attributes are tracked in that order (Keras' order of the
weights); their weights are views of one flat buffer, as in a Sequential."""
from __future__ import annotations

import abc
import inspect
import json

import numpy as np

from .. import autodiff, mixed_precision, object_registration
from ..autodiff import Program, Trace, recording
from ..autodiff.size_families import SizeFamilies
from ..layers import BatchNormalization, custom
from ..naming import to_snake_case, unique_name
from . import traced_graph
from .functional import Functional
from .sequential import Sequential


class _Output:
    """What the trainer reads of a model's last layer: one output sample's shape."""

    def __init__(self, shape):
        self.output_shape = tuple(shape)


class Model(Sequential, metaclass=abc.ABCMeta):
    _is_custom = True  # as a custom layer: a call() of its own, its layers and weights in its attributes

    def __new__(cls, *args, **kwargs):
        if cls is Model:  # keras.Model(inputs, outputs)
            return Functional(*args, **kwargs)
        model = super().__new__(cls)
        model._init_arguments = custom.init_arguments(cls, args, kwargs)  # for get_config
        return model

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(f"{type(self).__name__}: a Model subclass built from inputs and outputs "
                                      "(super().__init__(inputs, outputs)) is not supported yet; use "
                                      "keras.Model(inputs, outputs), or define call()")
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        try:  # (Keras: the policy of the ops call() makes; its layers have their own)
            self._dtype_policy = mixed_precision.policy_of(dtype)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        if type(self).call is Model.call:
            raise TypeError(f"{type(self).__name__}: a keras.Model subclass defines call(self, inputs, ...)")
        self._own = custom.OwnWeights()  # (a model's own add_weight is not supported yet: stays empty)
        self._last_losses: list = []
        self._programs: dict = {}
        self._run = None
        self._output_holder = None
        self._layer_graph = None  # (input shape, LayerGraph or None, why not): _engine_graph's answer
        super().__init__(None, trainable=trainable, name=name if name is not None else
                         unique_name(to_snake_case(type(self).__name__)))

    def call(self, *args, **kwargs):
        raise NotImplementedError

    # ------------------------------------------------------------------ structure
    @property
    def dtype_policy(self):
        """Keras' dtype policy of the ops call() makes (its layers have their own): the dtype
        argument, else the global policy when the model was made."""
        return getattr(self, "_dtype_policy", None) or mixed_precision.global_policy()

    @property
    def layers(self) -> list:
        """The layers (and models) assigned to this model's attributes, in that order."""
        return custom.tracked_layers(self)

    def _children(self) -> list:
        return custom.tracked_layers(self)

    def add(self, layer) -> None:
        raise TypeError(f"{type(self).__name__}.add: a subclassed model's layers are its attributes")

    def pop(self):
        raise TypeError(f"{type(self).__name__}.pop: a subclassed model's layers are its attributes")

    def _weight_holders(self) -> list:
        holders, seen = [], set()
        for layer in custom.tracked_layers(self):
            for h in layer._weight_holders():
                if id(h) not in seen:
                    seen.add(id(h))
                    holders.append(h)
        return holders

    def add_loss(self, loss):
        custom.add_loss(self, loss)

    @property
    def losses(self) -> list:
        """The add_loss values of the last call (inside a trace: of this one, traced), then the
        weights' penalties."""
        trace = autodiff.current()
        added = [t for _, t in trace.added_losses] if trace is not None else list(self._last_losses)
        return added + [np.asarray(r(layer._weights[i]), np.float32) for layer in self._layers
                        for i, r in layer.weight_regularizers()]

    # ------------------------------------------------------------------ tracing and building
    def build(self, input_shape=None, _restore_rng=False) -> None:
        """Keras' build: call() traced once on a placeholder batch of this shape (batch first),
        which builds the layers; then their weights are laid out in one flat buffer."""
        if input_shape is not None:
            shape = tuple(input_shape)[1:]
            if not shape or any(d is None or isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                                for d in shape):
                raise ValueError(f"build: input_shape must be (batch, sizes...) with known sizes, got {input_shape!r}")
            self._input_shape = tuple(int(d) for d in shape)
        if self._input_shape is None:
            raise ValueError("the model has no input shape yet: call model.build((None, features)), call it on "
                             "data, or call fit/predict")
        for training in (True, False):  # both: a layer called in one branch alone is built too
            self._program((1,) + tuple(self._input_shape), np.dtype(np.float32), training)
        if not self.built:
            self._lay_out_weights()

    def _lay_out_weights(self) -> None:
        self._layer_graph = None
        holders = self._weight_holders()
        old = {id(h): h._own_weight_values() for h in holders if h.built and h._weights}
        self._layers = holders
        self._allocate_weights(old)
        self.built = True
        if self.optimizer is not None:
            self.optimizer.build(self._params.size)
        self._configure_fusion()

    def _program(self, shape, dtype, training, targets=None) -> Program:
        """call() traced for a batch of this shape and dtype (once per signature and flag). With
        targets ((y's shape, dtype), the sample weights' shape or None), the class's own
        compute_loss is traced after it: its value is the program's first output, then y_pred."""
        key = (tuple(shape), np.dtype(dtype).str, bool(training), targets)
        program = self._programs.get(key)
        if program is not None:
            return program
        # (inference programs may serve other sizes: size_families.py)
        families = self.__dict__.setdefault("_size_families", SizeFamilies()) if not training and targets is None \
            else None
        family_key = (key[1], len(shape))
        program = families.serving(family_key, [tuple(shape)]) if families is not None else None
        if program is not None:
            self._programs[key] = program
            return program
        trace = Trace(training)
        with recording(trace), autodiff.in_layer(trace, self):
            x = trace.input(np.zeros(shape, dtype))
            kwargs = {"training": bool(training)} if custom._accepts(self, "training") else {}
            with mixed_precision.computing(self.dtype_policy):
                out = self.call(x, **kwargs)
            if isinstance(out, (list, tuple, dict)):
                raise NotImplementedError(f"model {self.name!r}: call() returned {type(out).__name__}; a subclassed "
                                          "model of several outputs is not supported yet")
            if not autodiff.is_traced(out) or out.shape[:1] != tuple(shape[:1]):
                raise ValueError(f"model {self.name!r}: call() must return a tensor computed from its input with "
                                 f"the batch dimension first, got {out!r}")
            outputs = [out]
            if targets is not None:
                outputs.insert(0, self._traced_loss(trace, x, out, targets, training))
            elif autodiff.is_traced(getattr(out, "_keras_mask", None)):
                outputs.append(out._keras_mask)  # (the output's Keras mask: the loss skips those positions)
        program = Program(trace, outputs)
        self._programs[key] = program
        if families is not None:
            families.record(family_key, program, [tuple(shape)])
        self._output_holder = _Output(out.shape[1:])
        if self.built and {id(h) for h in self._weight_holders()} != {id(h) for h in self._layers}:
            self._lay_out_weights()  # a layer first called in this trace (a training-only branch)
        return program

    def _traced_loss(self, trace, x, y_pred, targets, training):
        (y_shape, y_dtype), sw_shape = targets
        y = trace.input(np.zeros(y_shape, y_dtype))
        sw = trace.input(np.zeros(sw_shape, np.float32)) if sw_shape is not None else None
        kwargs = {"training": bool(training)} if "training" in inspect.signature(self.compute_loss).parameters else {}
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, **kwargs)
        if not autodiff.is_traced(loss) or loss.shape != () or not loss.differentiable:
            raise ValueError(f"model {self.name!r}: compute_loss() must return a float scalar computed with "
                             f"keras.ops from y_pred, got {loss!r}")
        return loss

    def _check_sample_shape(self, x, what):
        """Any shape: call() is traced once per input shape (its layers' weights must fit it)."""
        self._fit_to_samples(x.shape[1:])

    def _fit_to_samples(self, sample_shape) -> None:
        shape = tuple(sample_shape)
        if shape == tuple(self._input_shape):
            return
        program = self._program((1,) + shape, np.dtype(np.float32), False)
        if program.base_shapes[0] != (1,) + shape and self._engine_graph()[0] is None:
            # a program that serves this size (size_families.py: a generation loop's growing
            # prompt) on the Python path: no training trace for it either (the engine, which needs
            # both, does not run this model)
            self._input_shape = shape
            self._output_holder = _Output(program.output_shapes([(1,) + shape])[-1][1:])
            return
        program = self._program((1,) + shape, np.dtype(np.float32), True)
        program.fit_layers()  # (a program traced before: its layers as it calls them)
        self._input_shape = shape
        self._output_holder = _Output(program.outputs[-1].shape[1:])

    def _engine_graph(self):
        """(LayerGraph, None) when call() is calls of built-in layers alone, the same in training
        and in inference, so that the engine runs it as a functional model; else (None, why not)."""
        if not self.built or self._input_shape is None:
            return None, "a subclassed model not built yet"
        shape = tuple(self._input_shape)
        if self._layer_graph is None or self._layer_graph[0] != shape:
            graphs = []
            for training in (True, False):
                program = self._programs.get(((1,) + shape, np.dtype(np.float32).str, training, None))
                graphs.append(traced_graph.layer_graph(program) if program is not None else
                              (None, "a subclassed model not traced yet"))
            (graph, reason), (other, other_reason) = graphs
            if graph is not None and (other is None or other.structure() != graph.structure()):
                graph, reason = None, other_reason or "a call() whose layers differ in training and inference"
            holders = {id(h) for h in self._layers}
            if graph is not None and any(n.layer._weights and id(n.layer) not in holders for n in graph.nodes):
                graph, reason = None, "a layer with weights that is not an attribute of the model"
            self._layer_graph = (shape, graph, reason)
        return self._layer_graph[1:]

    # ------------------------------------------------------------------ compute_loss and metrics
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' default: the compiled loss of (y, y_pred) plus the model's losses. A subclass may
        define its own with keras.ops (traced after call(), and differentiated with it)."""
        if autodiff.is_traced(y_pred):
            raise NotImplementedError(f"model {self.name!r}: super().compute_loss() inside a compute_loss of your "
                                      "own is not supported yet; write the whole loss with keras.ops")
        per_sample, _ = self._batch_loss(np.asarray(y), np.asarray(y_pred, np.float32), sample_weight, False)
        return np.float32(float(np.mean(per_sample)) + self._regularization_loss())

    @property
    def _computes_own_loss(self) -> bool:
        return type(self).compute_loss is not Model.compute_loss

    @property
    def metrics(self) -> list:
        """The compiled metrics (once fit or evaluate has built them); a subclass may list its own
        (metrics it updates in compute_loss), reported in the logs and reset every epoch."""
        return list(self._metrics or [])

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _reset_own_metrics(self):
        if type(self).metrics is not Model.metrics:
            self.reset_metrics()

    def _logs(self, tracker, metrics, prefix=""):
        logs = super()._logs(tracker, metrics, prefix)
        if type(self).metrics is not Model.metrics:
            logs.update({prefix + m.name: float(m.result()) for m in self.metrics})
        return logs

    def _train_step(self, x, y, sw, dist=None):
        if not self._computes_own_loss:
            return super()._train_step(x, y, sw, dist)
        if dist is not None:
            raise NotImplementedError(f"model {self.name!r}: data-parallel training with a compute_loss of its own is "
                                      "not supported yet")
        loss, pred = self._loss_forward(x, y, sw, True)
        self._grads.fill(0)  # d(loss) alone: compute_loss decides whether the added losses count
        self._add_variable_grads(self._run.backward([np.ones((), loss.dtype), None],
                                                    loss_grads=[0.0] * len(self._run.losses)))
        self._update()
        return float(loss), pred

    def _test_step(self, x, y, sw):
        if not self._computes_own_loss:
            return super()._test_step(x, y, sw)
        loss, pred = self._loss_forward(x, y, sw, False)
        return float(loss), pred

    def _test_outputs(self, x, y, sw):
        if self._computes_own_loss:
            raise NotImplementedError(f"model {self.name!r}: data-parallel evaluation with a compute_loss of its own "
                                      "is not supported yet")
        return super()._test_outputs(x, y, sw)

    def _loss_forward(self, x, y, sw, training):
        targets = ((tuple(y.shape), np.dtype(y.dtype).str), tuple(sw.shape) if sw is not None else None)
        program = self._program(x.shape, x.dtype, training, targets)
        (loss, pred), losses = program.forward([x, y] + ([sw] if sw is not None else []), training)
        self._keep_run(program, losses)
        return loss, np.ascontiguousarray(pred, np.float32)

    # ------------------------------------------------------------------ the step's phases
    def _forward(self, x, training):
        program = self._program(x.shape, x.dtype, training)
        outs, losses = program.forward([x], training)
        self._keep_run(program, losses)
        self._output_mask = np.asarray(outs[1], bool) if len(outs) > 1 else None
        return np.ascontiguousarray(outs[0], np.float32)

    def _keep_run(self, program, losses):
        """The program that ran (backward follows it) and the add_loss values it gave."""
        self._run = program
        self._last_losses = losses
        for layer in self._layers:
            layer._last_losses = []
        for (layer, _), value in zip(program.losses, losses):
            if layer is not self:
                layer._last_losses.append(value)

    def _backward(self, dpred):
        self._grads.fill(0)
        self._add_variable_grads(self._run.backward([dpred]))

    def _add_variable_grads(self, grads):
        """The gradients of the variables ops read, into their layers' gradient buffers (the
        built-in layers' nodes wrote theirs)."""
        for _, var in self._run.variables:
            g = grads.get(id(var))
            if g is not None:
                var._layer._grads[var._index] += g

    def _regularization_loss(self):
        penalty = sum(layer.regularization_loss() for layer in self._layers)
        return penalty + sum(float(np.sum(v)) for v in self._last_losses)

    def _symbolic_call(self, x):
        raise NotImplementedError(f"model {self.name!r}: a subclassed model called on keras.Input tensors (a layer of a "
                                  "functional model) is not supported yet; call it inside another subclassed model's "
                                  "call(), or build the functional model from its layers")

    def _traced_call(self, x, training):
        """Called inside another model's or layer's traced call(): its own call() in line."""
        trace = x.trace
        with autodiff.in_layer(trace, self):
            kwargs = {}
            if custom._accepts(self, "training"):
                kwargs["training"] = trace.training if training is None else bool(training)
            with mixed_precision.computing(self.dtype_policy):
                return self.call(x, **kwargs)

    @property
    def _output_layer(self):
        """The last layer when it is a built-in layer that the engine runs (the loss may fuse with
        its softmax), else what the trainer reads of the output."""
        graph = self._engine_graph()[0]
        if graph is None or getattr(graph.nodes[-1].layer, "lowered", False):
            return self._output_holder
        return graph.nodes[-1].layer

    def _run_order(self) -> list:
        graph = self._engine_graph()[0]
        return [n.layer for n in graph.nodes] if graph is not None else list(self._layers)

    def _shared_layers(self) -> set:
        graph = self._engine_graph()[0]
        return set(graph.shared_layers) if graph is not None else set()

    @property
    def _output_sample_shape(self) -> tuple:
        return self._output_holder.output_shape

    def _check_data_parallel(self):
        """A traced call() the engine runs as a chain trains data-parallel as a Sequential does; one
        the Python path runs does too, unless a process's part of a batch would not give its part
        of the step (random draws, add_loss, state updates: each process's own)."""
        if self._engine_graph()[0] is not None:
            return super()._check_data_parallel()
        program = self._program((1,) + tuple(self._input_shape), np.dtype(np.float32), True)
        what = "add_loss" if program.losses else "a state update (assign)" if program.assigns else \
            "a random draw" if any(getattr(node.op, "name", None) == "random" for node in program.nodes) else \
            "BatchNormalization" if any(isinstance(layer, BatchNormalization) for layer in program.layers) else None
        if what is not None:
            raise NotImplementedError(f"data-parallel training of model {self.name!r}: its call() has {what}, which "
                                      "would be each process's own; not supported yet")

    def _runs_as_chain(self) -> bool:
        """Whether the engine runs the traced call() as a chain of layers (what data-parallel
        training takes, as for a Sequential)."""
        graph = self._engine_graph()[0]
        return graph is not None and not graph.shared_layers and graph.outputs == [len(graph.nodes)] and \
            all(node.inputs == [k] for k, node in enumerate(graph.nodes))

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> list:
        self._weights_to_host()
        return custom.weights_of(self)

    @property
    def trainable_weights(self) -> list:
        return custom.weights_of(self, trainable=True)

    @property
    def non_trainable_weights(self) -> list:
        return custom.weights_of(self, trainable=False)

    def get_weights(self) -> list:
        self._require_built("get_weights")
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        self._require_built("set_weights")
        custom.set_weights(self, weights)

    # ------------------------------------------------------------------ summary, config
    def _summary_rows(self) -> list:
        rows = []
        for layer in self.layers:
            shape = "?"
            if isinstance(layer, Sequential) and layer.built:
                shape = str(layer.output_shape)
            elif layer.built and not layer._is_custom:
                shape = str((None,) + tuple(layer.output_shape))
            params = sum(int(np.prod(v.shape)) for v in layer.weights)
            rows.append((layer.name, type(layer).__name__, shape, f"{params:,}", None))
        return rows

    def summary(self, line_length=None, print_fn=None, batch_size=32) -> None:
        """Keras' table of the tracked layers and the parameter counts."""
        print_fn = print_fn or print
        width = line_length or 78
        lines = [f'Model: "{self.name}"', "-" * width, f"{'Layer (type)':<40}{'Output Shape':<24}{'Param #':>12}",
                 "=" * width]
        for name, kind, shape, params, _ in self._summary_rows():
            lines.append(f"{name + ' (' + kind + ')':<40}{shape:<24}{params:>12}")
        lines.append("=" * width)
        total = self._params.size if self.built else 0
        trainable = sum(int(np.prod(v.shape)) for v in self.trainable_weights) if self.built else 0
        lines += [f" Total params: {total:,}", f" Trainable params: {trainable:,}",
                  f" Non-trainable params: {total - trainable:,}"]
        print_fn("\n".join(lines))

    def get_config(self) -> dict:
        """The arguments the model was made with (Keras' auto-config), unless the class defines
        get_config."""
        return custom.auto_config(self, {"name": self.name, "trainable": self.trainable})

    def to_json(self, **kwargs) -> str:
        """The class (by registered name), get_config() and input shape, as JSON: what
        models.model_from_json and .brisk files read back (for a registered class)."""
        return json.dumps(object_registration.file_entry(self, self._input_shape), **kwargs)

    @classmethod
    def from_config(cls, config, _source="config", custom_objects=None):
        """keras.Model.from_config: a functional config makes a functional model (its layers may be
        the user's classes given in custom_objects, or registered); a subclass is made from its
        config's arguments, as Keras does."""
        if cls is Model:
            with object_registration.custom_object_scope(custom_objects or {}):
                return Functional.from_config(config, _source)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


Model.register(Functional)  # isinstance(keras.Model(inputs, outputs), keras.Model), as in Keras
