"""The miniature GPT benchmark (gpt.py: the keras-io example's model in brisknet beside PyTorch
eager, torch.compile and Keras 3 where present), run once on tiny sizes as a plain test so that
it keeps working, every peer included; run the script itself for the figures."""
import importlib.util
import pathlib
import sys


def test_gpt_benchmark_runs(monkeypatch):
    monkeypatch.setenv("REPEATS", "1")
    monkeypatch.delenv("PEERS", raising=False)
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import gpt
        monkeypatch.setattr(gpt, "SIZES", dict(VOCAB=50, MAXLEN=8, EMBED=8, HEADS=2, FF=8, BATCH=4, SAMPLES=16))
        rates = gpt.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0
    if importlib.util.find_spec("torch"):
        assert {"torch eager", "torch.compile"} <= rates.keys()
