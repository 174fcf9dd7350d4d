"""Where models train: "cpu" (the default) or a CUDA device, by PyTorch's names ("cuda",
"cuda:1") or Keras' ("gpu", "gpu:0").

    brisknet.set_device("cuda")         # models without a device of their own train there
    with brisknet.device("gpu:0"):      # Keras 3's context manager: within the block
        model.fit(x, y)
    Sequential([...], device="cuda")    # this model, wherever it runs

A model's own device wins; otherwise the device in effect when it trains or predicts."""
from __future__ import annotations

import contextlib
import threading

from . import cuda

__all__ = ["set_device", "get_device", "device"]

_default = ("cpu", 0)
_scoped = threading.local()  # the `with device(...)` stack of each thread


def parse(name) -> tuple:
    """("cpu", 0) or ("cuda", index) from a device name; ValueError for anything else, and
    RuntimeError (what is missing) for a CUDA device that cannot run here."""
    if not isinstance(name, str):
        raise TypeError(f"a device name is a string such as 'cpu', 'cuda' or 'gpu:0', got {type(name).__name__}")
    kind, _, index = name.strip().lower().partition(":")
    if kind == "cpu" and index in ("", "0"):
        return ("cpu", 0)
    if kind in ("cuda", "gpu") and (index == "" or index.isdigit()):
        place = ("cuda", int(index or 0))
        cuda.require(place[1])
        return place
    raise ValueError(f"unknown device {name!r}: expected 'cpu', 'cuda', 'cuda:N', 'gpu' or 'gpu:N'")


def name_of(place) -> str:
    return "cpu" if place[0] == "cpu" else f"cuda:{place[1]}"


def set_device(name) -> None:
    """The device models without one of their own train on."""
    global _default
    _default = parse(name)


def current() -> tuple:
    stack = getattr(_scoped, "stack", None)
    return stack[-1] if stack else _default


def get_device() -> str:
    """The device in effect here ('cpu' or 'cuda:N')."""
    return name_of(current())


@contextlib.contextmanager
def device(name):
    """Keras 3's keras.device: models without a device of their own train on `name` within."""
    place = parse(name)
    stack = getattr(_scoped, "stack", None)
    if stack is None:
        stack = _scoped.stack = []
    stack.append(place)
    try:
        yield
    finally:
        stack.pop()
