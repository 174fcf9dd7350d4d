"""brisknet's own model files ('.brisk'): one safetensors file holding the weights, the optimizer
state and, in its metadata, the architecture and compile settings as JSON, plus a SHA-256 of
everything else in the file.

- Loading never executes code: safetensors holds only raw arrays, the JSON is parsed with ``json``,
  and classes are looked up by name in brisknet's own tables (serialization.py). No pickle.
- Every problem with a file (not safetensors, truncated, bytes changed, a tensor missing or extra or
  of the wrong shape, an unknown class) raises ValueError naming the file and the problem.
- Every save writes a temporary file next to the target, fsyncs it and renames it over the target:
  a crash mid-save leaves the previous file as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load, save as _st_save

from . import object_registration

FORMAT = "brisknet"
FORMAT_VERSION = "1"
MODEL_SUFFIX = ".brisk"


# ------------------------------------------------------------------------------------- file level
def atomic_write(path, data: bytes) -> None:
    """Write `data` to `path` so that the file is either the old one or the complete new one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _checksum(tensors: dict, metadata: dict) -> str:
    """SHA-256 over the metadata (but the checksum itself) and every tensor's name, dtype, shape
    and bytes, in name order."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in metadata.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def to_bytes(tensors: dict, metadata: dict) -> bytes:
    """float32 tensors and string metadata, with a checksum, in the safetensors format."""
    tensors = {k: np.asarray(v, dtype=np.float32, order="C") for k, v in tensors.items()}  # (0-d stays 0-d)
    metadata = {**metadata, "format": FORMAT, "format_version": FORMAT_VERSION}
    metadata["sha256"] = _checksum(tensors, metadata)
    return _st_save(tensors, metadata=metadata)


def write_file(path, tensors: dict, metadata: dict) -> None:
    """to_bytes, written atomically."""
    atomic_write(path, to_bytes(tensors, metadata))


def read_file(path):
    """(tensors, metadata) of a file written by write_file; ValueError for anything else."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such model file: {path!r}") from None
    return from_bytes(data, path)


def from_bytes(data: bytes, path="<bytes>"):
    """(tensors, metadata) of to_bytes output; ValueError (naming `path`) for anything else."""
    if len(data) < 8:
        raise ValueError(f"{path}: not a brisknet file (only {len(data)} bytes: truncated or empty)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise ValueError(f"{path}: truncated file (its header claims {header_len} bytes, "
                         f"{len(data) - 8} follow)")
    try:
        header = json.loads(data[8:8 + header_len])
        metadata = header.get("__metadata__") or {}
        tensors = _st_load(data)
    except (ValueError, UnicodeDecodeError, AttributeError, SafetensorError) as e:
        raise ValueError(f"{path}: not a valid brisknet file (corrupted or truncated: {e})") from None
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a brisknet file (no brisknet format tag in its metadata)")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {metadata.get('format_version')!r} is not supported "
                         f"(this brisknet reads version {FORMAT_VERSION})")
    if metadata.get("sha256") != _checksum(tensors, metadata):
        raise ValueError(f"{path}: checksum mismatch: the file was corrupted or modified after it was saved")
    for name, a in tensors.items():
        if a.dtype != np.float32:
            raise ValueError(f"{path}: tensor {name!r} has dtype {a.dtype}, expected float32")
    return tensors, metadata


def json_field(path, metadata, key):
    try:
        return json.loads(metadata[key])
    except KeyError:
        raise ValueError(f"{path}: no {key!r} entry in the file's metadata") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: the {key!r} entry is not valid JSON ({e})") from None


# ------------------------------------------------------------------------------------ model level
def _weight_names(model):
    """'layers/<position>/<weight>': by position, as Keras 3 matches weights, so that weights saved
    from one model load into any model of the same architecture whatever its layer names."""
    return [f"layers/{i}/{wname}" for i, layer in enumerate(model._layers)
            for wname, _, _ in (layer.weight_specs() if layer.built else [])]


def weights_to_tensors(model) -> dict:
    return dict(zip(_weight_names(model), model.get_weights()))


def tensors_to_weights(path, model, tensors: dict, prefix_ok=("optimizer/",)):
    """Set the model's weights from tensors named as weights_to_tensors names them; every weight
    must be there with its shape, and nothing else may be (but optimizer state)."""
    names = _weight_names(model)
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ValueError(f"{path}: missing tensor(s) {missing[:5]} for this architecture")
    extra = [n for n in tensors if n not in names and not n.startswith(prefix_ok)]
    if extra:
        raise ValueError(f"{path}: unexpected tensor(s) {extra[:5]}: the file does not match this architecture")
    for name, w in zip(names, [w for l in model._layers for w in l._weights]):
        if tensors[name].shape != w.shape:
            raise ValueError(f"{path}: tensor {name!r} has shape {tensors[name].shape}, the model's weight "
                             f"has shape {w.shape}")
    model.set_weights([tensors[n] for n in names])


