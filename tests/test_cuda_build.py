"""The CUDA GEMM compiles for every target architecture without register spills (ptxas -v), as
CMake builds it (cuda/CMakeLists.txt): skipped where no CUDA toolkit is installed."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="no CUDA toolkit (nvcc)")
def test_the_gemm_kernels_do_not_spill_registers(tmp_path):
    cmd = [NVCC, "-c", "-std=c++17", "-O3", "--expt-relaxed-constexpr", "-lineinfo", "-Xptxas=-v",
           f"-I{ROOT / 'cpp' / 'include'}", f"-I{ROOT / 'cuda'}",
           "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90",
           str(ROOT / "cuda" / "gemm.cu"), "-o", str(tmp_path / "gemm.o")]
    # nvcc is a tool, not our code: without a sanitizer job's preloaded libraries (it crashes under ASan)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-4000:]
    # ptxas: "Compiling entry function '<name>' for 'sm_XX'" ... "N bytes spill stores, M bytes spill loads"
    reports = re.findall(r"Compiling entry function '([^']+)' for '(sm_\d+)'.*?(\d+) bytes spill stores, "
                         r"(\d+) bytes spill loads", res.stderr, re.S)
    kernels = [r for r in reports if "sgemm_kernel" in r[0] or "tf32_kernel" in r[0]]
    # 3 tile shapes x 4 transpose cases in FP32, 4 in TF32, for sm_80 and sm_90
    assert len(kernels) == 2 * (3 * 4 + 4), res.stderr[-4000:]
    spilling = [(name, arch) for name, arch, stores, loads in kernels if int(stores) or int(loads)]
    assert not spilling, spilling
