"""keras.saving.register_keras_serializable and custom_objects: the user's own classes that a
model file may name. Loading a file looks a class up by its registered name ("package>Name") or
class name among the classes registered here and those given in custom_objects (innermost
custom_object_scope first), and nowhere else: a file never makes brisknet run code the user did
not register."""
from __future__ import annotations

import contextlib
import json
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


# ------------------------------------------------------------------------ in model files
def file_entry(obj, input_shape) -> dict:
    """A custom layer's or subclassed model's entry in a model file, as Keras writes it: its class
    by registered name, its get_config(), the input shape it was built for (no batch)."""
    cls = type(obj)
    registered = get_registered_name(cls)
    entry = {"module": None if ">" in registered else cls.__module__, "class_name": cls.__name__,
             "config": obj.get_config(), "registered_name": registered}
    try:
        json.dumps(entry["config"])
    except (TypeError, ValueError):
        raise ValueError(f"save: the get_config() of {cls.__name__} {obj.name!r} is not JSON data") from None
    if input_shape is not None:
        entry["build_config"] = {"input_shape": [None, *input_shape]}
    return entry


def register_hint(spec) -> str:
    name = spec.get("registered_name") or spec.get("class_name")
    return (f"decorate the class with @keras.saving.register_keras_serializable() or pass "
            f"custom_objects={{{name!r}: ...}} to load_model")


def from_entry(cls, spec, what, source):
    """The user's class made from a file entry's config by its from_config (code the user wrote
    and registered, not code from the file)."""
    if not isinstance(cls, type) or not hasattr(cls, "from_config"):
        raise ValueError(f"{source}: {spec.get('class_name')!r} is registered as {cls!r}, not a class")
    config = spec.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{source}: {what} {spec.get('class_name')!r} has no config object")
    try:
        return cls.from_config(dict(config))
    except Exception as e:  # (the user's code, on a config the file gave: any failure is the file's ValueError)
        raise ValueError(f"{source}: {what} {spec.get('class_name')!r}: {cls.__name__}.from_config failed "
                         f"({type(e).__name__}: {e})") from None


def subclassed_model(spec, source):
    """A registered keras.Model subclass from its file entry, built for the entry's input shape
    (fresh weights; the global generator left as it was)."""
    from . import runtime
    cls = find_class(spec)
    kind = spec.get("class_name")
    if cls is None:
        raise ValueError(f"{source}: model class {kind!r} is not Sequential, Functional or registered "
                         f"({register_hint(spec)}); loading never runs code from a file")
    saved_rng = runtime.global_rng().bit_generator.state
    try:
        model = from_entry(cls, spec, "model", source)
        if not (hasattr(model, "fit") and getattr(model, "_is_custom", False)):
            raise ValueError(f"{source}: {kind!r} is registered as {cls.__name__}, which is not a keras.Model subclass")
        shape = (spec.get("build_config") or {}).get("input_shape")
        if shape is not None:
            if not isinstance(shape, list) or len(shape) < 2 or \
                    not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape[1:]):
                raise ValueError(f"{source}: input shape must be [batch, positive ints...], got {shape!r}")
            try:
                model.build([None, *shape[1:]])
            except (TypeError, ValueError, NotImplementedError) as e:
                raise ValueError(f"{source}: building {kind} for input shape {shape}: {e}") from None
    finally:
        runtime.global_rng().bit_generator.state = saved_rng
    return model
