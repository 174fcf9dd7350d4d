"""keras.Model(inputs, outputs): the functional API. The layer calls recorded on keras.Input
tensors form a graph (graph.py): merge layers, fan-out (residual connections) and shared layers
(one layer called twice shares its weights). A model whose graph is one chain is trained by the
engine, exactly as the Sequential of that chain (the same weights, bit for bit); other graphs
train on the Python reference path for now (the engine runs chains). One input and one output
for now."""
from __future__ import annotations

import json

from .. import functional_config
from ..naming import unique_name
from .graph import Graph
from .sequential import Sequential


def _as_list(value, what):
    if isinstance(value, dict):
        raise NotImplementedError(f"Model: {what} as a dict are not supported yet")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) != 1:
        raise NotImplementedError(f"Model: {len(values)} {what} given; a functional model has one input and "
                                  "one output for now")
    return values


class Model(Sequential):
    """keras.Model(inputs, outputs, name=None): a model from a graph of layer calls on keras.Input.
    Subclassing keras.Model (a call() method of one's own) is not supported."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, device=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        if inputs is None or outputs is None:
            raise NotImplementedError("Model: subclassed models (a call() of one's own) are not supported; "
                                      "build one from keras.Input: Model(inputs, outputs)")
        graph = Graph(_as_list(inputs, "inputs"), _as_list(outputs, "outputs"))
        # (how they were given: Keras' config writes them so)
        self_inputs_as_list, self_outputs_as_list = isinstance(inputs, (list, tuple)), isinstance(outputs, (list, tuple))
        super().__init__(None, name=name if name is not None else unique_name("functional"), device=device)
        self._graph = graph
        self._inputs_as_list, self._outputs_as_list = self_inputs_as_list, self_outputs_as_list
        self.inputs, self.outputs = list(graph.inputs), _as_list(outputs, "outputs")
        self._entries = list(graph.layers)
        self._layers = list(graph.layers)
        self._input_shape = tuple(graph.inputs[0].shape)
        if not trainable:
            self.trainable = False
        self.build()

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        raise TypeError("Model.add: a functional model's layers are fixed by its inputs and outputs "
                        "(use keras.Sequential to add layers)")

    def pop(self):
        raise TypeError("Model.pop: a functional model's layers are fixed by its inputs and outputs")

    def build(self, input_shape=None, _restore_rng=False) -> None:
        if input_shape is not None and tuple(input_shape)[1:] != tuple(self._input_shape):
            raise ValueError(f"build: this model's input has samples of shape {self._input_shape}, got "
                             f"{tuple(input_shape)[1:]}")
        super().build(None, _restore_rng)
        self._graph.bind_nodes()

    def _build_layers(self) -> None:
        self._graph.build_layers()

    @property
    def layers(self) -> list:
        """As Keras: the layers and InputLayers by depth (the longest way to an output first)."""
        return list(self._graph.operations)

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
        for layer in self._graph.operations:
            if layer in self.inputs:
                rows.append((layer.name, "InputLayer", str((None,) + tuple(layer.shape)), "0", ["-"]))
                continue
            inbound = [g.tensor_label(i) for node in g.nodes if node.layer is layer for i in node.inputs]
            rows.append((layer.name, type(layer).__name__, str((None,) + tuple(layer.output_shape)),
                         f"{layer.count_params():,}", inbound))
        return rows

    @property
    def _output_layer(self):
        return self._graph.nodes[-1].layer

    def _runs_as_chain(self) -> bool:
        return self._graph.is_chain()

    def _shared_layers(self) -> set:
        return set(self._graph.shared_layers)

    def _forward(self, x, training):
        return self._graph.forward([x], training)[0]

    def _backward(self, dpred):
        self._graph.backward([dpred])

    # ------------------------------------------------------------------ configs
    def get_config(self) -> dict:
        """Keras 3's functional config: the layers with the calls they make (inbound_nodes), and
        the input and output tensors."""
        return functional_config.to_config(self, lambda layer: {"class_name": type(layer).__name__,
                                                                 "config": layer.get_config()})

    @classmethod
    def from_config(cls, config, _source="config") -> "Model":
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
