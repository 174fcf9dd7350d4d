"""Objects to and from JSON-able configs, ``{"class_name": ..., "config": {...}}`` as Keras writes
them. Deserializing looks class names up in fixed tables of brisknet's own classes, and the
user's classes registered with register_keras_serializable or given as custom_objects, and passes
the config as keyword arguments: nothing in a config is ever executed or imported."""
from __future__ import annotations

from . import object_registration


def serialize(obj):
    """``{"class_name", "config"}`` of a brisknet object (None stays None)."""
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        raise ValueError(f"cannot serialize {obj!r}: only brisknet objects with get_config() can be "
                         "saved (a plain Python function has no config)")
    spec = {"class_name": type(obj).__name__, "config": obj.get_config()}
    registered = object_registration.get_registered_name(type(obj))
    if ">" in registered:  # the user's class (register_keras_serializable)
        spec["registered_name"] = registered
    return spec


def deserialize(spec, classes: dict, kind: str):
    """The object a ``serialize`` result describes, built from one of ``classes`` (name -> class)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config", {}), dict):
        raise ValueError(f"invalid {kind} config {spec!r}: expected {{'class_name': str, 'config': dict}}")
    name = spec["class_name"]
    cls = object_registration.find_class(spec) if spec.get("registered_name") else None
    cls = cls or classes.get(name) or object_registration.find_class(spec)
    if cls is None:
        raise ValueError(f"unknown {kind} class {name!r}; known: {sorted(classes)}, or "
                         f"{object_registration.register_hint(spec)}")
    config = spec.get("config", {})
    if not all(isinstance(k, str) for k in config):
        raise ValueError(f"invalid {kind} config for {name}: keys must be strings")
    try:
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    except TypeError as e:
        raise ValueError(f"invalid {kind} config for {name}: {e}") from None


def classes_of(module_globals, base) -> dict:
    """name -> class for every subclass of `base` (itself included) defined in a module."""
    return {name: obj for name, obj in module_globals.items()
            if isinstance(obj, type) and issubclass(obj, base)}
