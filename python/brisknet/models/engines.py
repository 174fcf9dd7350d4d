"""Which engine trains a model: the seam where a device is chosen (engine.py's interface)."""
from __future__ import annotations

from .cpu_engine import CpuEngine
from .engine import Engine


def engine_for(model, training=True, specs=None) -> Engine:
    """The engine of this model on its device: the CPU, the only device built so far. specs:
    engine.layer_specs(model) when the caller has them."""
    return CpuEngine(model, training, specs)
