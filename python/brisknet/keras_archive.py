"""Keras 3's own files: ``.keras`` archives and ``.weights.h5`` weight files.

A ``.keras`` file is a zip holding ``config.json`` (the model and compile configs in Keras'
serialization format), ``metadata.json`` and ``model.weights.h5``: each layer's variables under
``layers/<key>/vars/<index>`` (key: the layer's class in snake case, numbered per container:
dense, dense_1, ...; a nested model's under its own ``layers/``), the optimizer's under
``optimizer/vars/<index>`` in Keras' order (iteration, learning rate when it is a number, then the
slot variables per trainable weight). brisknet writes what Keras 3 loads with
``keras.saving.load_model`` and reads what Keras 3 writes for the layers brisknet has.

Loading never executes code: JSON is parsed with ``json``, classes are looked up by name in fixed
tables of brisknet's classes (a Lambda layer or any other class is refused with ValueError), the
archive's entries are size-checked before they are read, and h5py (an optional extra, imported only
here) reads only float datasets of the shapes the architecture expects. Writes are atomic.
This module takes models as arguments and imports nothing of brisknet.models.
"""
from __future__ import annotations

import contextlib
import datetime
import inspect
import io
import json
import math
import zipfile
import zlib

import numpy as np

from . import functional_config, initializers, layers as layers_module, losses, metrics as metrics_module, optimizers
from . import backend, constraints, object_registration, regularizers
from .layers import custom
from .optimizers import schedules
from .brisk_format import atomic_write
from .naming import to_snake_case

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose files this module was checked against
MAX_JSON_BYTES = 64 << 20
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"

# Each optimizer's per-weight state in Keras' order: groups of brisknet state arrays; the arrays of
# a group alternate per weight (Adam: m, v of the first weight, then of the second, ...).
_OPTIMIZER_SLOTS = {"Adam": (("m", "v"), ("vhat",)), "AdamW": (("m", "v"), ("vhat",)), "SGD": (("velocity",),),
                    "RMSprop": (("velocity",), ("momentum_buffer",), ("average_gradient",)),
                    "Adagrad": (("accumulator",),), "Adamax": (("m", "u"),), "Nadam": (("m", "v"),),
                    "Adadelta": (("accumulated_grad", "accumulated_delta_var"),), "Lion": (("m",),)}
# scalar optimizer attributes Keras keeps as variables after the slots
_OPTIMIZER_SCALARS = {"Nadam": ("u_product",)}
# activation names Keras does not have
_NOT_IN_KERAS = {"gelu_tanh"}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading and writing Keras files (.keras, .weights.h5) needs h5py: "
                          "pip install 'brisknet[keras-files]'") from None
    return h5py


