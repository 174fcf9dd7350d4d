"""Models: Sequential (and its compile/fit/evaluate/predict), Model (the functional API), and
reading them back from files."""
import json as _json

from .cloning import clone_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]

MODEL_CLASSES = {"Sequential": Sequential, "Functional": Functional}  # by the class_name model files give


def save_model(model, filepath, overwrite=True, **kwargs):
    """keras.models.save_model: model.save(filepath, overwrite)."""
    if kwargs:
        raise TypeError(f"save_model: unexpected arguments {sorted(kwargs)}")
    model.save(filepath, overwrite=overwrite)


def model_from_json(json_string, _path="json"):
    """The (uncompiled) model that model.to_json() describes."""
    try:
        spec = _json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{_path}: the model architecture is not valid JSON ({e})") from None
    from ..brisk_format import model_from_spec
    return model_from_spec(spec, MODEL_CLASSES, _path)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with model.save(filepath): a Keras 3 '.keras' archive (brisknet's or Keras'
    own, for the layers brisknet has and the user's classes) or a '.brisk' file. Never executes
    code from the file: the user's classes come from register_keras_serializable or
    custom_objects ({name: class}), and a Lambda is refused (safe_mode is always on)."""
    import os
    import zipfile

    from .. import brisk_format, keras_archive, object_registration
    if custom_objects is not None and (not isinstance(custom_objects, dict) or
                                       not all(isinstance(c, type) for c in custom_objects.values())):
        raise ValueError("load_model: custom_objects must map names to the classes a file names (loading never "
                         "runs code from a file)")
    path = os.fspath(filepath)
    with object_registration.custom_object_scope(custom_objects or {}):
        if path.endswith(".keras") or (os.path.isfile(path) and zipfile.is_zipfile(path)):
            return keras_archive.load_archive(path, MODEL_CLASSES, compile, path)
        return brisk_format.load_model(path, MODEL_CLASSES, compile=compile)
