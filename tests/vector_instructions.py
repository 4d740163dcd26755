"""Which vector instructions the numeric libraries may use while `make test` runs.

`make test` caps them at AVX2, through each library's documented switch, so that nbval compares
the stored outputs (written by `make execute`, on whatever CPU the maintainer has) with what a
CPU without AVX-512 computes: most laptops, Colab and CI runners. The switches are set in the
environment before any worker or notebook kernel starts (conftest.py), and every child process
inherits them. They cap PyTorch's own kernels (``ATEN_CPU_CAPABILITY``), oneDNN, which runs
PyTorch's larger convolutions (``ONEDNN_MAX_CPU_ISA``; TensorFlow's oneDNN reads it too, unchecked
here), MKL, PyTorch's BLAS (``MKL_ENABLE_INSTRUCTIONS``, effective on Intel CPUs only) and NumPy
(``NPY_DISABLE_CPU_FEATURES``, which in NumPy 2.4 accepts only its dispatch targets: ``X86_V4`` is
the AVX-512 group, and names such as ``AVX512F`` are ignored with a warning). ``OPENBLAS_*``
variables are left as the machine sets them: some machines set them so that OpenBLAS computes
correctly.

``PORTABILITY=sse41 make test`` caps them at SSE4.1/4.2 instead, the floor of every library here
(NumPy's baseline is x86-64-v2); ``PORTABILITY=native`` leaves them alone.
"""
import os

AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
SSE41 = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
}
LEVELS = {"avx2": AVX2, "sse41": SSE41, "native": {}}


def restriction() -> dict:
    """The switches for the level that ``PORTABILITY`` names (AVX2 when it is unset)."""
    level = os.environ.get("PORTABILITY", "avx2")
    if level not in LEVELS:
        raise ValueError(f"PORTABILITY={level!r}: use one of {', '.join(LEVELS)}")
    return LEVELS[level]