def _keys(entries) -> list:
    """The h5 keys of a container's entries: dense, dense_1, ... as Keras numbers them."""
    used, keys = {}, []
    for e in entries:
        key = to_snake_case(type(e).__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def _is_model(entry) -> bool:
    return hasattr(entry, "_entries")


def _name_key(name):
    return "~" + name if name.startswith("_") else name  # Keras walks private attributes last


def _weights_by_path(model, prefix="layers", visited=None) -> list:
    """[(h5 group path, layer or model, [weight arrays])] of every layer, in the order Keras
    saves them: a Sequential's or functional model's layers under layers/<key>; a custom layer's
    or subclassed model's own variables, then its attributes in sorted order (private ones last;
    a subclassed model's `layers` among them, holding the layers no attribute before it did),
    each layer under its attribute's name, or in a list or dict under <attribute>/<key>."""
    visited = set() if visited is None else visited
    if getattr(model, "_is_custom", False):
        return _attributes_by_path(model, prefix.rpartition("/")[0], visited)
    out = []
    for key, e in zip(_keys(model.layers), model.layers):
        out += _entry_by_path(e, f"{prefix}/{key}", visited)
    return out


def _entry_by_path(e, path, visited) -> list:
    if id(e) in visited:
        return []
    visited.add(id(e))
    if getattr(e, "_is_custom", False):
        return _attributes_by_path(e, path, visited)
    if _is_model(e):
        return [(path, e, [])] + _weights_by_path(e, path + "/layers", visited)
    return [(path, e, list(e._weights))]


def _attributes_by_path(obj, path, visited) -> list:
    visited.add(id(obj))
    out = [(path, obj, [] if _is_model(obj) else list(obj._weights))]
    attributes = [(k, v) for k, v in vars(obj).items() if k not in custom.UNTRACKED and not k.startswith("__")]
    if _is_model(obj):
        attributes.append(("layers", obj.layers))
    for name, value in sorted(attributes, key=lambda kv: _name_key(kv[0])):
        where = f"{path}/{name}" if path else name
        if custom._trackable(value):
            out += _entry_by_path(value, where, visited)
        elif isinstance(value, (list, tuple, dict)):
            out += _container_by_path(value, where, visited, set())
    return out


def _container_by_path(container, path, visited, containers) -> list:
    if id(container) in containers:
        return []
    containers.add(id(container))
    used: dict = {}
    out = []
    for item in (container.values() if isinstance(container, dict) else container):
        if custom._trackable(item):
            out += _entry_by_path(item, f"{path}/{_unique(to_snake_case(type(item).__name__), used)}", visited)
        elif isinstance(item, (list, tuple, dict)):
            out += _container_by_path(item, f"{path}/{_unique('container', used)}", visited, containers)
    return out


def _unique(name, used) -> str:
    """Keras' numbering of names in one container: dense, dense_1, ..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# --------------------------------------------------------------------------------- configs: out
def _ser(obj, module):
    if obj is None:
        return None
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(), "registered_name": None}


def _layer_config(layer) -> dict:
    if type(layer).__name__ == "Lambda":
        raise ValueError(f"save: layer {layer.name!r} is a Lambda, whose function is code, which brisknet never "
                         "loads from a file; write it as a Layer subclass registered with "
                         "@keras.saving.register_keras_serializable()")
    if layer._is_custom and not type(layer).__module__.startswith("brisknet."):  # (the user's own class)
        return object_registration.file_entry(layer, layer.input_shape if layer.built else None)
    config = dict(layer.get_config())
    if getattr(layer, "activation", None) in _NOT_IN_KERAS:
        raise ValueError(f"save: layer {layer.name!r} uses activation {layer.activation!r}, which Keras does "
                         "not have; save as '.brisk' instead")
    for key in config:
        if key.endswith("_initializer"):
            config[key] = _ser(getattr(layer, key, None), "keras.initializers")
        elif key.endswith("_regularizer"):
            config[key] = _ser(getattr(layer, key, None), "keras.regularizers")
        elif key.endswith("_constraint"):
            config[key] = _ser(getattr(layer, key, None), "keras.constraints")
    build = None
    if layer.built and layer.__dict__.get("_call_spec") is not None and layer.input_shape is not None:
        build = {"shapes_dict": _shapes_by_argument(layer)}
    elif layer.built:  # a merge layer's: one shape per input
        build = {"input_shape": [[None, *s] for s in layer.input_shape] if getattr(layer, "takes_several_inputs", False)
                 else [None, *layer.input_shape]}
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": config, "registered_name": None,
            **({"build_config": build} if build is not None else {})}


def _shapes_by_argument(layer) -> dict:
    """Keras' build_config of a layer called with several tensors (mha(query, value), an LSTM
    with initial_state): {"<argument>_shape": its shape (a list of shapes for a list of tensors)}."""
    names = custom.call_parameters(layer)
    spec = layer._call_spec
    shapes = [[None, *s] for s in (layer.input_shape if isinstance(layer.input_shape, list) else [layer.input_shape])]

    def shape_of(v):
        if isinstance(v, list):
            return [shape_of(t) for t in v]
        return shapes[v.k]
    out = {f"{names[0]}_shape": shapes[:spec.first] if spec.first is not None else shapes[0]}
    for name, v in [*zip(names[1:], spec.args), *spec.kwargs.items()]:
        if isinstance(v, custom.Slot) or (isinstance(v, list) and v and isinstance(v[0], custom.Slot)):
            out[f"{name}_shape"] = shape_of(v)
    return out


def _functional_config(model) -> dict:
    """A functional model's config as Keras 3 writes it."""
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": functional_config.to_config(model, _layer_config), "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def model_config(model) -> dict:
    """A model's config as Keras 3 writes it."""
    if hasattr(model, "_graph"):
        return _functional_config(model)
    if getattr(model, "_is_custom", False):
        return object_registration.file_entry(model, model._input_shape)
    entries = []
    if model._input_shape is not None:
        entries.append({"module": "keras.layers", "class_name": "InputLayer",
                        "config": {"batch_shape": [None, *model._input_shape], "dtype": "float32", "sparse": False,
                                   "name": f"{model.name}_input"}, "registered_name": None})
    for e in model.layers:
        entries.append(model_config(e) if _is_model(e) else _layer_config(e))
    config = {"name": model.name, "trainable": model.trainable, "layers": entries}
    built = {}
    if model._input_shape is not None:
        config["build_input_shape"] = [None, *model._input_shape]
        built = {"build_config": {"input_shape": [None, *model._input_shape]}}
    return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None, **built}


