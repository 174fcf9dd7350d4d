"""Runs the fuzz targets in fuzz/ (atheris / libFuzzer) for a bounded time each, in a subprocess so
that a crash fails the test with the fuzzer's report. BRISKNET_FUZZ_SECONDS sets the time per
target (default 15; CI: 30). Skipped without atheris. Crashes found become regression tests."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("atheris")

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"


@pytest.mark.parametrize("target", ["fuzz_model_file.py", "fuzz_keras_file.py", "fuzz_kernels.py"])
def test_fuzz_target_runs_clean(target, tmp_path):
    seconds = int(os.environ.get("BRISKNET_FUZZ_SECONDS", "15"))
    (tmp_path / "corpus").mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, str(FUZZ / target), f"-max_total_time={seconds}", "-timeout=10",
                          f"-artifact_prefix={tmp_path}/", str(tmp_path / "corpus")],
                         capture_output=True, text=True, timeout=seconds + 120, env=env)
    noise = ("INFO: Instrumenting", "WARNING: Failed to find function")
    report = "\n".join(line for line in (res.stdout + res.stderr).splitlines() if not line.startswith(noise))[-4000:]
    assert res.returncode == 0, report
    runs = re.findall(r"Done (\d+) runs", res.stderr)
    assert runs and int(runs[-1]) > 1000, report
    print(f"{target}: {runs[-1]} executions in {seconds} s")
