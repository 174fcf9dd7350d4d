"""Automatic differentiation over keras.ops: call() traced into an op graph (tracing.py), one
vector-Jacobian rule per primitive (rules.py), keras.ops on traced tensors (traced_ops.py), and
the graph run forward and backward on numpy (program.py)."""
from .program import Program
from .tracing import Tensor, Trace, TracingError, after_forward, current, in_layer, is_traced, recording

__all__ = ["Program", "Tensor", "Trace", "TracingError", "after_forward", "current", "in_layer", "is_traced", "recording"]
