"""Data-parallel training across processes on MPI, in Keras 3's names: initialize(), rank(),
world_size(), DataParallel() and set_distribution().

    brisknet.distribution.set_distribution(brisknet.distribution.DataParallel())
    model.fit(x, y, batch_size=256)        # run as: mpirun -np 4 python train.py

Global-batch semantics (Keras' data parallelism; Horovod with a scaled batch): batch_size is the
whole batch; every process shuffles with the same order (rank 0's, broadcast), takes a contiguous
part of each batch, and after backward one allreduce sums the flat gradient buffer (mpi4py's
buffer API: no pickling, no per-layer messages), so every process applies the same update. The
weights and optimizer state start as rank 0's. Losses and metrics are global: each chunk's batch
losses and predictions are summed across processes before the logs are made.

Open MPI's allreduce is pinned to its ring algorithm (an MCA setting made before MPI starts): one
algorithm sums in one order, so reruns with the same number of processes give the same bits, and
every process receives the same bits (each element is summed on one process, then passed round).
The weights are compared across processes every epoch (a checksum): a mismatch raises.

With one process, or without a distribution set, nothing changes. mpi4py (the extra
`brisknet[mpi]`, over Open MPI) is imported only by initialize()."""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading

import numpy as np

from . import runtime

__all__ = ["initialize", "rank", "world_size", "DataParallel", "set_distribution", "distribution"]

_world = None         # the mpi4py module's MPI, once initialized
_distribution = None  # what set_distribution set


def initialize():
    """Joins the MPI world started by mpirun (a world of one process without it)."""
    global _world
    if _world is None:
        # before MPI_Init: Open MPI reads its MCA parameters from the environment then
        os.environ.setdefault("OMPI_MCA_coll_tuned_use_dynamic_rules", "1")
        os.environ.setdefault("OMPI_MCA_coll_tuned_allreduce_algorithm", "4")  # ring
        os.environ.setdefault("OMPI_MCA_coll_han_priority", "0")  # across machines too (Open MPI 5's default: 35)
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError("brisknet.distribution needs mpi4py over Open MPI: apt-get install openmpi-bin "
                              "libopenmpi-dev, then pip install 'brisknet[mpi]'") from e
        _world = MPI
    return _world.COMM_WORLD


def rank() -> int:
    """This process's rank (0 before initialize())."""
    return _world.COMM_WORLD.Get_rank() if _world is not None else 0


def world_size() -> int:
    """The number of processes (1 before initialize())."""
    return _world.COMM_WORLD.Get_size() if _world is not None else 1