def _compile_config(model) -> dict:
    opt = model.optimizer
    opt_config = dict(opt.get_config())
    if opt.schedule is not None:
        opt_config["learning_rate"] = _ser(opt.schedule, "keras.optimizers.schedules")

    def metric(ident):
        if isinstance(ident, str):
            return ident
        m = metrics_module.get(ident)
        return _ser(m, "keras.metrics")
    ids = model._metric_ids
    config = {"optimizer": {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": opt_config,
                            "registered_name": None},
              "loss": _ser(model.loss, "keras.losses"),
              "loss_weights": None,
              "metrics": [metric(m) for m, w in ids if not w] or None,
              "weighted_metrics": [metric(m) for m, w in ids if w] or None,
              "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    args = getattr(model, "_compile_args", None)
    if args is not None and getattr(model, "_several_outputs", False):  # per output: lists or dicts, as given
        def loss(ident):
            return ident if ident is None or isinstance(ident, str) else _ser(losses.get(ident), "keras.losses")
        config.update(loss=_map_leaves(args["loss"], loss), loss_weights=args["loss_weights"],
                      metrics=_map_leaves(args["metrics"], metric),
                      weighted_metrics=_map_leaves(args["weighted_metrics"], metric))
    return config


def _map_leaves(value, fn):
    """fn applied to each entry of a (possibly nested) list or dict of losses or metrics; an
    object's serialized form (a dict with a class_name) is one entry."""
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_leaves(v, fn) for v in value]
    return None if value is None else fn(value)


# --------------------------------------------------------------------------------- weights: out
def _optimizer_arrays(model) -> list:
    """The optimizer's variables in Keras' order (none before its first step)."""
    opt = model.optimizer
    if opt is None or opt._size != model._params.size:
        return []
    slots = _OPTIMIZER_SLOTS.get(type(opt).__name__)
    if slots is None:
        return []
    out = [np.array(opt.iterations, np.int64)]
    if opt.schedule is None:
        out.append(np.array(opt.learning_rate, np.float32))
    offsets = dict(zip((id(w) for l in model._layers for w in l._weights), model._slices))
    trainable = [w for l in model._layers for w, t in zip(l._weights, l.trainable_mask()) if t]
    state = opt.state_arrays()
    for group in slots:
        if not all(name in state for name in group):
            continue
        for w in trainable:
            a, b = offsets[id(w)]
            out += [state[name][a:b].reshape(w.shape) for name in group]
    out += [np.array(getattr(opt, name), np.float32) for name in _OPTIMIZER_SCALARS.get(type(opt).__name__, ())]
    return out


def _write_h5(model, f, include_optimizer=True) -> None:
    for path, layer, weights in _weights_by_path(model):
        where = _vars_path(path)
        group = f.create_group(where) if where not in f else f[where]
        group.attrs["name"] = layer.name
        integer = getattr(layer, "integer_weights", ())  # weights Keras keeps as int32 (Normalization's count)
        for (name, _, _), w in zip(layer.weight_specs() if weights else (), weights):
            group.create_dataset(str(len(group)), data=np.asarray(w).astype(np.int32 if name in integer else np.float32))
    if include_optimizer and model.compiled:
        group = f.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        for i, arr in enumerate(_optimizer_arrays(model)):
            group.create_dataset(str(i), data=arr)
    if "vars" not in f:
        f.create_group("vars").attrs["name"] = model.name


def _vars_path(path) -> str:
    return f"{path}/vars" if path else "vars"  # (a subclassed model's own: at the top)


def _h5_bytes(model, include_optimizer=True) -> bytes:
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _write_h5(model, f, include_optimizer)
    return buf.getvalue()


def save_model(model, path) -> None:
    """model.save('x.keras'): a Keras 3 archive, written atomically."""
    model._require_built("save")
    config = model_config(model)
    if model.compiled:
        config["compile_config"] = _compile_config(model)
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "date_saved": datetime.datetime.now().strftime(
        "%Y-%m-%d@%H:%M:%S"), "saved_by": "brisknet"}
    weights = _h5_bytes(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_METADATA, json.dumps(metadata))
        zf.writestr(_CONFIG, json.dumps(config))
        zf.writestr(_WEIGHTS, weights)
    atomic_write(path, buf.getvalue())


def save_weights(model, path) -> None:
    """model.save_weights('x.weights.h5'): Keras' weights file (layers, then the optimizer)."""
    model._require_built("save_weights")
    atomic_write(path, _h5_bytes(model))


