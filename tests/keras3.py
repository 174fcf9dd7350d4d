"""Keras 3 itself, for tests that compare with it. It lives in a virtualenv of its own (its
dependencies pin their own versions): .ci/run makes .venv-keras (Keras with the PyTorch backend);
elsewhere point $BRISKNET_KERAS_PYTHON at a Python that imports keras. Tests skip without it."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def keras_python():
    path = os.environ.get("BRISKNET_KERAS_PYTHON") or str(ROOT / ".venv-keras" / "bin" / "python")
    return path if os.path.exists(path) else None


def run_keras(args, cwd, timeout=600):
    """Run `python args...` in Keras' virtualenv; returns the JSON on the last line of stdout."""
    python = keras_python()
    if python is None:
        pytest.skip("Keras 3 is not installed (.ci/run makes .venv-keras; or set BRISKNET_KERAS_PYTHON)")
    # Keras runs none of brisknet's code: no sanitizer preloads (.ci/sanitize), no paths of ours
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    env.setdefault("KERAS_BACKEND", "torch")
    res = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def keras_predictions(model, x, workdir):
    """What Keras 3 predicts with `model` saved as a .keras file (x: an array or a list of them)."""
    import numpy as np
    workdir = pathlib.Path(workdir)
    model.save(workdir / "model.keras")
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    for i, a in enumerate(xs):
        np.save(workdir / f"x{i}.npy", a)
    script = ("import json, sys, keras, numpy as np\n"
              "m = keras.saving.load_model(sys.argv[1] + '/model.keras')\n"
              f"xs = [np.load(sys.argv[1] + f'/x{{i}}.npy') for i in range({len(xs)})]\n"
              f"p = m.predict(xs if {len(xs)} > 1 else xs[0], verbose=0)\n"
              "p = p if isinstance(p, list) else [p]\n"
              "print(json.dumps([np.asarray(o, 'float64').tolist() for o in p]))\n")
    out = run_keras(["-c", script, str(workdir)], cwd=str(workdir))
    return [np.asarray(o) for o in out] if isinstance(x, (list, tuple)) or len(out) > 1 else np.asarray(out[0])
