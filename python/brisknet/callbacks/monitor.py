"""What the monitoring callbacks share: min/max mode of a monitored quantity, improvement, lookup."""
from __future__ import annotations

import warnings


def _monitor_mode(monitor, mode, who):
    """'min' or 'max' for a monitored quantity; 'auto' picks 'max' for accuracy-like metrics."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who}: mode {mode!r} is unknown, using 'auto'")
        mode = "auto"
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name.endswith("loss") or name.endswith("error"):
        return "min"
    if any(k in name for k in ("acc", "auc", "precision", "recall", "f1")):
        return "max"
    return "min"


def _improves(mode, value, reference, min_delta=0.0):
    """Whether `value` beats `reference` by more than min_delta in the direction of `mode`."""
    return value - abs(min_delta) > reference if mode == "max" else value + abs(min_delta) < reference


def _monitored(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who}: {monitor!r} is not among the logs ({sorted(logs or {})}); skipping",
                      stacklevel=3)
    return value
