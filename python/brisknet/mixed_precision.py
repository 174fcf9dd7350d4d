"""Keras 3's dtype policies (``keras.mixed_precision``): which dtype a layer keeps its variables in
and which it computes in. ``"float32"`` (the default) and ``"mixed_bfloat16"``: variables, optimizer
state, losses and softmax stay float32, and the products of a mixed_bfloat16 layer (Dense, the
convolutions' patches, the recurrent layers' GEMMs, attention and its projections, and the
ops.matmul / ops.dot_product_attention its call() makes) round their operands to bfloat16 and sum
in float32, on AMX or AVX512-BF16 where the CPU has them (``kernels.bf16_path()``)."""
from __future__ import annotations

import threading

import numpy as np

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy"]

# name -> (compute dtype, variable dtype)
_POLICIES = {"float32": ("float32", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}


class DTypePolicy:
    """A layer's dtype policy (Keras' ``keras.DTypePolicy``): ``DTypePolicy("mixed_bfloat16")``."""

    def __init__(self, name=None):
        if name is None:
            name = global_policy().name
        if isinstance(name, DTypePolicy):
            name = name.name
        if isinstance(name, type) or isinstance(name, np.dtype):
            name = np.dtype(name).name
        if not isinstance(name, str) or name not in _POLICIES:
            hint = (" (float16 has no fast path on CPUs: use 'mixed_bfloat16')"
                    if isinstance(name, str) and "float16" in name and "bfloat16" not in name else "")
            raise ValueError(f"dtype policy {name!r} is not supported: brisknet supports {sorted(_POLICIES)}{hint}")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return _POLICIES[self._name][0]

    @property
    def variable_dtype(self) -> str:
        return _POLICIES[self._name][1]

    @property
    def quantization_mode(self):
        return None

    @property
    def bf16(self) -> bool:
        """Whether layers under this policy multiply in bfloat16."""
        return self.compute_dtype == "bfloat16"

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # keras.mixed_precision.Policy

_global = threading.local()  # (per thread, as Keras' global state)


def set_global_policy(policy) -> None:
    """The policy of every layer made from now on without a dtype argument (None: float32)."""
    _global.policy = DTypePolicy(policy if policy is not None else "float32")


def global_policy() -> DTypePolicy:
    policy = getattr(_global, "policy", None)
    if policy is None:
        policy = _global.policy = DTypePolicy("float32")
    return policy


set_dtype_policy = set_global_policy  # keras.config.set_dtype_policy
dtype_policy = global_policy           # keras.config.dtype_policy


def policy_of(dtype) -> DTypePolicy:
    """A layer's dtype argument as a policy: None (the global policy), a name, a numpy dtype, a
    DTypePolicy, or Keras' serialized form ({"class_name": "DTypePolicy", "config": {"name": ...}})."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, dict):
        config = dtype.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        if name is None:
            raise ValueError(f"malformed dtype policy {dtype!r}")
        return DTypePolicy(name)
    return DTypePolicy(dtype)


class computing:
    """While a layer's call() runs: the products its keras.ops make (ops.matmul, eager or traced)
    follow its policy, as Keras autocasts a mixed_bfloat16 layer's inputs and variables to bfloat16.
    A layer inside another computes under its own policy."""

    def __init__(self, policy: DTypePolicy):
        self._bf16 = policy.bf16

    def __enter__(self):
        self._outer = getattr(_global, "bf16_compute", False)
        _global.bf16_compute = self._bf16

    def __exit__(self, *exc):
        _global.bf16_compute = self._outer


def computing_bf16() -> bool:
    """Whether the layer whose call() is running computes in bfloat16."""
    return getattr(_global, "bf16_compute", False)


def serialize(policy: DTypePolicy) -> dict:
    """Keras 3's config entry for a layer's policy."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}
