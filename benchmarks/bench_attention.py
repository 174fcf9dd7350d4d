"""The attention benchmark (attention.py: the fused kernel beside PyTorch's
scaled_dot_product_attention), run once on tiny sizes as a plain test so that it keeps working;
run the script itself for the figures."""
import pathlib
import sys

import pytest


def test_attention_benchmark_runs(monkeypatch, capsys):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import attention
        monkeypatch.setattr(attention, "SIZES", dict(BATCH=2, HEADS=2, SIZE=8, TOKENS=16, REPEATS=1))
        attention.main()
    finally:
        sys.path.pop(0)
    assert "sdpa / brisknet" in capsys.readouterr().out