# --------------------------------------------------------------------------------- reading
def _read_entry(zf, name, limit, path) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{path}: not a Keras archive (no {name})") from None
    if info.file_size > limit:
        raise ValueError(f"{path}: {name} claims {info.file_size} bytes, more than the {limit} allowed")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path}: {name} is larger than the {limit} bytes allowed")
    return data


def read_archive(path):
    """(config dict, model.weights.h5 bytes) of a .keras file (a path or a binary file object);
    ValueError for anything else."""
    if not isinstance(path, (str, bytes)) and not hasattr(path, "read"):
        path = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such model file: {path!r}") from None
    except _ZIP_ERRORS as e:
        raise ValueError(f"{path}: not a valid .keras archive (corrupted or truncated: {e})") from None
    with zf:
        try:
            raw = _read_entry(zf, _CONFIG, MAX_JSON_BYTES, path)
        except _ZIP_ERRORS as e:
            raise ValueError(f"{path}: damaged archive ({e})") from None
        try:
            config = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: config.json is not valid JSON ({e})") from None
        if not isinstance(config, dict):
            raise ValueError(f"{path}: config.json must hold an object")
        limit = _expected_weight_bytes(config, path)
        try:
            weights = _read_entry(zf, _WEIGHTS, limit, path)
        except _ZIP_ERRORS as e:
            raise ValueError(f"{path}: damaged archive ({e})") from None
    return config, weights


MAX_VOCABULARY_BYTES = 256 << 20


def _load_vocabularies(model, file, source) -> None:
    """Keras keeps an adapted text layer's vocabulary out of its config, in the archive's
    assets/layers/<key>/vocabulary.txt (the layer's h5 key; a token per line, the special ones
    first)."""
    entries = list(getattr(model, "layers", []))
    layers = [(layer, key) for layer, key in zip(entries, _keys(entries)) if hasattr(layer, "get_vocabulary")
              and layer._vocabulary is None]
    if not layers:
        return
    if hasattr(file, "seek"):
        file.seek(0)
    try:
        with zipfile.ZipFile(file) as zf:
            for layer, key in layers:
                name = f"assets/layers/{key}/vocabulary.txt"
                if name not in zf.namelist():
                    continue
                lines = _read_entry(zf, name, MAX_VOCABULARY_BYTES, source).decode("utf-8").split("\n")
                tokens = lines[:-1] if lines and lines[-1] == "" else lines
                if isinstance(layer, layers_module.IntegerLookup):
                    tokens = [int(t) for t in tokens]
                layer.set_vocabulary(tokens)
    except _ZIP_ERRORS + (UnicodeDecodeError, TypeError) as e:
        raise ValueError(f"{source}: a text layer's vocabulary: {e}") from None


# what zipfile raises on damaged or unsupported archives (NotImplementedError: an unknown zip version
# or compression, found by fuzz_keras_file.py; RuntimeError: an encrypted entry)
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError, zlib.error)


def _expected_weight_bytes(config, path) -> int:
    """A bound on model.weights.h5's size for this architecture (weights and optimizer slots,
    with room for HDF5's own structures), so that a small archive cannot inflate without bound."""
    def size(v):
        return int(v) if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 31 else 0

    layer_configs = list(_walk_layer_configs(config))
    widths = [size(c.get("units")) for c in layer_configs]
    tables = sum(size(c.get("input_dim")) * size(c.get("output_dim")) for c in layer_configs)  # Embedding
    total = sum(widths) * 4 + 1
    shape = config.get("config", {}).get("build_input_shape") if isinstance(config.get("config"), dict) else None
    first = math.prod(d for d in (shape or [])[1:] if isinstance(d, int) and d > 0) if shape else 1
    if config.get("class_name") == "Functional":  # a layer may read any earlier output: the widest
        inputs = [math.prod(size(d) for d in (c.get("batch_shape") or [])[1:]) for c in layer_configs
                  if "batch_shape" in c]
        first = max(inputs + widths + [1]) * max(1, len(layer_configs))
    prev, params = first, 0
    for u in widths:
        params += prev * u + u
        prev = u if config.get("class_name") != "Functional" else first
    return 8 * 4 * (params + total + tables) + (64 << 20)


def _walk_layer_configs(spec):
    config = spec.get("config") if isinstance(spec, dict) else None
    if not isinstance(config, dict):
        return
    for e in config.get("layers", []) if isinstance(config.get("layers"), list) else []:
        if isinstance(e, dict) and e.get("class_name") == "Sequential":
            yield from _walk_layer_configs(e)
        elif isinstance(e, dict) and isinstance(e.get("config"), dict):
            yield e["config"]