def save_model(model, path) -> None:
    path = os.fspath(path)
    if not path.endswith(MODEL_SUFFIX):
        raise ValueError(f"model.save: the file name must end in {MODEL_SUFFIX!r}, got {path!r} "
                         "(use save_weights for weights only)")
    atomic_write(path, model_to_bytes(model))


def model_to_bytes(model) -> bytes:
    """What model.save writes, as bytes."""
    model._require_built("save")
    tensors = weights_to_tensors(model)
    metadata = {"model": model.to_json(),
                "layer_state": json.dumps({str(i): l.get_state() for i, l in enumerate(model._layers)
                                           if l.get_state()})}
    if model.compiled:
        metadata["compile"] = json.dumps(model._compile_config())
        opt = model.optimizer
        if opt._size == model._params.size:
            for name, arr in opt.state_arrays().items():
                tensors[f"optimizer/{name}"] = arr
            metadata["optimizer_iterations"] = str(int(opt.iterations))
    return to_bytes(tensors, metadata)


def load_model(path, classes, compile=True):
    """A model saved by model.save: same architecture and weights and, when compile, the same
    optimizer (state included), loss and metrics, so training resumes where it stopped."""
    return _model_from(*read_file(path), os.fspath(path), compile, classes)


def model_from_bytes(data: bytes, classes, compile=True):
    """The model model_to_bytes wrote."""
    return _model_from(*from_bytes(data), "<bytes>", compile, classes)


def model_class(spec, classes, path):
    """The class (one of `classes`) a model architecture `spec` names, or a ValueError: a hostile
    file's class_name may be any JSON value."""
    name = spec.get("class_name") if isinstance(spec, dict) else None
    cls = classes.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{path}: expected a Sequential or Functional model, got {str(spec)[:80]!r}")
    return cls


def model_from_spec(spec, classes, path):
    """The model (fresh weights) an architecture `spec` describes: brisknet's classes, or a
    registered subclassed model."""
    name = spec.get("class_name") if isinstance(spec, dict) else None
    if isinstance(name, str) and name not in classes:
        return object_registration.subclassed_model(spec, path)
    return model_class(spec, classes, path).from_config(spec.get("config"), _source=path)


def _model_from(tensors, metadata, path, compile, classes):
    """classes: {"Sequential": ..., "Functional": ...}, brisknet's model classes, passed in so that
    this module stays below models."""
    spec = json_field(path, metadata, "model")
    model = model_from_spec(spec, classes, path)
    if not model.built:
        raise ValueError(f"{path}: the saved model has no input shape")
    if compile and "compile" in metadata:
        model._compile_from_config(json_field(path, metadata, "compile"), path)
    _restore(model, tensors, metadata, path, optimizer=compile)
    return model


def restore_into(model, path) -> None:
    """Weights, layer state and (when the model is compiled with the same optimizer) optimizer
    state from a .brisk file into `model`, which must have the file's architecture: how
    BackupAndRestore resumes a run."""
    tensors, metadata = read_file(path)
    _restore(model, tensors, metadata, os.fspath(path), optimizer=model.compiled)


def _restore(model, tensors, metadata, path, optimizer):
    model._weights_to_host()  # a device engine's newer copies first: the file replaces some
    tensors_to_weights(path, model, tensors)
    states = json_field(path, metadata, "layer_state") if "layer_state" in metadata else {}
    if not isinstance(states, dict):
        raise ValueError(f"{path}: layer_state must be an object")
    for index, state in states.items():
        try:
            model._layers[int(index)].set_state(state)
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path}: layer_state of layer {index}: {e}") from None
    if optimizer and model.optimizer is not None and "optimizer_iterations" in metadata:
        opt = model.optimizer
        opt.build(model._params.size)
        state = {k[len("optimizer/"):]: v for k, v in tensors.items() if k.startswith("optimizer/")}
        opt.load_state_arrays(state, path)
        try:
            opt.iterations = int(metadata["optimizer_iterations"])
        except ValueError:
            raise ValueError(f"{path}: optimizer_iterations is not an integer") from None
        model._weights_from_host()  # the optimizer's state goes to a device engine too


def save_weights(model, path) -> None:
    model._require_built("save_weights")
    write_file(path, weights_to_tensors(model), {"kind": "weights"})


def load_weights(model, path) -> None:
    model._require_built("load_weights")
    tensors, _ = read_file(path)
    tensors_to_weights(path, model, tensors)
