"""Which engine trains a model: the seam where a device is chosen (engine.py's interface)."""
from __future__ import annotations

from .cpu_engine import CpuEngine
from .engine import Engine


def engine_for(model, training=True, specs=None) -> Engine:
    """The engine of this model on its device (model._placement(): its own, or the one in effect).
    specs: engine.layer_specs(model) when the caller has them."""
    kind, index = model._placement()
    if kind == "cuda":
        from .cuda_engine import CudaEngine  # the CUDA module loads only when a model asks for it
        return CudaEngine(model, training, specs, device=index)
    return CpuEngine(model, training, specs)
