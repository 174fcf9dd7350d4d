"""The keras.applications benchmark (applications.py: MobileNetV2 training and ResNet50 forward,
brisknet vs PyTorch eager vs Keras 3, interleaved), run once on a few small batches as a plain
test so that it keeps working; run the script itself for the figures."""
import pathlib
import sys


def test_applications_benchmark_runs(monkeypatch, capsys):
    monkeypatch.setenv("REPEATS", "1")
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import applications
        monkeypatch.setattr(applications, "SAMPLES", 64)
        monkeypatch.setattr(applications, "BATCH", 2)
        monkeypatch.setattr(applications, "RESNET_SIZE", 64)
        training, forward = applications.main()
    finally:
        sys.path.pop(0)
    assert training["brisknet"] > 0 and forward["brisknet"] > 0
    out = capsys.readouterr().out
    assert "MobileNetV2" in out and "ResNet50" in out