class DataParallel:
    """Every process holds the whole model and trains on its part of each batch (Keras' name;
    `devices` is accepted for its signature: here a device is a process). overlap=True sums the
    gradient in buckets of about bucket_bytes while backward goes on (off by default: it pays only
    where the processes have cores to spare; README, "Data-parallel training on MPI")."""

    def __init__(self, devices=None, device_mesh=None, auto_shard_dataset=True, overlap=False,
                 bucket_bytes=1 << 20):
        self.comm = initialize()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.overlap, self.bucket_bytes = bool(overlap), int(bucket_bytes)
        self._buckets = None
        if self.overlap and _world.Query_thread() < _world.THREAD_SERIALIZED:
            raise RuntimeError("DataParallel(overlap=True) sums gradients on a second thread: MPI was started "
                               "without thread support (mpi4py.rc.thread_level)")
        if self.bucket_bytes <= 0:
            raise ValueError(f"bucket_bytes must be > 0, got {bucket_bytes}")
        if self.size > 1:
            _abort_on_uncaught_exceptions(self.comm)

    # ---------------------------------------------------------------- what fit calls
    def broadcast(self, array) -> None:
        """Rank 0's values of `array` on every process, in place."""
        self.comm.Bcast(array, root=0)

    def allreduce(self, array) -> None:
        """The sum over processes of `array`, in place, on every process."""
        self.comm.Allreduce(_world.IN_PLACE, array, op=_world.SUM)

    def train_hooks(self, grads) -> dict:
        """engine.train's keywords for this process's part of each step, on the flat gradient
        buffer `grads`."""
        hooks = {"reduce": self.reduce_gradient, "shard": (self.rank, self.size)}
        if self.overlap:
            if self._buckets is None:
                self._buckets = _GradientBuckets(self.comm, self.bucket_bytes)
            self._buckets.grads = grads
            hooks["gradient_ready"] = self._buckets.ready
        return hooks

    def reduce_gradient(self, grads) -> None:
        """The engine's reduce phase: the whole batch's gradient on every process; and the
        processes agree whether one of them was interrupted (then all stop before this update)."""
        if self.overlap:
            self._buckets.finish()  # its buckets were sent during backward
        else:
            self.allreduce(grads)
        self.stop_if_interrupted()

    @contextlib.contextmanager
    def interrupts_between_steps(self):
        """Within: SIGINT and SIGTERM only mark this process (Open MPI's mpirun turns a Ctrl-C into
        SIGTERM for every process, and SIGKILL a moment later); the processes agree at each step's
        reduce and at the end, and all raise KeyboardInterrupt at the same step, between two
        complete steps, so their weights stay the same."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._interrupted = np.zeros(1, np.int32)
        previous = {sig: signal.signal(sig, lambda signum, frame: self._interrupted.fill(1))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stop_if_interrupted()

    def stop_if_interrupted(self) -> None:
        flag = getattr(self, "_interrupted", None)
        if flag is None:
            return
        agreed = flag.copy()
        self.comm.Allreduce(_world.IN_PLACE, agreed, op=_world.MAX)
        if agreed[0]:
            self._interrupted = None
            stop = KeyboardInterrupt(f"data-parallel fit interrupted: every process stopped at the same step "
                                     f"(rank {self.rank} of {self.size})")
            stop.brisknet_agreed = True  # every process raises it: no need to abort the job
            raise stop

    def agree(self, value: int, op="root") -> int:
        """One integer for every process: rank 0's ("root") or the largest ("max")."""
        v = np.array([value], np.int64)
        if op == "root":
            self.broadcast(v)
        else:
            self.comm.Allreduce(_world.IN_PLACE, v, op=_world.MAX)
        return int(v[0])

    def start(self, model, first_epoch=None):
        """Every process starts from rank 0's weights, optimizer state, dropout seeds and counters,
        random generator (so every process shuffles as rank 0 does) and, when given, first epoch
        (returned: rank 0's BackupAndRestore may have resumed a run)."""
        if first_epoch is not None:
            first_epoch = self.agree(first_epoch)
        self.sync_generator()
        model.optimizer.build(model._params.size)
        self.broadcast(model._params)
        for state in model.optimizer.state_arrays().values():
            self.broadcast(state)
        scalars = np.array([model.optimizer.iterations] + [getattr(l, "_calls", 0) for l in model._layers], np.int64)
        seeds = np.array([getattr(l, "_base_seed", None) or 0 for l in model._layers], np.uint64)  # dropout masks
        self.broadcast(scalars)
        self.broadcast(seeds)
        model.optimizer.iterations = int(scalars[0])
        for layer, calls, seed in zip(model._layers, scalars[1:], seeds):
            if hasattr(layer, "_calls"):
                layer._calls, layer._base_seed = int(calls), int(seed)
        return first_epoch

    def sync_generator(self) -> None:
        """Every process's brisknet generator takes rank 0's state (shuffles and draws alike)."""
        generator = runtime.global_rng().bit_generator
        state = generator.state
        if state["bit_generator"] != "PCG64":
            raise NotImplementedError(f"data-parallel fit: brisknet's generator is {state['bit_generator']}, not PCG64")
        low = (1 << 64) - 1
        s, inc = state["state"]["state"], state["state"]["inc"]
        words = np.array([s & low, s >> 64, inc & low, inc >> 64, state["has_uint32"], state["uinteger"]], np.uint64)
        self.broadcast(words)
        w = [int(v) for v in words]
        generator.state = {"bit_generator": "PCG64", "state": {"state": w[0] | w[1] << 64, "inc": w[2] | w[3] << 64},
                           "has_uint32": w[4], "uinteger": w[5]}

    def part(self, n):
        """[lo, hi): this process's contiguous part of n rows (as the engine splits a batch)."""
        return n * self.rank // self.size, n * (self.rank + 1) // self.size

    def allgather_rows(self, local, n):
        """Every process's part of n rows of float32 (from part()), assembled in order on every process."""
        local = np.ascontiguousarray(local, np.float32)
        width = int(np.prod(local.shape[1:]))
        counts = [(n * (r + 1) // self.size - n * r // self.size) * width for r in range(self.size)]
        out = np.empty((n,) + local.shape[1:], np.float32)
        self.comm.Allgatherv(local, [out, counts, np.cumsum([0] + counts[:-1]).tolist(), _world.FLOAT])
        return out

    def check_same_weights(self, model, during="data-parallel fit") -> None:
        """Raises unless every process holds the same weights (bit for bit)."""
        mine = np.ascontiguousarray(model._params).view(np.uint32)
        digest = np.array([int(np.bitwise_xor.reduce(mine)) if mine.size else 0,
                           int(mine.astype(np.uint64).sum() & 0xFFFFFFFF)], np.int64)
        low, high = digest.copy(), digest.copy()
        self.comm.Allreduce(_world.IN_PLACE, low, op=_world.MIN)
        self.comm.Allreduce(_world.IN_PLACE, high, op=_world.MAX)
        if not np.array_equal(low, high):
            raise RuntimeError(f"{during}: the weights differ between processes (rank {self.rank}); they must be "
                               "bit-identical (fit starts every process from rank 0's weights; a model not "
                               "trained yet needs the same seed on every process)")


class _GradientBuckets:
    """Sums the gradient across processes in parts while backward computes the rest (overlap):
    the engine reports each variable's gradient as complete, last layer first; adjacent ones
    (neighbours in the flat buffer) gather into a bucket, and a full bucket (bucket_bytes) is
    summed by one Allreduce on a thread of its own. The buckets depend on the model alone, so
    every process makes the same calls in the same order, and reruns give the same bits."""

    def __init__(self, comm, bucket_bytes):
        self.comm, self.bucket = comm, max(1, bucket_bytes // 4)
        self.grads, self.lo, self.hi, self.sent = None, 0, 0, 0
        self.buckets_sent = 0  # in all (tests count them)
        self.todo, self.done = queue.SimpleQueue(), queue.SimpleQueue()
        threading.Thread(target=self._serve, name="brisknet-allreduce", daemon=True).start()

    def _serve(self):
        while True:
            part = self.todo.get()
            try:  # mpi4py lets go of the GIL inside MPI: backward goes on meanwhile
                self.comm.Allreduce(_world.IN_PLACE, part, op=_world.SUM)
                self.done.put(None)
            except BaseException as e:  # noqa: B036 - handed to the training thread
                self.done.put(e)

    def ready(self, offset, size) -> None:
        """grads[offset, offset + size) is complete on this process."""
        if self.hi > self.lo and offset + size != self.lo and offset != self.hi:
            self._send()  # not adjacent to the open bucket
        self.lo, self.hi = (offset, offset + size) if self.hi == self.lo else \
            (min(self.lo, offset), max(self.hi, offset + size))
        if self.hi - self.lo >= self.bucket:
            self._send()

    def _send(self) -> None:
        self.todo.put(self.grads[self.lo:self.hi])
        self.sent, self.lo, self.hi = self.sent + 1, 0, 0
        self.buckets_sent += 1

    def finish(self) -> None:
        """Sends the last bucket and waits for every bucket of this step."""
        if self.hi > self.lo:
            self._send()
        errors = [self.done.get() for _ in range(self.sent)]
        self.sent = 0
        for e in errors:
            if e is not None:
                raise e


def _abort_on_uncaught_exceptions(comm) -> None:
    """An exception that ends this process aborts the whole MPI job: without it, the others would
    wait for this one in their next allreduce forever (mpirun then exits non-zero, naming the rank;
    a process that is killed outright is detected by mpirun itself)."""
    previous = sys.excepthook
    if getattr(previous, "_brisknet_abort", False):
        return

    def abort(kind, value, traceback):
        previous(kind, value, traceback)
        if getattr(value, "brisknet_agreed", False):
            return  # a stop every process agreed on: they all end the same way
        sys.stderr.write(f"brisknet.distribution: rank {comm.Get_rank()} of {comm.Get_size()} stopped on "
                         f"{kind.__name__}; aborting every process\n")
        sys.stderr.flush()
        comm.Abort(1)
    abort._brisknet_abort = True
    sys.excepthook = abort


def set_distribution(value) -> None:
    """Sets the distribution fit uses (a DataParallel, or None for one process)."""
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution expects a DataParallel or None, got {type(value).__name__}")
    _distribution = value


def distribution():
    """The distribution set, or None."""
    return _distribution


def active():
    """The distribution fit should use: a DataParallel over more than one process, else None."""
    d = _distribution
    return d if d is not None and d.size > 1 else None
