"""Data-parallel fit under mpirun (Open MPI + mpi4py; skipped where either is missing): N processes
give one process's weights to float32 round-off, and the same bits on a rerun with the same N."""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

PROGRAM = os.path.join(os.path.dirname(__file__), "mpi_programs", "data_parallel_fit.py")
MPIRUN = shutil.which("mpirun")

HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None

pytestmark = pytest.mark.skipif(not (MPIRUN and HAVE_MPI4PY), reason="needs Open MPI's mpirun and mpi4py")


def launch(tmp_path, name, processes, mode, timeout=180):
    cmd = [sys.executable, PROGRAM, str(tmp_path / f"{name}.npz"), mode]
    if processes is not None:
        cmd = [MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np", str(processes)] + cmd
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def run(tmp_path, name, processes=None, data="arrays", mode=None):
    """The program alone (processes=None) or under mpirun; rank 0's results."""
    out = str(tmp_path / f"{name}.npz")
    if mode is None:
        mode = ("single" if processes is None else "parallel") if data == "arrays" else \
            ("dataset-single" if processes is None else "dataset")
    res = launch(tmp_path, name, processes, mode)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_give_one_process_result_and_the_same_bits_again(tmp_path, processes):
    single = run(tmp_path, "single")
    first = run(tmp_path, "first", processes)
    again = run(tmp_path, "again", processes)
    assert int(first["world"]) == processes and int(single["world"]) == 1
    weights = sorted(k for k in single if k.startswith("arr_"))
    for k in weights:  # the gradient sums in another order: float32 round-off
        np.testing.assert_allclose(first[k], single[k], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(first["loss"], single["loss"], rtol=1e-5)
    np.testing.assert_array_equal(first["accuracy"], single["accuracy"])  # global metrics
    np.testing.assert_allclose(first["val_loss"], single["val_loss"], rtol=1e-5)
    np.testing.assert_array_equal(first["val_accuracy"], single["val_accuracy"])
    for k in first:
        np.testing.assert_array_equal(again[k], first[k])  # a fixed reduction order
    # predict splits the rows between the processes: a row's outputs do not depend on its batch,
    # so the gathered predictions are those of all rows on one process, bit for bit
    np.testing.assert_array_equal(first["predictions"], first["unsharded"])
    np.testing.assert_allclose(first["predictions"], single["predictions"], rtol=1e-4, atol=1e-6)
    # evaluate too: every process its part of the rows, the per-sample losses and outputs gathered
    np.testing.assert_array_equal(first["evaluated"], first["unsharded_evaluated"])
    written = sorted(p.name for p in tmp_path.iterdir() if ".rank" in p.name and p.name.startswith("first"))
    assert written == ["first.npz.rank0.brisk", "first.npz.rank0.csv"]  # rank 0 alone writes files


def test_a_convnet_trains_data_parallel(tmp_path):
    """Convolutions, pooling and dropout of whole channels in the engine, 2 processes: one
    process's weights to float32 round-off (each process sums its chunks' kernel gradients), the
    same masks, and the same bits again."""
    single = run(tmp_path, "single", mode="convnet-single")
    first = run(tmp_path, "first", 2, mode="convnet")
    again = run(tmp_path, "again", 2, mode="convnet")
    for k in sorted(k for k in single if k.startswith("arr_")):
        np.testing.assert_allclose(first[k], single[k], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(first["loss"], single["loss"], rtol=1e-5)
    np.testing.assert_array_equal(first["predictions"], first["unsharded"])
    for k in first:
        np.testing.assert_array_equal(again[k], first[k])


@pytest.mark.parametrize("processes", [2, 4])
def test_gradient_buckets_summed_during_backward_give_the_same_result(tmp_path, processes):
    """overlap=True: each step's gradient is summed in buckets (here 2 per step) while backward
    goes on. Two processes add a + b in either bucketing: the same bits; with four, the ring
    sums a bucket in another order than the whole buffer: round-off, and the same bits again."""
    whole = run(tmp_path, "whole", processes)
    buckets = run(tmp_path, "buckets", processes, mode="overlap")
    again = run(tmp_path, "again", processes, mode="overlap")
    assert int(buckets["buckets"]) == 2 * 3 * 7 and int(whole["buckets"]) == 0  # 2 per step, 21 steps
    for k in whole:
        if k.startswith("arr_") or k in ("loss", "accuracy", "predictions"):
            if processes == 2:
                np.testing.assert_array_equal(buckets[k], whole[k])
            else:
                np.testing.assert_allclose(buckets[k], whole[k], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(again[k], buckets[k])


def test_the_python_reference_path_trains_data_parallel_too(tmp_path):
    """compile(run_eagerly=True) (the path of models the engine cannot run): the same parts of
    each batch, masks and sums as the engine's data-parallel step; with two processes (a + b in
    either order) the very bits of the engine's, and one process's result to round-off."""
    single = run(tmp_path, "single", mode="python-single")
    python = run(tmp_path, "python", 2, mode="python")
    engine = run(tmp_path, "engine", 2)
    for k in single:
        if k.startswith("arr_") or k in ("loss", "accuracy", "val_loss", "predictions", "evaluated"):
            np.testing.assert_array_equal(python[k], engine[k])
            np.testing.assert_allclose(python[k], single[k], rtol=1e-4, atol=1e-6)


def test_a_crashed_data_parallel_fit_resumes_from_rank_0s_backup(tmp_path):
    """BackupAndRestore: rank 0 alone writes the backup; after a crash, the rerun resumes on every
    process from it (rank 0 reads it, the others take its state), with the weights of a fit
    never interrupted, bit for bit."""
    whole = run(tmp_path, "whole", 2)
    crash = launch(tmp_path, "crash", 2, "backup-crash", timeout=60)
    assert crash.returncode != 0 and "crashes on purpose" in crash.stderr
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["latest.brisk", "training_metadata.json"]
    resumed = run(tmp_path, "resumed", 2, mode="backup")
    assert len(resumed["loss"]) == 1  # the third epoch alone
    for k in whole:
        if k.startswith("arr_") or k in ("predictions", "evaluated"):
            np.testing.assert_array_equal(resumed[k], whole[k])
    assert not (tmp_path / "backup" / "latest.brisk").exists()  # a fit that completes deletes it


def test_the_allreduce_is_open_mpis_ring():
    """brisknet pins Open MPI's allreduce to the ring (algorithm 4) before MPI starts: its sums
    have the ring's bits, not those of the linear sum or of Open MPI's own choice by size."""
    program = os.path.join(os.path.dirname(PROGRAM), "allreduce_digest.py")

    def digest(**algorithm):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **algorithm)
        res = subprocess.run([MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np", "4", sys.executable, program],
                             capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        return res.stdout.split()[-1]

    def pinned(number):
        return digest(OMPI_MCA_coll_tuned_use_dynamic_rules="1", OMPI_MCA_coll_tuned_allreduce_algorithm=str(number))
    ours, ring, linear, by_size = digest(), pinned(4), pinned(1), pinned(0)
    assert ours == ring and linear != ring and by_size != ring


def test_a_dataset_trains_data_parallel_too(tmp_path):
    """A PyDataset's batches (shuffled per epoch: every process shuffles as rank 0) are split
    between the processes like arrays' batches."""
    single = run(tmp_path, "single", data="dataset")
    parallel = run(tmp_path, "parallel", 2, data="dataset")
    for k in single:
        if k.startswith("arr_"):
            np.testing.assert_allclose(parallel[k], single[k], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(parallel["loss"], single["loss"], rtol=1e-5)
    np.testing.assert_allclose(parallel["val_loss"], single["val_loss"], rtol=1e-5)  # batches split too


def test_a_rank_that_raises_stops_every_rank(tmp_path):
    """Rank 1 raises while rank 0 waits for it in an allreduce: the job ends, non-zero, within
    the timeout (60 s), saying which rank stopped and why; never a hang."""
    res = launch(tmp_path, "fail", 2, "fail", timeout=60)
    assert res.returncode != 0
    assert "rank 1 fails on purpose" in res.stderr and "rank 1 of 2 stopped on RuntimeError" in res.stderr


def test_a_killed_rank_stops_every_rank(tmp_path):
    res = launch(tmp_path, "die", 2, "die", timeout=60)
    assert res.returncode != 0


def test_ctrl_c_under_mpirun_stops_every_rank_at_the_same_step(tmp_path):
    """Ctrl-C (SIGINT) to mpirun: Open MPI sends every rank SIGTERM (then SIGKILL); they agree at
    the next step's reduce and all stop there, between two complete steps, with the same weights
    (each writes its step count and weights digest to a file); the job ends non-zero within 60 s."""
    cmd = [MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np", "2", sys.executable, PROGRAM,
           str(tmp_path / "long.npz"), "long"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "training"  # rank 0 has started fit
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    deadline = time.time() + 10  # the ranks may still be writing when mpirun has returned
    files = [tmp_path / f"long.npz.rank{r}.stopped" for r in (0, 1)]
    while not all(f.exists() and f.read_text() for f in files) and time.time() < deadline:
        time.sleep(0.1)
    stopped = [f.read_text() if f.exists() else "" for f in files]
    assert stopped[0].startswith("stopped after ") and stopped[0] == stopped[1], (stopped, err)


def test_weights_that_differ_between_ranks_raise(tmp_path):
    res = launch(tmp_path, "diverge", 2, "diverge", timeout=60)
    assert res.returncode != 0
    assert "the weights differ between processes" in res.stderr


def test_a_subclassed_model_trains_data_parallel(tmp_path):
    """A keras.Model subclass of the same layers: its traced graph, lowered to the engine's chain,
    trains data-parallel (2 processes) to one process's result (float32 round-off), and so does
    its Python path (compile(run_eagerly=True))."""
    single = run(tmp_path, "single", mode="subclassed-single")
    engine = run(tmp_path, "engine", 2, mode="subclassed")
    python = run(tmp_path, "python", 2, mode="subclassed-eager")
    for k in single:
        if k.startswith("arr_") or k in ("loss", "accuracy", "val_loss", "predictions", "evaluated"):
            np.testing.assert_allclose(python[k], engine[k], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(engine[k], single[k], rtol=1e-4, atol=1e-6)


def test_a_subclassed_model_with_ops_of_its_own_trains_data_parallel_on_the_python_path(tmp_path):
    """call() with an op the engine has no layer for (the traced program on the Python path): 2
    processes give one process's result to float32 round-off."""
    single = run(tmp_path, "single", mode="subclassed-ops-single")
    parallel = run(tmp_path, "parallel", 2, mode="subclassed-ops")
    for k in single:
        if k.startswith("arr_") or k in ("loss", "accuracy", "val_loss", "predictions", "evaluated"):
            np.testing.assert_allclose(parallel[k], single[k], rtol=1e-4, atol=1e-6)
