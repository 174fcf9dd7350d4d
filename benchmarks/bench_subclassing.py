"""The subclassing benchmark (subclassing.py: the reference model as a Sequential, a Model of Dense
layers and a Model of custom layers, beside PyTorch eager and Keras 3), run once on a few samples as
a plain test so that it keeps working; run the script itself for the figures."""
import pathlib
import sys


def test_subclassing_benchmark_runs(monkeypatch, capsys):
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import subclassing
        monkeypatch.setattr(subclassing, "SAMPLES", 1024)
        monkeypatch.setattr(subclassing, "BATCHES", (64,))
        rates = subclassing.main()
    finally:
        sys.path.pop(0)
    assert set(rates) == {64} and all(rates[64][k] > 0 for k in rates[64] if k.startswith("brisknet"))
    out = capsys.readouterr().out
    assert "trains on the Python path" not in out  # both subclassed models run in the engine
