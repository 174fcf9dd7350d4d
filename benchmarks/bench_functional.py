"""The functional API's benchmark (residual_mlp.py: a residual MLP with BatchNormalization,
brisknet vs PyTorch eager vs Keras 3, interleaved), run once on a few samples as a plain test so
that it keeps working; run the script itself for the figures."""
import pathlib
import sys


def test_residual_mlp_benchmark_runs(monkeypatch, capsys):
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import residual_mlp
        monkeypatch.setattr(residual_mlp, "SAMPLES", 1024)
        rates = residual_mlp.main()
    finally:
        sys.path.pop(0)
    assert set(rates) == {128, 512} and all(r["brisknet"] > 0 for r in rates.values())
    assert "brisknet" in capsys.readouterr().out
