"""Running code on each SIMD path: BRISKNET_ISA narrows the kernel once per process, so a check of
one path runs in a fresh interpreter."""
import os
import subprocess
import sys

ISAS = ["generic", "avx2", "avx512"]


def run_isa_subprocess(code: str, isa: str):
    """Run `code` in a fresh interpreter with BRISKNET_ISA=isa."""
    env = dict(os.environ, BRISKNET_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
