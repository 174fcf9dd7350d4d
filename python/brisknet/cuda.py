"""brisknet's CUDA backend: whether it is here, and its switches (PyTorch's torch.cuda names).

    brisknet.cuda.is_built()          # was brisknet built with CUDA (the _cuda module)?
    brisknet.cuda.is_available()      # ... and can it run here (an NVIDIA driver, a device)?
    brisknet.cuda.device_count(), brisknet.cuda.get_device_name(0)
    brisknet.cuda.allow_tf32 = True   # TF32 tensor cores in the GEMMs: off by default (as PyTorch)

A model trains on the GPU with `Sequential([...], device="cuda")`, `brisknet.set_device("cuda")`
or `with brisknet.device("gpu:0"):` (Keras' spelling); asking for it where it cannot run raises
one RuntimeError that says which part is missing."""
from __future__ import annotations

import ctypes.util

allow_tf32 = False


def _module():
    try:
        from . import _cuda
    except ImportError:
        return None
    return _cuda


def is_built() -> bool:
    """Whether this brisknet has its CUDA module (built where a CUDA toolkit was found)."""
    return _module() is not None


def why_not() -> str | None:
    """Why the GPU cannot be used here (None: it can)."""
    cuda = _module()
    if cuda is None:
        return ("brisknet was built without CUDA (no CUDA toolkit was found when it was built; reinstall "
                "where nvcc is on the PATH, with BRISKNET_CUDA=ON to make that build fail without one)")
    devices, error = cuda.availability()
    if not error:
        return None
    if ctypes.util.find_library("cuda") is None:
        return "no NVIDIA driver: libcuda.so is not installed on this machine"
    return error


def is_available() -> bool:
    """Whether a model can train on a CUDA device here."""
    return why_not() is None


def device_count() -> int:
    cuda = _module()
    return cuda.availability()[0] if cuda is not None else 0


def require(index: int = 0) -> None:
    """Raises RuntimeError (saying what is missing) unless CUDA device `index` can be used."""
    reason = why_not()
    if reason is not None:
        raise RuntimeError(f"CUDA was asked for but cannot run here: {reason}")
    count = device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"CUDA device {index} does not exist: this machine has {count}")


def get_device_name(device: int = 0) -> str:
    require(device)
    return _module().device_name(int(device))
