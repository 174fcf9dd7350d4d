"""Data-parallel training speed of the reference model: samples/s of one epoch on 12,000
Fashion-MNIST images at a global batch of 256, the reduce phase's share of the epoch (the time
the training thread waits for the gradient's sum), with the gradient summed after backward and
summed in buckets during backward (overlap), epochs of the two alternating. Run it under mpirun
with 1, 2, 4 processes (each process uses OMP_NUM_THREADS threads):

    OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 python benchmarks/mpi_scaling.py [global_batch] [bucket_bytes]

(REPEATS=n: epochs of each kind, 3 by default; the medians are printed.)
"""
import os
import statistics
import sys
import time

import brisknet
from brisknet import distribution, reference

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
bucket_bytes = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
dist = distribution.DataParallel(bucket_bytes=bucket_bytes)
distribution.set_distribution(dist)
(x, y), _ = reference.load_fashion_mnist()
x, y = x[:12_000], y[:12_000]
brisknet.utils.set_random_seed(0)
model = reference.build_model()
waited = [0.0]
reduce_gradient = dist.reduce_gradient


def timed_reduce(grads):  # the reduce phase as the training thread sees it
    start = time.perf_counter()
    reduce_gradient(grads)
    waited[0] += time.perf_counter() - start


dist.reduce_gradient = timed_reduce
results = {False: [], True: []}
for overlap in (False, True):  # warm-up: workspaces, the bucket thread
    dist.overlap = overlap
    model.fit(x[:2048], y[:2048], batch_size=batch, epochs=1, verbose=0)
for _ in range(int(os.environ.get("REPEATS", "3"))):
    for overlap in (False, True):
        dist.overlap = overlap
        waited[0] = 0.0
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        elapsed = time.perf_counter() - start
        results[overlap].append((x.shape[0] / elapsed, waited[0] / elapsed))
if dist.rank == 0:
    for overlap, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        share = statistics.median(s for _, s in runs)
        print(f"{dist.size} process(es), global batch {batch}, "
              f"{'buckets of %d KiB during backward' % (bucket_bytes // 1024) if overlap else 'sum after backward':>33}: "
              f"{rate:,.0f} samples/s, reduce waits {100 * share:.0f} % of the epoch")
    print(f"overlap / after: {statistics.median(r for r, _ in results[True]) / statistics.median(r for r, _ in results[False]):.2f}")
