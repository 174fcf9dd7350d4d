"""Sequential: an ordered stack of layers sharing one flat parameter buffer (and one gradient
buffer of the same layout), so the optimizer updates the whole model in one kernel call.

A Sequential may hold other Sequentials, as in Keras: `model.layers` lists them as entries, while
training runs the flat list of their leaf layers (`_steps`); a nested model's parameters are a
slice of its outer model's buffer, so both see the same weights. The weights are those of
`_layers`: the steps and the layers a custom layer among them holds (its own Dense, ...), each
layer's own weights in Keras' order."""
from __future__ import annotations

import json
import math

import numpy as np

from .. import devices
from ..layers import InputSpec, Layer, masking, unknown_dims
from ..naming import unique_name
from .trainers import Trainer


class Sequential(Trainer):
    def __init__(self, layers=None, trainable=True, name=None, device=None):
        super().__init__()
        self.name = name if name is not None else unique_name("sequential")
        # where it trains: "cuda", "gpu:0", "cpu", ... (None: the device in effect, brisknet.devices)
        self._device = devices.parse(device) if device is not None else None
        self._entries: list = []  # what model.layers lists: layers and nested Sequentials
        self._steps: list = []    # the leaf layers in order, nested models flattened: what runs
        self._layers: list = []   # the layers whose own weights are the model's (the steps, their sublayers)
        self._input_shape = None  # per-sample shape, no batch dimension (None: a size known at run time)
        self.built = False
        self.trainable = trainable
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        if isinstance(layer, InputSpec):
            if self._entries:
                raise ValueError("Input(...) must be the first entry of a Sequential model")
            self._input_shape = layer.sample_shape
            return
        if not isinstance(layer, (Layer, Sequential)):
            raise TypeError(f"Sequential.add expects a Layer or a Sequential, got {type(layer).__name__}")
        if layer is self:
            raise ValueError("a model cannot contain itself")
        leaves = layer._steps if isinstance(layer, Sequential) else [layer]
        if isinstance(layer, Sequential) and not leaves:
            raise ValueError(f"the model {layer.name!r} has no layers")
        if any(new is old for new in leaves for old in self._steps):
            raise ValueError(f"layer {layer.name!r} is already in this model")
        if any(layer.name == e.name for e in self._entries):
            raise ValueError(f"all layers must have unique names; {layer.name!r} is used twice")
        if not self._entries and self._input_shape is None:
            first = layer._input_shape if isinstance(layer, Sequential) else layer._declared_input_shape
            if first:
                self._input_shape = tuple(first)
        self._entries.append(layer)
        self._set_steps()
        if self.built or self._input_shape is not None:  # Keras builds as soon as the input shape is known
            try:
                self.build()
            except Exception:
                self._entries.pop()
                self._set_steps()
                raise

    def _set_steps(self) -> None:
        self._steps = [leaf for e in self._entries for leaf in (e._steps if isinstance(e, Sequential) else [e])]
        self._layers = self._holders()

    def _holders(self) -> list:
        """The layers whose own weights make up the model's, in Keras' order (once each)."""
        seen, out = set(), []
        for step in self._steps:
            for holder in step._weight_holders():
                if id(holder) not in seen:
                    seen.add(id(holder))
                    out.append(holder)
        return out

    def pop(self):
        if not self._entries:
            raise ValueError("pop: the model has no layers")
        layer = self._entries.pop()
        self._set_steps()
        if self.built and self._steps:
            self.build()
        return layer

    @property
    def layers(self) -> list:
        return list(self._entries)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """As Keras: setting it sets every layer's (nested models' too)."""
        self._trainable = bool(value)
        for e in self._children():
            e.trainable = self._trainable

    def _children(self) -> list:
        """The layers and models whose `trainable` follows this model's."""
        return self._entries

    def get_layer(self, name=None, index=None):
        entries = self.layers
        if index is not None:
            return entries[index]
        for layer in entries:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[l.name for l in entries]}")

    @property
    def _output_layer(self):
        """The layer whose output is the model's (None without layers)."""
        return self._steps[-1] if self._steps else None

    @property
    def _output_sample_shape(self) -> tuple:
        """One sample's output as the trainer handles it (a model of several outputs: packed)."""
        return tuple(self._output_layer.output_shape)

    def _run_order(self) -> list:
        """The layers in the order a step runs them (the engine's specs follow it)."""
        return self._steps

    def _runs_as_chain(self) -> bool:
        """Whether the layers form one chain, each reading the one before (what the engine runs)."""
        return True

    def _shared_layers(self) -> set:
        """ids of layers called more than once (a functional model's shared layers)."""
        return set()

    def _forward(self, x, training):
        h, mask = x, None
        for layer in self._steps:
            h, mask = masking.forward(layer, h, mask, training)
        self._output_mask = mask  # (the loss skips the masked positions)
        return h

    def _backward(self, dpred):
        dh = dpred
        # back to the first layer with weights: those before it have no gradient to take (the
        # augmentation layers in front of a convnet pass none)
        first = next((i for i, layer in enumerate(self._steps) if layer._is_custom or layer.weights),
                     len(self._steps))
        for i in range(len(self._steps) - 1, first - 1, -1):
            dh = self._steps[i].backward(dh, need_dx=i > first)

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError("the model is not built yet")
        return (None,) + self._declared_output_shapes()[-1]

    def _declared_output_shapes(self) -> list:
        """Each layer's output sample shape, None where it follows an unknown input dimension."""
        shape, shapes = self._input_shape, []
        for layer in self._steps:
            shape = unknown_dims.output_shape(layer.sample_output_shape, shape) \
                if unknown_dims.has_unknown(shape) else tuple(layer.output_shape)
            shapes.append(shape)
        return shapes

    def build(self, input_shape=None, _restore_rng=False) -> None:
        """Infer every layer's shapes from the input shape (with batch dimension, as Keras),
        lay the weights out in one flat float32 buffer and initialise them (kept on rebuild).
        _restore_rng: leave brisknet's global generator as it was (loading a saved model must not
        change what training does next)."""
        if input_shape is not None:
            shape = tuple(input_shape)[1:]
            if not shape or any(d is not None and ((not isinstance(d, (int, np.integer))) or d < 1) for d in shape):
                raise ValueError(f"build: input_shape must be (batch, features...), got {input_shape!r}")
            self._input_shape = tuple(None if d is None else int(d) for d in shape)
        if self._input_shape is None:
            raise ValueError("the model has no input shape yet: start it with brisknet.Input(shape), "
                             "call model.build((None, features)), or call fit/predict on data first")
        if not self._steps:
            raise ValueError("the model has no layers")
        if _restore_rng:
            from .. import runtime
            saved_rng = runtime.global_rng().bit_generator.state
            try:
                return self.build(input_shape)
            finally:
                runtime.global_rng().bit_generator.state = saved_rng
        old = {id(l): l._own_weight_values() for l in self._holders() if l.built and l._weights}
        self._build_layers()
        self._layers = self._holders()  # (a custom layer's sublayers exist once it is built)
        old.update({id(l): l._own_weight_values() for l in self._layers if id(l) not in old and l._weights})
        self._allocate_weights(old)
        self.built = True
        if self.optimizer is not None:
            self.optimizer.build(self._params.size)
        self._configure_fusion()
        self._share_with_nested(0)

    def _allocate_weights(self, old) -> None:
        """The layers' weights as views of one flat float32 buffer (and their gradients of one more),
        keeping the values in `old` ({id(layer): arrays}) and initialising the rest."""
        specs = [layer.weight_specs() for layer in self._layers]
        total = sum(math.prod(s) for layer_specs in specs for _, s, _ in layer_specs)
        self._params = np.zeros(total, np.float32)
        self._grads = np.zeros(total, np.float32)
        self._slices = []
        offset = 0
        for layer, layer_specs in zip(self._layers, specs):
            weights, grads = [], []
            kept = old.get(id(layer))
            for i, (_, wshape, init) in enumerate(layer_specs):
                size = math.prod(wshape)
                w = self._params[offset:offset + size].reshape(wshape)
                if kept is not None and i < len(kept) and kept[i].shape == tuple(wshape):
                    w[...] = kept[i]
                else:
                    w[...] = init(wshape, np.float32)
                weights.append(w)
                grads.append(self._grads[offset:offset + size].reshape(wshape))
                self._slices.append((offset, offset + size))
                offset += size
            layer.bind(weights, grads, self)

    def _weight_holders(self) -> list:
        """The layers whose weights make up this model's (a model held by a custom layer or a
        subclassed model)."""
        return list(self._layers)

    def _traced_call(self, x, training):
        """Inside a traced call(): each layer called on the traced tensor in turn."""
        for layer in self._entries:
            x = layer(x, training=training)
        return x

    def _build_layers(self) -> None:
        """Each layer's shapes, from the model's input shape (unknown sizes: a stand-in, once the
        weights are seen not to depend on them; each run fits the layers to its data)."""
        shape = self._input_shape
        if unknown_dims.has_unknown(shape):
            for layer in self._steps:
                unknown_dims.build_for(layer, shape)
                shape = unknown_dims.output_shape(layer.sample_output_shape, shape)
            shape = unknown_dims.filled(self._input_shape, unknown_dims.STAND_INS[0])
        for layer in self._steps:
            layer.build_sample(shape)
            shape = layer.output_shape

    def _fit_to_samples(self, sample_shape) -> None:
        """The layers' shapes for samples of this shape (one that fits the declared input shape;
        it differs only where that has unknown sizes)."""
        if not unknown_dims.has_unknown(self._input_shape):
            return
        shape = tuple(sample_shape)
        for layer in self._steps:
            layer._fit_to(shape)
            shape = layer.output_shape

    def _share_with_nested(self, start) -> int:
        """Point each nested model at its slice of this model's buffers (its leaves are contiguous
        there), so that it predicts, saves and reports with the same weights. Returns the end."""
        offset = start
        for e in self._entries:
            if isinstance(e, Sequential):
                end = e._share_with_nested_from(self, offset)
            else:
                end = offset + sum(math.prod(s) for h in e._weight_holders() for _, s, _ in h.weight_specs())
            offset = end
        return offset

    def _share_with_nested_from(self, outer, start) -> int:
        size = sum(math.prod(s) for l in self._layers for _, s, _ in l.weight_specs())
        self._params = outer._params[start:start + size]
        self._grads = outer._grads[start:start + size]
        self._slices = [(a - start, b - start) for a, b in outer._slices if start <= a < start + size]
        if not unknown_dims.has_unknown(self._input_shape):
            self._input_shape = self._steps[0].input_shape
        self.built = True
        if self.optimizer is not None:
            self.optimizer.build(size)
        self._configure_fusion()
        self._share_with_nested(start)
        return start + size

    # ------------------------------------------------------------------ weights
    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what}: the model is not built yet; call build() or fit() first")

    @property
    def weights(self) -> list:
        """Keras-like variables over every weight, in Keras' order."""
        self._weights_to_host()
        return [w for layer in self._entries for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        return [w for layer in self._entries for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        return [w for layer in self._entries for w in layer.non_trainable_weights]

    @property
    def variables(self) -> list:
        return self.weights

    def get_weights(self) -> list:
        self._require_built("get_weights")
        self._weights_to_host()
        return [w for layer in self._layers for w in layer._own_weight_values()]

    def set_weights(self, weights) -> None:
        """Weights in Keras' order and shapes (each Dense: kernel (in, units), then bias)."""
        self._require_built("set_weights")
        weights = list(weights)
        mine = [w for layer in self._layers for w in layer._weights]
        if len(weights) != len(mine):
            raise ValueError(f"set_weights: the model has {len(mine)} weight arrays, got {len(weights)}")
        for i, (dst, src) in enumerate(zip(mine, weights)):
            shape = np.shape(src)
            if shape != dst.shape:
                raise ValueError(f"set_weights: weight {i} has shape {dst.shape}, got {shape}")
        self._weights_to_host()
        for dst, src in zip(mine, weights):
            arr = np.asarray(src)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"set_weights: expected numeric arrays, got dtype {arr.dtype}")
            dst[...] = arr.astype(np.float32)
        self._weights_from_host()

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(self._params.size)

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> list:
        """(name, type, output shape, parameters, connected to: a list, or None) per entry of summary()."""
        rows = []
        declared = self._declared_output_shapes() if self.built else []
        leaf = -1
        for layer in self._entries:
            leaf += len(layer._steps) if isinstance(layer, Sequential) else 1
            shape = str((None,) + declared[leaf]) if declared else "?"
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((layer.name, type(layer).__name__, shape, params, None))
        return rows

    def summary(self, line_length=None, print_fn=None, batch_size=32) -> None:
        """A Keras-style table (layer, output shape, parameters, and for a graph the tensors each
        layer reads: Keras' layer[call][tensor]), then what the model costs: FLOPs per sample
        (inference and training) and memory at `batch_size` (parameters, gradients, optimizer state,
        activations kept for the backward pass)."""
        from ..costs import model_flops, model_memory
        print_fn = print_fn or print
        rows = self._summary_rows()
        connected = any(r[4] is not None for r in rows)
        line_length = line_length or (108 if connected else 78)
        if connected:
            cols = (line_length - 5) // 4
            widths = (cols + 6, cols - 2, cols - 8, line_length - 5 - 3 * cols + 4)
        else:
            cols = (line_length - 4) // 3
            widths = (cols + 8, cols, line_length - 4 - 2 * cols - 8)

        def row(cells, sep="│"):
            out = []
            for i, (cell, w) in enumerate(zip(cells, widths)):
                out.append(f" {cell:>{w - 2}} " if i == 2 else f" {cell:<{w - 2}} ")
            return sep + sep.join(out) + sep

        header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if connected else ())
        lines = [f'Model: "{self.name}"',
                 "┏" + "┳".join("━" * w for w in widths) + "┓",
                 row(header, "┃"),
                 "┡" + "╇".join("━" * w for w in widths) + "┩"]
        for name, kind, shape, params, inbound in rows:
            label = f"{name} ({kind})"
            # as Keras: a long label's type, and each connection, on a line of its own
            cells = [[label] if len(label) <= widths[0] - 2 else [name, f"({kind})"], [shape], [params]]
            if connected:
                cells.append(inbound or ["-"])
            for k in range(max(len(c) for c in cells)):
                lines.append(row([c[k] if k < len(c) else "" for c in cells]))
        lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
        total = self._params.size if self.built else 0
        trainable = sum(l.count_trainable_params() for l in self._layers if l.built)
        lines += [f" Total params: {total:,} ({_bytes(total * 4)})",
                  f" Trainable params: {trainable:,} ({_bytes(trainable * 4)})",
                  f" Non-trainable params: {total - trainable:,} ({_bytes((total - trainable) * 4)})"]
        if self.built:
            flops = model_flops(self)
            mem = model_memory(self, batch_size)
            unknown = "" if not unknown_dims.has_unknown(self._input_shape) else \
                f" (with samples of shape {tuple(self._steps[0].input_shape)})"
            lines += [f" FLOPs per sample{unknown}: {_count(flops['forward'])} forward, {_count(flops['training'])} "
                      "training step",
                      f" Memory at batch size {batch_size}: parameters {_bytes(mem['parameters'])}, gradients "
                      f"{_bytes(mem['gradients'])}, optimizer state {_bytes(mem['optimizer_state'])}, "
                      f"activations {_bytes(mem['activations'])}"]
        print_fn("\n".join(lines))

    # ------------------------------------------------------------------ configs and files
    def get_config(self) -> dict:
        from ..serialization import serialize
        return {"name": self.name, "trainable": self.trainable,
                "layers": [serialize(l) for l in self._entries],
                "input_shape": list(self._input_shape) if self._input_shape else None}

    @classmethod
    def from_config(cls, config, _source="config") -> "Sequential":
        """The model a get_config() describes, built (with fresh weights, the global generator left
        as it was) when it has an input shape."""
        from .. import layers as layers_module
        from ..serialization import classes_of, deserialize
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"{_source}: a Sequential config needs a 'layers' list")
        known = {**classes_of(vars(layers_module), layers_module.Layer), "Sequential": Sequential}
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            if isinstance(spec, dict) and spec.get("class_name") == "Sequential":
                model.add(Sequential.from_config(spec.get("config"), _source))
            else:
                model.add(deserialize(spec, known, "layer"))
        if config.get("trainable") is False:
            model.trainable = False
        shape = config.get("input_shape")
        if shape is not None:
            if not isinstance(shape, list) or not shape or \
                    not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape):
                raise ValueError(f"{_source}: input_shape must be a list of positive ints (or nulls), got {shape!r}")
            model.build((None, *shape), _restore_rng=True)
        return model

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (no weights), read back by models.model_from_json."""
        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    def save(self, filepath, overwrite=True) -> None:
        """Architecture, weights and, when compiled, the optimizer state, loss and metrics, written
        atomically (a temporary file renamed over the target). '.keras': a Keras 3 archive that
        keras.saving.load_model reads (h5py needed); '.brisk': brisknet's own file (safetensors),
        from which training resumes bit-identically."""
        import os
        from .. import brisk_format, keras_archive
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save: {path!r} exists and overwrite=False")
        self._weights_to_host()
        if path.endswith(".keras"):
            keras_archive.save_model(self, path)
        elif path.endswith(brisk_format.MODEL_SUFFIX):
            brisk_format.save_model(self, path)
        else:
            raise ValueError(f"save: the file name must end in '.keras' (Keras 3's format) or "
                             f"'{brisk_format.MODEL_SUFFIX}' (brisknet's own), got {path!r}")

    def save_weights(self, filepath, overwrite=True) -> None:
        """The weights alone, written atomically: '.weights.h5' as Keras writes it (layers, then the
        optimizer's variables; h5py needed), any other name brisknet's safetensors file."""
        import os
        from .. import brisk_format, keras_archive
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save_weights: {path!r} exists and overwrite=False")
        self._weights_to_host()
        if path.endswith(".weights.h5"):
            keras_archive.save_weights(self, path)
        else:
            brisk_format.save_weights(self, path)

    def export_onnx(self, filepath, opset=17) -> None:
        """An ONNX graph of the model for inference (needs the onnx package; see onnx_export.py)."""
        from ..onnx_export import export_onnx
        self._weights_to_host()
        export_onnx(self, filepath, opset)

    def load_weights(self, filepath) -> None:
        """Weights from save_weights or save (a '.weights.h5', '.keras', '.brisk' or brisknet weights
        file): every weight of this architecture must be there, with its shape."""
        import os
        from .. import brisk_format, keras_archive
        path = os.fspath(filepath)
        self._weights_to_host()  # (the optimizer's state too: a file may replace it)
        if path.endswith((".h5", ".keras")):
            keras_archive.load_weights(self, path)
        else:
            brisk_format.load_weights(self, path)
        self._weights_from_host()

    def __repr__(self):
        return f"<Sequential name={self.name} layers={len(self._layers)}>"


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"
