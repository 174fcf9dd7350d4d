"""The bidirectional LSTM benchmark (bilstm.py: the IMDB example's network in brisknet beside
PyTorch eager), run once on tiny sizes as a plain test so that it keeps working; run the script
itself for the figures."""
import pathlib
import sys


def test_bilstm_benchmark_runs(monkeypatch):
    monkeypatch.setenv("REPEATS", "1")
    monkeypatch.setenv("PEERS", "torch eager")  # bench_gpt.py runs the other peers' code
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    try:
        import bilstm
        monkeypatch.setattr(bilstm, "SIZES", dict(VOCAB=50, MAXLEN=6, EMBED=4, UNITS=3, BATCH=4, SAMPLES=8))
        rates = bilstm.main()
    finally:
        sys.path.pop(0)
    assert rates["brisknet"] > 0