# --------------------------------------------------------------------------------- configs: in
_LAYERS = {name: getattr(layers_module, name) for name in
           ("Dense", "Dropout", "Activation", "Flatten", "Softmax", "ReLU", "LeakyReLU", "ELU", "Normalization",
            "Rescaling", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
            "BatchNormalization", "LayerNormalization", "Embedding", "Reshape", "Permute", "RepeatVector",
            "Identity", "GaussianNoise", "GaussianDropout", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
            "MultiHeadAttention", "LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "Masking", "TimeDistributed",
            "Attention", "AdditiveAttention", "TextVectorization", "StringLookup", "IntegerLookup", "Hashing",
            "CategoryEncoding",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D",
            "AveragePooling1D", "AveragePooling2D", "DepthwiseConv2D", "Conv2DTranspose", "SeparableConv2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
            "SpatialDropout1D", "SpatialDropout2D", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness")}
# config keys brisknet ignores whatever they hold (float32 is checked by the layer itself)
_ANY_VALUE = {"dtype", "data_format", "ema_momentum", "vocabulary_size"}
# config keys brisknet ignores when they hold Keras' defaults
_IGNORED = {"registered_name": None, "module": None, "seed": None, "noise_shape": None,
            "kernel_constraint": None, "bias_constraint": None, "activity_regularizer": None, "lora_rank": None,
            "lora_alpha": None, "quantization_config": None, "input_axes": None,
            "output_axes": None, "ignore_class": None, "label_smoothing": 0.0, "axis": -1, "use_ema": False,
            "ema_overwrite_frequency": None, "loss_scale_factor": None,
            "gradient_accumulation_steps": None, "summation_method": "interpolation", "multi_label": False,
            "num_labels": None, "label_weights": None, "thresholds": None, "top_k": None, "class_id": None,
            "sparse_y_true": True, "sparse_y_pred": False,
            "beta_constraint": None, "gamma_constraint": None, "embeddings_constraint": None, "renorm": False,
            "renorm_clipping": None, "renorm_momentum": 0.99, "rms_scaling": False, "sparse": False,
            "ragged": False, "encoding": "utf-8"}


def _accepted(cls) -> set:
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {p for p, v in params.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)} - {"self"}
        if not any(v.kind == v.VAR_KEYWORD for v in params.values()):
            break
    cell = getattr(cls, "CELL", None)  # LSTM, GRU, SimpleRNN: their cell's arguments are theirs
    return names | (_accepted(cell) if cell is not None else set())


def _kwargs(cls, config, what, source) -> dict:
    """The config entries `cls` takes; others must hold Keras' defaults (else ValueError)."""
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise ValueError(f"{source}: the config of {what} must be an object with string keys")
    accepted, out = _accepted(cls), {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif key in _ANY_VALUE or (key in _IGNORED and (value is None or value == _IGNORED[key])):
            continue
        else:
            raise ValueError(f"{source}: {what} option {key}={value!r} is not supported by brisknet")
    return out


def _object(spec, table, what, source):
    """A brisknet object from a Keras ``{"class_name", "config"}`` (or a plain name)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(f"{source}: invalid {what} entry {str(spec)[:100]!r}")
    name = spec["class_name"]
    cls = table.get(name)
    if cls is None:
        raise ValueError(f"{source}: {what} class {name!r} is not supported by brisknet (known: {sorted(table)}); "
                         "loading never runs code from a file")
    try:
        return cls(**_kwargs(cls, spec.get("config", {}), f"{what} {name}", source))
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{source}: {what} {name}: {e}") from None


def _table(module, base):
    return {n: c for n, c in vars(module).items() if isinstance(c, type) and issubclass(c, base) and n[0].isupper()}


def _layer_from(spec, source):
    name = spec.get("class_name")
    config = spec.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{source}: layer {name!r} has no config object")
    if name == "Lambda":
        raise ValueError(f"{source}: layer {config.get('name')!r} is a Lambda: its function is code, which brisknet "
                         "never runs from a file (Keras refuses it too with safe_mode=True); write it as a Layer "
                         "subclass registered with @keras.saving.register_keras_serializable()")
    cls = object_registration.find_class(spec)
    if cls is not None:
        return object_registration.from_entry(cls, spec, "layer", source)
    cls = _LAYERS.get(name)
    if cls is None:
        raise ValueError(f"{source}: layer class {name!r} is not supported by brisknet (supported: "
                         f"{sorted(_LAYERS) + ['InputLayer', 'Sequential']}), nor registered "
                         f"({object_registration.register_hint(spec)}); loading never runs code from a file")
    config = dict(config)
    if "dtype" in config:
        config["dtype"] = backend.dtype_name(config["dtype"])
    if name in ("Bidirectional", "TimeDistributed"):  # its layers, as layers of the file
        for key in ("layer", "backward_layer"):
            if isinstance(config.get(key), dict):
                config[key] = _layer_from(config[key], source)
    if isinstance(config.get("activation"), (dict, list)):
        raise ValueError(f"{source}: layer {config.get('name')!r} has a custom activation object; only "
                         "activation names are supported")
    for key in list(config):
        if key.endswith("_initializer") and isinstance(config[key], dict):
            config[key] = _object(config[key], _table(initializers, initializers.Initializer), "initializer", source)
        elif key.endswith("_regularizer") and isinstance(config[key], dict):
            config[key] = _object(config[key], _table(regularizers, regularizers.Regularizer), "regularizer",
                                  source)
        elif key.endswith("_constraint") and isinstance(config[key], dict):
            config[key] = _object(config[key], _table(constraints, constraints.Constraint), "constraint", source)
    try:
        return cls(**_kwargs(cls, config, f"layer {name}", source))
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{source}: layer {name} {config.get('name')!r}: {e}") from None


def build_model(spec, classes, source="config"):
    """A brisknet model from Keras' model config (weights freshly initialised, the global
    generator left as it was). classes: brisknet's model classes by Keras' class name,
    {"Sequential": ..., "Functional": ...} (passed in, so that this module stays below models)."""
    kind = spec.get("class_name") if isinstance(spec, dict) else type(spec).__name__
    if kind == "Functional":
        return _build_functional(spec, classes, source)
    if kind != "Sequential":
        return object_registration.subclassed_model(spec, source)
    sequential_class = classes["Sequential"]
    config = spec.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{source}: a Sequential config needs a 'layers' list")
    entries, input_shape = [], None
    for i, layer_spec in enumerate(config["layers"]):
        if not isinstance(layer_spec, dict):
            raise ValueError(f"{source}: layer {i} is not an object")
        if layer_spec.get("class_name") == "InputLayer":
            c = layer_spec.get("config") or {}
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            input_shape = _shape(shape, source)
        elif layer_spec.get("class_name") == "Sequential":
            entries.append(build_model(layer_spec, classes, source))
        else:
            entries.append(_layer_from(layer_spec, source))
    if input_shape is None:
        shape = config.get("build_input_shape") or (spec.get("build_config") or {}).get("input_shape")
        input_shape = _shape(shape, source) if shape is not None else None
    model = sequential_class(name=config.get("name") if isinstance(config.get("name"), str) else None)
    from . import runtime
    saved_rng = runtime.global_rng().bit_generator.state  # loading must not change what training does next
    try:
        if input_shape is not None:
            model.add(layers_module.Input(input_shape))
        for e in entries:
            model.add(e)
    finally:
        runtime.global_rng().bit_generator.state = saved_rng
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _build_functional(spec, classes, source):
    from . import runtime

    def layer_from(entry):
        if entry.get("class_name") in ("Sequential", "Functional"):
            raise ValueError(f"{source}: a model inside a functional model is not supported")
        return _layer_from(entry, source)

    saved_rng = runtime.global_rng().bit_generator.state  # loading must not change what training does next
    try:
        inputs, outputs, name, trainable = functional_config.build(spec.get("config"), layer_from, source)
        try:
            return classes["Functional"](inputs, outputs, name=name, trainable=trainable)
        except (TypeError, ValueError, NotImplementedError) as e:
            raise ValueError(f"{source}: {e}") from None
    finally:
        runtime.global_rng().bit_generator.state = saved_rng


def _shape(shape, source):
    if not isinstance(shape, list) or len(shape) < 2 or \
            not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape[1:]):
        raise ValueError(f"{source}: input shape must be [batch, positive ints or nulls...], got {shape!r}")
    return tuple(shape[1:])


def compile_from(model, compile_config, source) -> None:
    """compile() the model as Keras' compile_config says (optimizer, loss, metrics)."""
    if not isinstance(compile_config, dict):
        raise ValueError(f"{source}: compile_config must be an object")
    weights = compile_config.get("loss_weights")
    if not (weights is None or isinstance(weights, (int, float, list, dict))):
        raise ValueError(f"{source}: invalid loss_weights {str(weights)[:80]!r}")
    opt_spec = compile_config.get("optimizer")
    if isinstance(opt_spec, dict) and isinstance(opt_spec.get("config"), dict):
        opt_spec = {**opt_spec, "config": dict(opt_spec["config"])}
        lr = opt_spec["config"].get("learning_rate")
        if isinstance(lr, dict):
            opt_spec["config"]["learning_rate"] = _object(lr, _table(schedules, schedules.LearningRateSchedule),
                                                          "learning-rate schedule", source)
    optimizer = _object(opt_spec, _table(optimizers, optimizers.Optimizer), "optimizer", source)
    loss = _map_leaves(compile_config.get("loss"), lambda l: _object(l, _table(losses, losses.Loss), "loss", source))

    def metric_list(ms):
        if ms is None:
            return None
        if not isinstance(ms, (list, dict)):
            ms = [ms]
        return _map_leaves(ms, lambda m: _object(m, _table(metrics_module, metrics_module.Metric), "metric", source))
    try:
        model.compile(optimizer=optimizer if optimizer is not None else "rmsprop", loss=loss,
                      metrics=metric_list(compile_config.get("metrics")),
                      weighted_metrics=metric_list(compile_config.get("weighted_metrics")),
                      **({"loss_weights": weights} if weights is not None else {}))
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{source}: cannot compile as saved: {e}") from None


def load_archive(file, classes, compile=True, source="archive"):
    """The model a .keras archive (a path or a binary file object) holds: built from its config,
    compiled as saved when `compile`, weights and optimizer state loaded. ValueError for anything
    wrong with the file."""
    config, weights = read_archive(file)
    model = build_model(config, classes, source)
    if not model.built:
        raise ValueError(f"{source}: the saved model has no input shape")
    _load_vocabularies(model, file, source)
    if compile and config.get("compile_config") is not None:
        compile_from(model, config["compile_config"], source)
    load_h5(model, weights, source)
    return model


def load_h5(model, data, source, optimizer=True) -> None:
    """Set the model's weights (and, when it has been compiled and the file has it, its optimizer
    state) from model.weights.h5 bytes; every weight must be there with its shape. Whatever h5py
    raises on a damaged file becomes ValueError; nothing changes unless everything was read."""
    h5py = _h5py()
    with _bounded_memory(_H5_MEMORY + 4 * (len(data) + model._params.nbytes)):
        try:
            f = h5py.File(io.BytesIO(data), "r")
        except (OSError, ValueError, RuntimeError, OverflowError, MemoryError) as e:
            raise ValueError(f"{source}: the weights are not a valid HDF5 file ({e})") from None
        try:
            with f:
                _load_h5(model, f, source, optimizer)
        except (OSError, RuntimeError, OverflowError, KeyError, TypeError, IndexError, AttributeError,
                MemoryError) as e:
            raise ValueError(f"{source}: damaged weights file ({type(e).__name__}: {e})") from None


_H5_MEMORY = 256 << 20  # what reading a weights file may take beyond its bytes and the model's arrays


@contextlib.contextmanager
def _bounded_memory(extra):
    """HDF5 sizes buffers by what the file claims, and a damaged or hostile file can claim
    terabytes: Linux grants them and then kills the process for touching them. While h5py reads,
    the process's address space may grow by `extra` bytes at most, so such a claim fails as an
    allocation error instead (Linux; elsewhere, or under a tighter limit already, no change)."""
    try:
        import resource
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    limit = used + int(extra)
    unlimited = resource.RLIM_INFINITY
    if (soft != unlimited and soft <= limit) or (hard != unlimited and hard < limit):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _load_h5(model, f, source, optimizer) -> None:
    if "layer_names" in f.attrs or "model_weights" in f:
        _load_legacy_h5(model, f, source)
        return
    targets, values = [], []  # every weight array is read and checked before any is written
    for path, _, weights in _weights_by_path(model):
        where = _vars_path(path)
        group = _group(f, where, source, required=bool(weights))
        names = sorted(group.keys(), key=_index) if group is not None else []
        if len(names) != len(weights):
            raise ValueError(f"{source}: {path or 'the model'} holds {len(names)} variables, the model's layer has "
                             f"{len(weights)}: the file does not match this architecture")
        for name, w in zip(names, weights):
            targets.append(w)
            values.append(_dataset(group, name, w.shape, f"{where}/{name}", source, kinds="fiu"))
    _assign(model, targets, values)
    if optimizer and model.compiled and "optimizer" in f:
        _load_optimizer(model, _group(f, "optimizer/vars", source, required=False), source)


def _load_legacy_h5(model, f, source) -> None:
    """Keras 2's weight files (keras.applications' ImageNet weights; Keras 3's model.save('x.h5')
    writes the same under model_weights): layer_names lists the layers, each layer's group its
    arrays under weight_names, in the layer's order. Layers are matched by name, or, where the
    names differ, by position among the layers with weights (as Keras does)."""
    root = _group(f, "model_weights", source, required=False) if "model_weights" in f else f

    def names(attrs, key):
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in np.asarray(attrs.get(key, [])).ravel()]
    stored = []  # (layer name, its group, its arrays' names) of the file's layers with weights
    for name in names(root.attrs, "layer_names"):
        group = _group(root, name, source, required=True)
        arrays = names(group.attrs, "weight_names")
        if arrays:
            stored.append((name, group, arrays))
    ours = [layer for layer in model.layers if layer._weights]
    by_name = {name: (group, arrays) for name, group, arrays in stored}
    if set(by_name) == {layer.name for layer in ours}:
        pairs = [(layer, *by_name[layer.name]) for layer in ours]
    elif len(stored) == len(ours):
        pairs = [(layer, group, arrays) for layer, (_, group, arrays) in zip(ours, stored)]
    else:
        raise ValueError(f"{source}: the file holds weights of {len(stored)} layers, the model has {len(ours)} layers "
                         "with weights: the file does not match this architecture")
    targets, values = [], []
    for layer, group, arrays in pairs:
        if len(arrays) != len(layer._weights):
            raise ValueError(f"{source}: layer {layer.name!r} has {len(layer._weights)} weights, the file's "
                             f"{group.name!r} holds {len(arrays)}: the file does not match this architecture")
        for name, w in zip(arrays, layer._weights):
            targets.append(w)
            values.append(_dataset(group, name, w.shape, f"{group.name}/{name}", source, kinds="fiu"))
    _assign(model, targets, values)


