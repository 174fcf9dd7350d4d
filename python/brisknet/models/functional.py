"""keras.Model(inputs, outputs): the functional API. The layer calls recorded on keras.Input
tensors form a graph (graph.py): merge layers, fan-out (residual connections) and shared layers
(one layer called twice shares its weights). The engine trains a graph of one input and one
output without shared layers (a chain exactly as the Sequential of it, bit for bit); other graphs
train on the Python reference path for now. Several inputs and outputs (lists, or dicts by name)
are packed for the trainer (functional_io.py)."""
from __future__ import annotations

import json
import math

import numpy as np

from .. import functional_config, losses, metrics as metrics_module
from ..layers import text_input, unknown_dims
from ..layers.operation import OperationLayer
from ..naming import unique_name
from . import functional_io
from .graph import Graph
from .sequential import Sequential


def _structure(value):
    """(the tensors as a list, their dict keys or None, whether given as a list or dict)."""
    if isinstance(value, dict):
        return list(value.values()), list(value), True
    if isinstance(value, (list, tuple)):
        return list(value), None, True
    return [value], None, False


class Functional(Sequential):
    """keras.Model(inputs, outputs, name=None): a model from a graph of layer calls on keras.Input
    (keras.Model(...) makes one; models/model.py has the subclassing API)."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, device=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        if inputs is None or outputs is None:
            raise ValueError("Model: give both inputs and outputs (keras.Model(inputs, outputs)), or subclass "
                             "keras.Model with a call() of your own")
        ins, in_keys, inputs_as_list = _structure(inputs)
        outs, out_keys, outputs_as_list = _structure(outputs)
        names = [t.name for t in ins]
        # a string input: its text layer stays in front of the graph, which starts from the
        # numbers it makes (layers/text_input.py)
        text_layers = {}
        for k, t in enumerate(ins):
            if getattr(t, "dtype", None) == "string":
                if not getattr(t, "text_uses", None):
                    raise ValueError(f"Model: the string input {t.name!r} must go through a text layer "
                                     "(TextVectorization, StringLookup) first")
                ins[k] = t.text_uses[0]
                text_layers[k] = ins[k].text_source[1]
        graph = Graph(ins, outs)
        super().__init__(None, name=name if name is not None else unique_name("functional"), device=device)
        self._graph = graph
        # how they were given (Keras' config and predict follow it) and their names (dict keys, else
        # the input layers' and the output layers' names)
        self._inputs_as_list, self._outputs_as_list = inputs_as_list, outputs_as_list
        self._inputs_as_dict, self._outputs_as_dict = in_keys is not None, out_keys is not None
        self.inputs, self.outputs = list(graph.inputs), outs
        self.input_names = in_keys or names
        self._text_layers = text_layers
        self.output_names = out_keys or [t.layer.name for t in outs]
        if len(set(self.output_names)) != len(self.output_names):
            raise ValueError(f"Model: outputs must have different names, got {self.output_names}")
        self._entries = list(graph.layers)
        self._steps = list(graph.layers)
        self._layers = self._holders()
        # the inputs' shapes as declared, and as the layers are fitted to now (several inputs with
        # unknown sizes: stand-ins until a batch says, _fit_inputs)
        self._declared_in_shapes = [tuple(t.sample_shape) for t in ins]
        self._in_shapes = [unknown_dims.filled(s, unknown_dims.STAND_INS[0]) if len(ins) > 1 else s
                           for s in self._declared_in_shapes]
        # the outputs' shapes as declared (None where the input leaves a size to run time) and as
        # this run's input sizes make them (_out_shapes: set by build and _fit_to_samples)
        self._declared_out_shapes = [tuple(t.sample_shape) for t in outs]
        self._out_shapes = self._declared_out_shapes
        # several inputs: the trainer sees them packed side by side (functional_io)
        self._input_shape = self._in_shapes[0] if len(ins) == 1 else (sum(math.prod(s) for s in self._in_shapes),)
        if not trainable:
            self.trainable = False
        self.build()

    @property
    def _several_inputs(self) -> bool:
        return len(self.inputs) > 1

    @property
    def _several_outputs(self) -> bool:
        return len(self.outputs) > 1

    @property
    def input_shape(self):
        shapes = [(None, 1) if k in self._text_layers else (None,) + s
                  for k, s in enumerate(self._declared_in_shapes)]
        if self._inputs_as_dict:
            return dict(zip(self.input_names, shapes))
        return shapes if self._inputs_as_list else shapes[0]

    @property
    def output_shape(self):
        shapes = [(None,) + s for s in self._declared_out_shapes]
        if self._outputs_as_dict:
            return dict(zip(self.output_names, shapes))
        return shapes if self._outputs_as_list else shapes[0]

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        raise TypeError("Model.add: a functional model's layers are fixed by its inputs and outputs "
                        "(use keras.Sequential to add layers)")

    def pop(self):
        raise TypeError("Model.pop: a functional model's layers are fixed by its inputs and outputs")

    def build(self, input_shape=None, _restore_rng=False) -> None:
        if input_shape is not None and not unknown_dims.matches(self._input_shape, tuple(input_shape)[1:]):
            raise ValueError(f"build: this model's input has samples of shape {self._input_shape}, got "
                             f"{tuple(input_shape)[1:]}")
        super().build(None, _restore_rng)
        self._graph.bind_nodes()
        self._resolve_output_shapes()

    def _build_layers(self) -> None:
        self._graph.build_layers([unknown_dims.filled(s, unknown_dims.STAND_INS[0]) for s in self._in_shapes])

    def _fit_to_samples(self, sample_shape) -> None:
        if unknown_dims.has_unknown(self._input_shape):
            self._graph.fit_layers([sample_shape])
            self._resolve_output_shapes()

    def _resolve_output_shapes(self) -> None:
        """Several outputs whose sizes follow the input's: their shapes for the input sizes the
        layers are fitted to now (the packed outputs' columns and the losses' follow)."""
        if not self._several_outputs or not unknown_dims.has_unknown(self._declared_out_shapes):
            return
        shapes = self._graph.sample_shapes()
        self._out_shapes = [tuple(shapes[i]) for i in self._graph.outputs]
        if isinstance(self.loss, functional_io.MultiOutputLoss):
            self.loss.set_shapes(self._out_shapes)

    @property
    def layers(self) -> list:
        """As Keras: the layers and InputLayers by depth (the longest way to an output first)."""
        out = []
        for op in self._graph.operations:
            if isinstance(op, OperationLayer):  # (an op node is not a layer in Keras)
                continue
            out += list(op.text_source) if hasattr(op, "text_source") else [op]  # (a string input, its text layer)
        return out

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[l.name for l in self.layers]}")

    def _summary_rows(self) -> list:
        g = self._graph
        rows = []
        for layer in g.operations:
            if layer in self.inputs:
                rows.append((layer.name, "InputLayer", str((None,) + tuple(layer.sample_shape)), "0", ["-"]))
                continue
            inbound = [g.tensor_label(i) for node in g.calls_of(layer) for i in node.inputs]
            shape = next(node.sample_shape for node in g.nodes if node.layer is layer)
            rows.append((layer.name, type(layer).__name__, str((None,) + shape),
                         f"{layer.count_params():,}", inbound))
        return rows

    @property
    def _output_layer(self):
        return self._graph.nodes[-1].layer

    @property
    def _output_sample_shape(self) -> tuple:
        if self._several_outputs:
            return (sum(math.prod(s) for s in self._out_shapes),)
        return self._graph.sample_shapes()[self._graph.outputs[0]]  # (for the sizes of this run)

    def _run_order(self) -> list:
        return [node.layer for node in self._graph.nodes]

    def _runs_as_chain(self) -> bool:
        return self._graph.is_chain()

    def _engine_graph(self):
        return self._graph, None

    def _shared_layers(self) -> set:
        return set(self._graph.shared_layers)

    def _traced_call(self, x, training):
        """Inside another model's traced call(): the graph's layer calls on traced tensors."""
        if self._several_inputs or self._several_outputs:
            raise NotImplementedError(f"model {self.name!r}: a functional model of several inputs or outputs "
                                      "called inside a traced call()")
        values = self._replay([x], lambda node, args: _call_again(node.layer, args, training=training))
        return values[self._graph.outputs[0]]

    def _replay(self, values, call) -> list:
        """Every tensor's value: the graph's calls made again by call(node, its arguments) (a
        call of several outputs: its parts' nodes take theirs)."""
        calls = {}
        for node in self._graph.nodes:
            if node.part:
                values.append(calls[node.inputs[0]][node.part])
                continue
            out = call(node, self._graph.args_of(node, values))
            if isinstance(out, list) and self._graph._several(node):
                calls[len(values)], out = out, out[0]
            values.append(out)
        return values

    def _symbolic_call(self, x):
        """Called on keras.Input tensors: the graph's layer calls replayed on them (its layers
        shared with this model)."""
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != self._graph.n_inputs:
            raise ValueError(f"model {self.name!r} takes {self._graph.n_inputs} inputs, called on {len(xs)}")
        values = self._replay(list(xs), lambda node, args: _call_again(node.layer, args))
        outs = [values[i] for i in self._graph.outputs]
        return outs if self._several_outputs else outs[0]

    def _forward(self, x, training):
        xs = self._unpacked_inputs(x) if self._several_inputs else [x]
        outs = self._graph.forward(xs, training)
        self._output_mask = None if self._several_outputs else self._graph.output_masks[0]
        return functional_io.Outputs(outs) if self._several_outputs else outs[0]

    def _unpacked_inputs(self, x) -> list:
        """A packed batch of several inputs, as arrays (unknown sizes: read from its first columns)."""
        if not unknown_dims.has_unknown(self._declared_in_shapes):
            return functional_io.unpack(x, self._in_shapes)
        sizes = iter(int(v) for v in x[0, :sum(d is None for s in self._declared_in_shapes for d in s)])
        shapes = [tuple(next(sizes) if d is None else d for d in s) for s in self._declared_in_shapes]
        self._fit_input_shapes(shapes)
        return functional_io.unpack(x[:, x.shape[1] - self._input_shape[0]:], shapes)

    def _backward(self, dpred):
        if isinstance(dpred, functional_io.Outputs):
            return self._graph.backward(dpred.parts)
        self._graph.backward(functional_io.unpack(dpred, self._out_shapes) if self._several_outputs else [dpred])

    # ------------------------------------------------------------------ several inputs and outputs
    def _vectorized(self, x):
        """Texts given for the string inputs, through their text layers (numbers pass as they are)."""
        if not self._text_layers:
            return x
        if not self._several_inputs:
            return text_input.vectorized(self._text_layers[0], x) if text_input.is_strings(x) else x
        parts = functional_io.by_name(x, self.input_names, "x")
        for k, layer in self._text_layers.items():
            if text_input.is_strings(parts[k]):
                parts[k] = text_input.vectorized(layer, parts[k])
        return parts

    def _prepare_x(self, x, what="x"):
        x = self._vectorized(x)
        if not self._several_inputs:
            return super()._prepare_x(x, what)
        if unknown_dims.has_unknown(self._declared_in_shapes):
            self._fit_inputs(x, what)
        packed = functional_io.pack_inputs(x, self.input_names, self._in_shapes, what)
        if unknown_dims.has_unknown(self._declared_in_shapes):
            # each row starts with the unknown sizes, so that any batch of it (a validation set of
            # other lengths too) says how it unpacks
            sizes = [a for s, d in zip(self._in_shapes, self._declared_in_shapes) for a, b in zip(s, d) if b is None]
            packed = np.concatenate([np.tile(np.float32(sizes), (packed.shape[0], 1)), packed], axis=1)
        if not np.isfinite(packed).all():
            raise ValueError(f"{what} contains NaN or Inf")
        return packed

    def _fit_inputs(self, x, what) -> None:
        """Several inputs with sizes known only at run time: the layers fitted to these arrays'."""
        shapes = [tuple(np.shape(a)[1:]) for a in functional_io.by_name(x, self.input_names, what)]
        for name, declared, shape in zip(self.input_names, self._declared_in_shapes, shapes):
            if not unknown_dims.matches(declared, shape):
                raise ValueError(f"{what}[{name!r}] has samples of shape {shape}, but the model's input {name!r} "
                                 f"expects {declared}")
        self._fit_input_shapes(shapes)

    def _fit_input_shapes(self, shapes) -> None:
        if shapes != self._in_shapes:
            self._in_shapes = shapes
            self._input_shape = (sum(math.prod(s) for s in shapes),)
            self._graph.fit_layers(shapes)
            self._resolve_output_shapes()

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, what=""):
        if not self._several_outputs:
            return super()._prepare_xy(x, y, sample_weight, class_weight, what)
        x = self._prepare_x(x, what + "x")
        if y is None:
            raise ValueError(f"{what}y is required")
        if class_weight is not None:
            raise ValueError("class_weight is not supported for models with several outputs (as in Keras)")
        y = self.loss.prepare_targets(y, None)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{what}x and {what}y have different numbers of samples: {x.shape[0]} and {y.shape[0]}")
        return x, y, self._sample_weights(sample_weight, None, y, x.shape[0])

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, loss_weights=None,
                **kwargs):
        """As Keras: with several outputs, `loss` is one loss for all, a list, or a dict by output
        name; `loss_weights` and `metrics` likewise (metrics: per output, a metric or a list)."""
        if not self._several_outputs:
            # (Keras takes one output's loss and metrics as a list of one or a dict by its name too)
            loss = functional_io.by_name(loss, self.output_names, "compile: loss")[0] \
                if isinstance(loss, (list, tuple, dict)) else loss
            if isinstance(metrics, dict):
                metrics = functional_io.by_name(metrics, self.output_names, "compile: metrics", None)[0]
            if loss_weights is not None:
                w = loss_weights if not isinstance(loss_weights, dict) else list(loss_weights.values())
                if np.ravel(np.asarray(w, np.float64)).tolist() != [1.0]:
                    raise NotImplementedError("compile: loss_weights other than 1 for a model of one output")
            return super().compile(optimizer, loss, metrics, weighted_metrics, **kwargs)
        super().compile(optimizer, None, None, None, **kwargs)
        names = self.output_names
        # (as Keras: an output a dict leaves out has no loss, weight 1, no metrics)
        per = functional_io.by_name(loss, names, "compile: loss", None) if isinstance(loss, (list, tuple, dict)) \
            else [loss] * len(names)
        weights = [1.0] * len(names) if loss_weights is None else \
            [float(w) for w in functional_io.by_name(loss_weights, names, "compile: loss_weights", 1.0)]
        made = [losses.get(l) if l is not None else None for l in per]
        if all(l is None for l in made):
            self.loss = None
        else:
            self.loss = functional_io.MultiOutputLoss(made, weights, names, self._out_shapes)
        self._output_metric_ids = [self._per_output_metrics(metrics, "metrics"),
                                   self._per_output_metrics(weighted_metrics, "weighted_metrics")]
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics}
        for k, ids in enumerate(self._output_metric_ids[0] + self._output_metric_ids[1]):
            for m in ids:  # unknown names fail now, as Keras
                metrics_module.get(m, made[k % len(names)])
        self._configure_fusion()

    def _per_output_metrics(self, metrics, what):
        if metrics is None:
            return [[] for _ in self.output_names]
        per = functional_io.by_name(metrics, self.output_names, f"compile: {what}", None) if \
            isinstance(metrics, (list, tuple, dict)) else None
        if per is None:
            raise ValueError(f"compile: with several outputs, {what} must be a list with one entry per output "
                             f"or a dict by output name ({self.output_names})")
        return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m]) for m in per]

    def _build_metrics(self, y):
        if not self._several_outputs:
            return super()._build_metrics(y)
        if self._metrics is None:
            loss = self.loss
            with_loss = [k for k in range(len(self.output_names)) if loss is not None and loss.losses[k] is not None]
            # (as Keras: each output's own loss is reported when there are several)
            self._metrics = [functional_io.OutputLoss(loss, k) for k in with_loss] if len(with_loss) > 1 else []
            for weighted, ids_per_output in zip((False, True), self._output_metric_ids):
                for k, ids in enumerate(ids_per_output):
                    for ident in ids:
                        units = self._out_shapes[k][-1]  # (several positions: rows of these)
                        m = metrics_module.get(ident, loss.losses[k] if loss else None, units,
                                               sparse_targets=bool(loss and loss._sparse[k]))
                        m.weighted = weighted
                        wrapped = functional_io.OutputMetric(m, loss, k)
                        if weighted and any(o.name == wrapped.name for o in self._metrics):
                            wrapped.name = f"{self.output_names[k]}_weighted_{m.name}"
                        self._metrics.append(wrapped)
        return self._metrics

    def _compile_config(self) -> dict:
        if not self._several_outputs:
            return super()._compile_config()
        from ..serialization import serialize

        def ser(v):
            if isinstance(v, dict):
                return {k: ser(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [ser(x) for x in v]
            return v if v is None or isinstance(v, (str, int, float)) else serialize(v)
        return {"optimizer": serialize(self.optimizer), **{k: ser(v) for k, v in self._compile_args.items()}}

    def _compile_from_config(self, config, source="config"):
        if not self._several_outputs:
            return super()._compile_from_config(config, source)
        from .. import optimizers
        from ..serialization import classes_of, deserialize
        if not isinstance(config, dict):
            raise ValueError(f"{source}: the compile entry must be an object")
        optimizer = deserialize(config.get("optimizer"), classes_of(vars(optimizers), optimizers.Optimizer),
                                "optimizer")
        loss_classes = classes_of(vars(losses), losses.Loss)
        metric_classes = classes_of(vars(metrics_module), metrics_module.Metric)

        def des(v, classes, kind):
            if isinstance(v, dict) and "class_name" not in v:
                return {k: des(x, classes, kind) for k, x in v.items()}
            if isinstance(v, list):
                return [des(x, classes, kind) for x in v]
            return deserialize(v, classes, kind) if isinstance(v, dict) else v
        self.compile(optimizer=optimizer, loss=des(config.get("loss"), loss_classes, "loss"),
                     loss_weights=config.get("loss_weights"),
                     metrics=des(config.get("metrics"), metric_classes, "metric"),
                     weighted_metrics=des(config.get("weighted_metrics"), metric_classes, "metric"))

    def _structured(self, packed):
        """A packed batch of outputs as Keras returns them: a list, or a dict by output name."""
        outs = packed.parts if isinstance(packed, functional_io.Outputs) else functional_io.unpack(packed,
                                                                                                   self._out_shapes)
        return dict(zip(self.output_names, outs)) if self._outputs_as_dict else outs

    def predict(self, x, *args, **kwargs):
        out = super().predict(x, *args, **kwargs)
        return self._structured(out) if self._several_outputs else out

    def _eager_call(self, x, training=False):
        out = super()._eager_call(x, training)
        return self._structured(out) if self._several_outputs else out

    def predict_on_batch(self, x):
        out = super().predict_on_batch(x)
        return self._structured(out) if self._several_outputs else out

    # ------------------------------------------------------------------ configs
    def get_config(self) -> dict:
        """Keras 3's functional config: the layers with the calls they make (inbound_nodes), and
        the input and output tensors."""
        return functional_config.to_config(self, lambda layer: {"class_name": type(layer).__name__,
                                                                 "config": layer.get_config()})

    @classmethod
    def from_config(cls, config, _source="config") -> "Functional":
        """The model a get_config() describes, with fresh weights (brisknet's global generator left
        as it was)."""
        from .. import layers as layers_module, runtime
        from ..serialization import classes_of, deserialize
        known = classes_of(vars(layers_module), layers_module.Layer)

        def layer_from(entry):
            try:
                return deserialize({"class_name": entry["class_name"], "config": entry.get("config", {})}, known,
                                   "layer")
            except (TypeError, NotImplementedError) as e:
                raise ValueError(f"{_source}: layer {entry.get('name')!r}: {e}") from None

        saved = runtime.global_rng().bit_generator.state
        try:
            inputs, outputs, name, trainable = functional_config.build(config, layer_from, _source)
            return cls(inputs, outputs, name=name, trainable=trainable)
        finally:
            runtime.global_rng().bit_generator.state = saved

    def to_json(self, **kwargs) -> str:
        return json.dumps({"class_name": "Functional", "config": self.get_config()}, **kwargs)

    def __repr__(self):
        return f"<Model name={self.name} layers={len(self._layers)}>"


def _call_again(layer, args, **kwargs):
    """A graph's layer called on other tensors with the arguments of its first call (a custom
    layer's CallSpec: decoder(x, encoder_outputs), mha(x, x, use_causal_mask=True))."""
    spec = layer.__dict__.get("_call_spec")
    if spec is None:
        return layer(args, **kwargs)
    return spec.call_again(layer, list(args) if isinstance(args, (list, tuple)) else [args], **kwargs)
