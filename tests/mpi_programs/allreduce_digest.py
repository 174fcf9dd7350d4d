"""Prints (on rank 0) a digest of DataParallel.allreduce's sum of float32 values of very different
magnitudes, whose rounding depends on the order of the sum: tests/test_distributed.py runs it
with Open MPI's allreduce algorithms pinned by hand and with brisknet's own setting."""
import zlib

import numpy as np

from brisknet import distribution

dist = distribution.DataParallel()
rng = np.random.default_rng(dist.rank)
values = (rng.standard_normal(4000) * 10.0 ** rng.integers(-4, 8, 4000)).astype(np.float32)
dist.allreduce(values)
if dist.rank == 0:
    print(zlib.crc32(values.tobytes()))