def _assign(model, targets, values) -> None:
    """Every weight read and checked: now written, and the engines' copies told."""
    model._weights_to_host()
    for dst, src in zip(targets, values):
        dst[...] = src
    model._weights_from_host()


def _index(name):
    return int(name) if name.isdigit() else -1


def _group(f, path, source, required):
    h5py = _h5py()
    try:
        g = f[path]
    except (KeyError, ValueError):
        if required:
            raise ValueError(f"{source}: missing {path!r}: the file does not match this architecture") from None
        return None
    if not isinstance(g, h5py.Group):
        raise ValueError(f"{source}: {path!r} is not a group")
    return g


def _dataset(group, name, shape, where, source, kinds="f"):
    h5py = _h5py()
    ds = group.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{source}: {where} is not a dataset")
    if ds.dtype.kind not in kinds or ds.dtype.itemsize > 8:
        raise ValueError(f"{source}: {where} has dtype {ds.dtype}, expected a float array")
    if tuple(ds.shape) != tuple(shape):
        raise ValueError(f"{source}: {where} has shape {tuple(ds.shape)}, the model expects {tuple(shape)}")
    try:
        value = np.asarray(ds[()])
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{source}: cannot read {where} ({e})") from None
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"{source}: {where} holds NaN or Inf")
    return value


