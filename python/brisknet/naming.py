"""Keras' automatic names: a class in snake case, numbered per base (dense, dense_1, ...), reset by
keras.backend.clear_session."""
from __future__ import annotations

import re
from collections import defaultdict

_name_counts: dict = defaultdict(int)


def to_snake_case(name: str) -> str:
    """Keras' to_snake_case: LeakyReLU -> leaky_re_lu, Dense -> dense."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reset_names() -> None:
    """Start the automatic names afresh."""
    _name_counts.clear()


def clear_session(free_memory=True) -> None:
    """keras.backend / keras.utils clear_session: the automatic names start afresh."""
    reset_names()
