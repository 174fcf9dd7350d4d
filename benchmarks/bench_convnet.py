"""The convnet benchmark (convnet.py: the Simple MNIST convnet, brisknet vs PyTorch eager vs Keras 3,
interleaved, and Conv2D GFLOP/s against PyTorch's convolution), run once on a few samples as a
plain test so that it keeps working; run the script itself for the figures."""
import pathlib
import sys


def test_convnet_benchmark_runs(monkeypatch, capsys):
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import convnet
        monkeypatch.setattr(convnet, "SAMPLES", 512)
        rates, layer_rates = convnet.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0 and len(layer_rates) == 4
    assert all(r["brisknet"] > 0 for r in layer_rates.values())
    assert "Simple MNIST convnet" in capsys.readouterr().out