def _load_optimizer(model, group, source) -> None:
    """Optimizer state in Keras' layout; a layout that does not match (another optimizer, other
    settings) is skipped with a warning, as Keras does."""
    import warnings
    opt = model.optimizer
    opt.build(model._params.size)
    expected = _optimizer_arrays(model)
    names = sorted(group.keys(), key=_index) if group is not None else []
    if len(names) != len(expected) or len(expected) == 0:
        warnings.warn(f"{source}: skipping the optimizer state: the file has {len(names)} optimizer variables, "
                      f"{type(opt).__name__} here has {len(expected)}", stacklevel=3)
        return
    values = [_dataset(group, n, e.shape, f"optimizer/vars/{n}", source, kinds="fiu") for n, e in zip(names, expected)]
    iterations = int(values[0])
    if iterations < 0:
        raise ValueError(f"{source}: the optimizer's iteration count is negative")
    scalars = _OPTIMIZER_SCALARS.get(type(opt).__name__, ())
    slots = slice(1 + (opt.schedule is None), len(values) - len(scalars))
    for dst, src in zip(expected[slots], values[slots]):
        dst[...] = src  # views into the optimizer's flat state arrays
    for name, value in zip(scalars, values[len(values) - len(scalars):]):
        setattr(opt, name, float(value))
    opt.iterations = iterations
    if opt.schedule is None and np.float32(opt.learning_rate) != np.float32(values[1]):
        opt.learning_rate = float(values[1])  # the variable is float32: keep the config's exact value if it agrees


def load_weights(model, path) -> None:
    """model.load_weights('x.weights.h5') (or a .keras archive's weights)."""
    model._require_built("load_weights")
    if zipfile.is_zipfile(path):
        _, data = read_archive(path)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no such weights file: {path!r}") from None
    load_h5(model, data, str(path))
