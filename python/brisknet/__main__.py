"""Command line: `python -m brisknet train` (the reference model on Fashion-MNIST), `gpt --text FILE`
(a character-level GPT on a text file), `bench`, `info`."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def _train(args) -> int:
    import brisknet
    from brisknet import reference

    if args.threads:
        brisknet.set_num_threads(args.threads)
    brisknet.set_device(args.device)  # "cuda": the same program on the GPU
    brisknet.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = reference.load_fashion_mnist(args.data)
    model = reference.build_model()
    where = (f"{brisknet.get_num_threads()} threads, GEMM kernel {brisknet.cpu_info()['gemm_isa']}"
             if brisknet.get_device() == "cpu" else
             f"{brisknet.get_device()} ({brisknet.cuda.get_device_name(brisknet.devices.current()[1])}"
             f"{', TF32' if brisknet.cuda.allow_tf32 else ''})")
    print(f"brisknet {brisknet.__version__}: reference MLP 784-1000-1000-10 on Fashion-MNIST, "
          f"{args.epochs} epochs, batch {args.batch_size}, {where}")
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    train_time = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}  test loss: {loss:.4f}")
    print(f"training throughput: {x_train.shape[0] * args.epochs / train_time:,.0f} samples/s "
          f"({train_time:.1f} s for {args.epochs} epochs)")
    return 0


def _gpt(args) -> int:
    from brisknet import char_gpt
    char_gpt.run(args.text, epochs=args.epochs, steps=args.steps, batch=args.batch_size, context=args.context,
                 width=args.width, heads=args.heads, depth=args.layers, sample_length=args.sample,
                 temperature=args.temperature, seed=args.seed)
    return 0


def _interleaved_medians(fns, repeat, min_time=0.05):
    """Median seconds per call of each function, timed in alternating blocks of at least
    `min_time`. Each block starts 0.15 s after the last: OpenBLAS's idle threads spin for about
    0.1 s after a numpy call and would otherwise slow whatever runs next on the same cores."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            time.sleep(0.15)
            fn()  # warm up
            n, start = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            out.append(elapsed / n)
    return [statistics.median(t) for t in times]


def _bench(args) -> int:
    import brisknet
    from brisknet import kernels, reference

    if args.threads:
        brisknet.set_num_threads(args.threads)
    from brisknet import _core
    peak = _core.gemm_peak_gflops(0.5)
    paths = kernels.bf16_paths()
    bf16 = paths[0] != "emulated" and not args.no_bf16
    print(f"GEMM kernel {brisknet.cpu_info()['gemm_isa']}, {brisknet.get_num_threads()} threads; "
          f"median of {args.repeat} interleaved runs; numpy {np.__version__}")
    print(f"peak: {peak:.1f} GFLOP/s (the micro-kernel on L1-resident panels, all threads)")
    if bf16:
        print(f"bf16: the {kernels.bf16_path()} kernel (mixed_bfloat16: operands rounded to bfloat16, float32 sums)")
    elif not args.no_bf16:
        print("bf16: no bf16 instructions here (this CPU lacks AMX-BF16 and AVX512-BF16, or BRISKNET_ISA narrowed "
              "them away); mixed_bfloat16 runs on the emulated path, which gives VDPBF16PS's bits at float32 speed "
              "or below, so it is not measured here")
    print(f"{'shape (m x k x n)':<26}{'brisknet GFLOP/s':>18}{'% of peak':>11}{'numpy GFLOP/s':>15}{'ratio':>8}"
          + (f"{'bf16 GFLOP/s':>14}{'bf16/fp32':>11}" if bf16 else ""))
    shapes = [s for b in args.batch for s in reference.gemm_shapes(b)]
    shapes += [(f"square {s}", s, s, s, False, False) for s in args.square]
    for name, m, k, n, ta, tb in shapes:
        a, b = reference.gemm_operands(m, k, n, ta, tb)
        out = np.empty((m, n), np.float32)
        A, B = (a.T if ta else a), (b.T if tb else b)
        runs = [lambda: kernels.matmul(a, b, ta, tb, out=out), lambda: np.matmul(A, B, out=out)]
        if bf16:
            runs.append(lambda: kernels.matmul(a, b, ta, tb, out=out, bf16=True))
        times = _interleaved_medians(runs, args.repeat)
        flops = 2.0 * m * n * k
        gflops = flops / times[0] / 1e9
        line = (f"{name:<26}{gflops:>18.1f}{100 * gflops / peak:>10.0f}%{flops / times[1] / 1e9:>15.1f}"
                f"{times[1] / times[0]:>8.2f}")
        if bf16:
            line += f"{flops / times[2] / 1e9:>14.1f}{times[0] / times[2]:>11.2f}"
        print(line)
    return 0


def _info(args) -> int:
    import brisknet
    info = dict(brisknet.cpu_info())
    info["cuda"] = {"built": brisknet.cuda.is_built(), "available": brisknet.cuda.is_available(),
                    "why_not": brisknet.cuda.why_not(), "devices": brisknet.cuda.device_count()}
    print(json.dumps(info, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brisknet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the reference MLP on Fashion-MNIST, print accuracy and samples/s")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="0: OMP_NUM_THREADS or all cores")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="directory with the Fashion-MNIST IDX .gz files")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N (gpu:N)")
    p.set_defaults(func=_train)
    p = sub.add_parser("bench", help="GEMM GFLOP/s beside numpy at the reference model's shapes, "
                                     "and bf16 (mixed precision) where the CPU has bf16 instructions")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch", type=int, nargs="+", default=[32, 128, 512])
    p.add_argument("--square", type=int, nargs="*", default=[512, 1024, 2048])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--no-bf16", action="store_true", help="float32 only")
    p.set_defaults(func=_bench)
    p = sub.add_parser("gpt", help="train a character-level GPT on a text file, print a sample")
    p.add_argument("--text", required=True, help="a UTF-8 text file")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=200, help="batches per epoch (random windows of the text)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=64, help="characters the model sees")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--sample", type=int, default=200, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_gpt)
    p = sub.add_parser("info", help="which kernels run on this CPU")
    p.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
