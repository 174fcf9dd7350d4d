"""Models: Sequential (and its compile/fit/evaluate/predict), and reading them back from files."""
import json as _json

from .cloning import clone_model
from .sequential import Sequential

__all__ = ["Sequential", "clone_model", "load_model", "model_from_json"]


def model_from_json(json_string, _path="json"):
    """The (uncompiled) model that model.to_json() describes."""
    try:
        spec = _json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{_path}: the model architecture is not valid JSON ({e})") from None
    if not isinstance(spec, dict) or spec.get("class_name") != "Sequential":
        raise ValueError(f"{_path}: expected a Sequential model, got {str(spec)[:80]!r}")
    return Sequential.from_config(spec.get("config"), _source=_path)


def load_model(filepath, compile=True):
    """A model saved with model.save(filepath) ('.brisk'); never executes code from the file."""
    from ..saving import load_model as _load
    return _load(filepath, compile=compile)
