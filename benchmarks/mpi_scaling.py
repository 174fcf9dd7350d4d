"""Data-parallel training speed of the reference model: samples/s of one epoch on 12,000
Fashion-MNIST images at a global batch of 256, and the allreduce's share of the step. Run it
under mpirun with 1, 2, 4 processes (each process uses OMP_NUM_THREADS threads):

    OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 python benchmarks/mpi_scaling.py [global_batch]
"""
import sys
import time

import numpy as np

import brisknet
from brisknet import distribution, reference

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
dist = distribution.DataParallel()
distribution.set_distribution(dist)
(x, y), _ = reference.load_fashion_mnist()
x, y = x[:12_000], y[:12_000]
brisknet.utils.set_random_seed(0)
model = reference.build_model()
spent = [0.0]
allreduce = dist.allreduce


def timed_allreduce(array):  # the reduce phase, timed
    start = time.perf_counter()
    allreduce(array)
    spent[0] += time.perf_counter() - start


model.fit(x[:2048], y[:2048], batch_size=batch, epochs=1, verbose=0)  # warm-up: workspaces
dist.allreduce = timed_allreduce
spent[0] = 0.0
start = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
elapsed = time.perf_counter() - start
if dist.rank == 0:
    print(f"{dist.size} process(es), global batch {batch}: {x.shape[0] / elapsed:,.0f} samples/s, "
          f"allreduce {100 * spent[0] / elapsed:.0f} % of the epoch")
