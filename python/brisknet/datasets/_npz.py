"""Keras' .npz files of ragged sequences (imdb.npz, reuters.npz) read without running code: their
object arrays are pickle streams, unpickled here with only numpy's array-rebuilding globals allowed
(a tampered file that names anything else is refused), the numeric arrays with pickle disabled."""
from __future__ import annotations

import pickle
import zipfile

import numpy as np

_ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                      ("numpy._core.multiarray", "_reconstruct")})


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file (only numpy arrays "
                                     "are read); the file may be corrupt or tampered with")


def _read_member(fp):
    version = np.lib.format.read_magic(fp)
    if version[0] == 1:
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version[0] in (2, 3):  # (3.0 differs from 2.0 only in the header's text encoding)
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not dtype.hasobject:
        count = int(np.prod(shape)) if shape else 1
        data = np.frombuffer(fp.read(count * dtype.itemsize), dtype=dtype, count=count)
        return data.reshape(shape[::-1]).T if fortran else data.reshape(shape)
    value = _ArraysOnly(fp).load()
    if not isinstance(value, np.ndarray):
        raise ValueError("a dataset file's member is not an array")
    return value


def load(path) -> dict:
    """{name: array} of an .npz file, as np.load would give with allow_pickle, but safely."""
    try:
        with zipfile.ZipFile(path) as z:
            out = {}
            for member in z.namelist():
                if member.endswith(".npy"):
                    with z.open(member) as fp:
                        out[member[:-4]] = _read_member(fp)
            return out
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a readable dataset file ({e})") from None
