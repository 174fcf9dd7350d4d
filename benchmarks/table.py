"""Turn a pytest-benchmark JSON file into the README's markdown tables (GFLOP/s, ratio to numpy,
samples/s, ratio to PyTorch), using medians.

    python -m pytest benchmarks --benchmark-only --benchmark-json=bench.json
    python benchmarks/table.py bench.json
"""
import json
import re
import sys


def main(path):
    data = json.load(open(path))
    runs = {b["name"]: b for b in data["benchmarks"]}
    gemm, epochs, predict, threads, other = {}, {}, {}, {}, []
    for name, b in runs.items():
        median = b["stats"]["median"]
        m = re.match(r"test_matmul\[(.+)-(brisknet|numpy)\]", name)
        if m:
            gemm.setdefault(m.group(1), {})[m.group(2)] = (median, b["extra_info"].get("gflop"))
            continue
        m = re.match(r"test_threads\[(.+)-(\d+)\]", name)
        if m:
            threads.setdefault(m.group(1), {})[int(m.group(2))] = median
            continue
        m = re.match(r"test_predict\[(\w+)-(\d+)\]", name)
        if m:
            predict.setdefault(int(m.group(2)), {})[m.group(1)] = median
            continue
        m = re.match(r"test_epoch_(brisknet|numpy|torch_eager)\[(\d+)\]", name)
        if m:
            epochs.setdefault(int(m.group(2)), {})[m.group(1)] = b["extra_info"]["samples"] / median
            continue
        ratios = {k: v for k, v in b["extra_info"].items() if " / " in k or "samples/s" in k}
        if ratios:  # a benchmark that alternated several sides itself
            other.append((name, ", ".join(f"{k} {v:,}" for k, v in ratios.items())))
            continue
        other.append((name, median))
    print(f"Machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
          f"{data['machine_info'].get('cpu', {}).get('count', '?')} cores; {data['datetime'][:10]}\n")
    if gemm:
        isa = next((b["extra_info"].get("isa") for b in runs.values() if "isa" in b["extra_info"]), "?")
        print(f"| GEMM (m x k x n), brisknet {isa} | brisknet GFLOP/s | numpy GFLOP/s | ratio |\n|---|---:|---:|---:|")
        for shape, r in gemm.items():
            if "brisknet" in r and "numpy" in r:
                (tb, gf), (tn, _) = r["brisknet"], r["numpy"]
                print(f"| {shape} | {gf / tb:.1f} | {gf / tn:.1f} | {tn / tb:.2f} |")
        print()
    if epochs:
        peers = ["numpy", "torch_eager"]
        print("| reference model, one epoch, samples/s | brisknet | numpy script | PyTorch eager | "
              "ratio to the best peer |\n|---|---:|---:|---:|---:|")
        for batch in sorted(epochs):
            r = epochs[batch]
            best = max((r[p] for p in peers if p in r), default=None)
            ratio = f"{r['brisknet'] / best:.2f}" if "brisknet" in r and best else "-"
            cells = [f"{r[i]:,.0f}" if i in r else "-" for i in ["brisknet"] + peers]
            print(f"| batch {batch} | " + " | ".join(cells) + f" | {ratio} |")
        print()
    if predict:
        impls = ["brisknet", "numpy", "torch_eager", "onnxruntime"]
        print("| predict, reference model | " + " | ".join(impls) + " | ratio to the best peer |\n|---|" +
              "---:|" * (len(impls) + 1))
        for batch in sorted(predict):
            r = predict[batch]
            cells = [(f"{r[i] * 1e6:.0f} us" if batch == 1 else f"{batch / r[i]:,.0f} samples/s") if i in r else "-"
                     for i in impls]
            best = min((r[i] for i in impls[1:] if i in r), default=None)
            ratio = f"{best / r['brisknet']:.2f}" if best and "brisknet" in r else "-"
            print(f"| batch {batch} | " + " | ".join(cells) + f" | {ratio} |")
        print()
    if threads:
        counts = sorted({t for r in threads.values() for t in r})
        print("| GEMM, threads requested | " + " | ".join(str(t) for t in counts) +
              " |\n|---|" + "---:|" * len(counts))
        for shape, r in threads.items():
            cells = [f"{r[t] * 1e6:.0f} us ({r[1] / r[t]:.2f}x)" if t in r and 1 in r else "-" for t in counts]
            print(f"| {shape} | " + " | ".join(cells) + " |")
        print()
    for name, median in other:
        print(f"- {name}: " + (median if isinstance(median, str) else f"median {median * 1e3:.3f} ms"))


if __name__ == "__main__":
    main(sys.argv[1])
