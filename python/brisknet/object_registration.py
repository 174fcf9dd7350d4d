"""keras.saving.register_keras_serializable and custom_objects: the user's own classes that a
model file may name. Loading a file looks a class up by its registered name ("package>Name") or
class name among the classes registered here and those given in custom_objects (innermost
custom_object_scope first), and nowhere else: a file never makes brisknet run code the user did
not register."""
from __future__ import annotations

import contextlib
import threading

_REGISTERED: dict = {}  # "package>Name" -> class
_NAMES: dict = {}       # class -> "package>Name"
_scopes = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Decorator: the class may be named by model files as "package>name" (name: the class's)."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', got {package!r}")

    def decorator(cls):
        if not isinstance(cls, type) or not hasattr(cls, "get_config"):
            raise TypeError("register_keras_serializable decorates a class with get_config(), got "
                            f"{cls!r}")
        key = f"{package}>{name or cls.__name__}"
        _REGISTERED[key] = cls
        _NAMES[cls] = key
        return cls
    return decorator


def get_registered_name(obj) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return _NAMES.get(cls, cls.__name__)


def get_custom_objects() -> dict:
    """The registered classes by registered name (Keras' global dict; adding to it registers)."""
    return _REGISTERED


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within the block, loading also finds these {name: class} (load_model's custom_objects)."""
    if not isinstance(custom_objects, dict) or not all(isinstance(k, str) for k in custom_objects):
        raise ValueError(f"custom_objects must be a dict of names to classes, got {type(custom_objects).__name__}")
    stack = _scopes.__dict__.setdefault("stack", [])
    stack.append(custom_objects)
    try:
        yield
    finally:
        stack.pop()


CustomObjectScope = custom_object_scope


def get_registered_object(name, custom_objects=None):
    """The class a file names `name` (a registered or class name), or None."""
    for table in [custom_objects or {}, *reversed(getattr(_scopes, "stack", [])), _REGISTERED]:
        if name in table:
            return table[name]
    return None


def find_class(spec):
    """The user's class a file's {"class_name", "registered_name"} entry names, or None."""
    for key in (spec.get("registered_name"), spec.get("class_name")):
        if isinstance(key, str):
            cls = get_registered_object(key)
            if cls is not None:
                return cls
    return None
