"""Timing harness for transposed convolution: cases, settings, device ceilings, the run, the CLI.

Run it as a command (results go to a JSON file, rewritten after every worker process, so a run
that is stopped early still leaves a valid file)::

    python -m tconv_utils.bench --device cpu --quick --out results.json
    python -m tconv_utils.bench --device cuda --budget-s 540 --out gpu.json

Settings are named as a PyTorch user knows them (:data:`PRECISIONS`): ``default`` is float32
with PyTorch's own flags (cuDNN convolutions in TF32 on GPUs that have it, matmuls in full
float32), ``fp32`` is strict float32 (TF32 off everywhere), ``tf32`` turns TF32 on for matmuls
too, ``bf16`` and ``fp16`` run with tensors of that dtype (a model converted with
``.to(dtype)``), ``amp_bf16`` and ``amp_fp16`` keep float32 tensors and run the call under
``torch.autocast`` (automatic mixed precision); memory format (NCHW or channels-last),
``cudnn.benchmark`` and ``torch.compile`` (``compile``: the default mode;
``compile_reduce_overhead``: ``mode="reduce-overhead"``, CUDA graphs) are the other switches.
TF32 is switched through ``torch.backends.cudnn.conv.fp32_precision`` and
``torch.backends.cuda.matmul.fp32_precision`` where torch has them (2.9 and later), else through
the older ``allow_tf32`` flags. Precisions a GPU lacks the tensor cores for (TF32 and bf16 below
compute capability 8.0, e.g. a T4) are recorded as unsupported, with the reason.

**Fresh processes.** PyTorch keeps the cuDNN plan it chose for a convolution in a per-process
cache whose key does not include ``cudnn.benchmark``, so a record measured after another with
the same key would reuse that record's plan whatever the flag says. The parent process measures
the device's ceilings and then starts one worker process (``--worker``) per group of records:
on a GPU by default one per ``cudnn.benchmark`` value (``--isolate benchmark``), or one per
layer and setting (``--isolate setting``); ``torch.compile`` records get their own processes. A
plan left in the cache by one record of a process is the plan the next record with the same key
would have chosen itself, under the same flag. The direct forward records (the settings
compared with each other) are measured again in ``repeats - 1`` further processes, so that each
of them has a spread across runs, not only within one (``repeat`` in each record).

**Timing** (:mod:`tconv_utils.timing`) calls the formulation's bare call (arguments checked once,
before timing, by :func:`tconv_utils.formulations.bind`): ``median_s`` and ``iqr_s`` per call
of a back-to-back loop (host included); on a GPU ``event_median_s``, the device's own time per
call by CUDA events with the host's work hidden, and ``cold_median_s``, the same with every cache
flushed before the call (on a CPU the cold time is the host clock's); ``kernels`` and
``kernel_time_s`` from the profiler. A device time far below the loop's time per call means the
call is overhead-bound.

Before a formulation is timed its output is compared with ``F.conv_transpose2d`` in strict
float32 and the error is recorded. Each result is put on the device's own roofline (the best of
several measured kernels per math type, and a large copy; sustained rates of about a second of
back-to-back kernels, not burst peaks): ``roofline_fraction`` is ``max(useful FLOPs / FLOP
rate, compulsory bytes / copy rate) / median time``, against the roof of the math type the
call ran in (:func:`roof_key`).

``budget_s`` bounds a whole run: no worker starts after it, each record is stopped at
``min(record_cap_s, what is left)`` (SIGALRM, which waits for a running call into C to return)
and a worker still running ``WORKER_GRACE_S`` seconds after the budget is killed; records not
done are marked skipped. Reading and plotting results lives in :mod:`tconv_utils.bench_report`.
torch, tqdm, Keras and the profiler are imported inside the functions that use them.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from . import formulations as fm
from . import shapes
from .timing import (RecordTimeout, TimeCap, flush_bytes, kernel_profile, time_callable,
                     time_cold_host, time_events)

SCHEMA_VERSION = 3
PRECISIONS = ("default", "fp32", "tf32", "bf16", "fp16", "amp_bf16", "amp_fp16")
TORCH_FORMULATIONS = fm.FORMULATIONS  # direct, zero_insertion, gemm_col2im, subpixel
COMPILE_MODES = {"compile": "default", "compile_reduce_overhead": "reduce-overhead"}
ALL_FORMULATIONS = TORCH_FORMULATIONS + tuple(COMPILE_MODES) + ("numpy", "keras")
MEMORY_FORMATS = ("nchw", "channels_last")
MODES = ("fwd", "fwdbwd")
# What each precision means, stored in every results file.
PRECISION_MEANING = {
    "default": "float32 tensors, PyTorch's own flags: on a GPU with TF32 (compute capability "
               ">= 8.0) cuDNN convolutions run in TF32, matmuls in full float32",
    "fp32": "strict float32: TF32 off for cuDNN convolutions and for matmuls",
    "tf32": "float32 tensors, TF32 on for cuDNN convolutions and for matmuls",
    "bf16": "bfloat16 tensors (the model converted to bfloat16)",
    "fp16": "float16 tensors (the model converted to float16)",
    "amp_bf16": "float32 tensors, the call under torch.autocast(dtype=torch.bfloat16)",
    "amp_fp16": "float32 tensors, the call under torch.autocast(dtype=torch.float16)"}
# Relative error (max |y - ref| / max |ref|) a result may have against the strict-fp32 reference.
TOLERANCE = {"default": 1e-2, "fp32": 1e-4, "tf32": 1e-2, "bf16": 5e-2, "fp16": 1e-2,
             "amp_bf16": 5e-2, "amp_fp16": 1e-2}
# Formulations whose only arithmetic is cuDNN convolutions: TF32 for matmuls changes nothing.
CUDNN_ONLY = ("direct", "zero_insertion", "subpixel")
# Tensor cores for TF32 and bf16 arrived with compute capability 8.0 (Ampere).
NEEDS_CAPABILITY = {"tf32": (8, 0), "bf16": (8, 0), "amp_bf16": (8, 0)}
# Below this relative error a float32 call did its arithmetic in full float32, not in TF32
# (TF32 keeps 10 mantissa bits: errors near 1e-4..1e-3 of the output; float32 near 1e-7).
TF32_ERROR = 1e-5
# PyTorch's defaults and the tuned setting the chapter leads with: (precision, layout, benchmark).
DEFAULT_SETTING = ("default", "nchw", False)
TUNED_SETTING = ("bf16", "channels_last", True)
WORKER_GRACE_S = 30.0  # a worker still running this long after the budget is killed


@dataclasses.dataclass(frozen=True)
class Case:
    """One transposed-convolution layer: ``x`` is ``(batch, c_in, h, w)``, the weight
    ``(c_in, c_out // groups, kernel, kernel)``."""
    name: str
    family: str
    batch: int
    c_in: int
    c_out: int
    h: int
    w: int
    kernel: int
    stride: int
    padding: int = 0
    output_padding: int = 0
    dilation: int = 1
    groups: int = 1

    @property
    def x_shape(self):
        return (self.batch, self.c_in, self.h, self.w)

    @property
    def w_shape(self):
        return (self.c_in, self.c_out // self.groups, self.kernel, self.kernel)

    @property
    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding, output_padding=self.output_padding,
                    dilation=self.dilation, groups=self.groups)

    def work(self, formulation="direct", itemsize=4):
        return fm.work(self.x_shape, self.w_shape, itemsize=itemsize, formulation=formulation,
                       **self.kwargs)

    def out_shape(self):
        size = [shapes.torch_output_size(n, self.kernel, self.stride, self.padding,
                                         self.output_padding, self.dilation)
                for n in (self.h, self.w)]
        return (self.batch, self.c_out, *size)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["out_shape"] = list(self.out_shape())
        d.update({k: v for k, v in self.work().items() if k in ("useful_flops", "bytes")})
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Item:
    """One planned record: a formulation of a case in one setting and mode."""
    case: Case
    formulation: str
    precision: str
    memory_format: str
    cudnn_benchmark: bool | None
    mode: str

    @property
    def repeated(self):
        """Measured in every repeat: the direct forward records, which the settings are compared
        on (the others, measured once, compare formulations and modes)."""
        return self.formulation == "direct" and self.mode == "fwd"

    def as_dict(self):
        return {"case": self.case.name, "formulation": self.formulation,
                "precision": self.precision, "memory_format": self.memory_format,
                "mode": self.mode, "cudnn_benchmark": self.cudnn_benchmark}


def dcgan_cases(batch, width=1024):
    """The DCGAN generator's stride-2 stack: 4x4 up to 64x64, ``width`` channels halving, then 3."""
    chans = [width, width // 2, width // 4, width // 8, 3]
    return [Case(f"dcgan{i + 1}", "dcgan", batch, chans[i], chans[i + 1], 4 * 2 ** i, 4 * 2 ** i,
                 kernel=4, stride=2, padding=1) for i in range(4)]


def default_cases(device="cpu", quick=False, free_bytes=None):
    """The cases of a run. CPU sizes are scaled down (recorded in the results); on CUDA the
    large layer's batch is chosen from ``free_bytes`` so that it fills the device."""
    if quick:
        cases = dcgan_cases(batch=2, width=128)
        cases += [Case("unet", "unet", 1, 32, 16, 32, 32, kernel=2, stride=2),
                  Case("large", "large", 2, 64, 32, 16, 16, kernel=4, stride=2, padding=1),
                  Case("grouped", "grouped", 2, 64, 64, 16, 16, kernel=4, stride=2, padding=1,
                       groups=64)]
        return cases
    if device == "cpu":
        cases = dcgan_cases(batch=4)
        cases += [Case("unet", "unet", 2, 128, 64, 128, 128, kernel=2, stride=2),
                  Case("large", "large", 2, 256, 128, 32, 32, kernel=4, stride=2, padding=1),
                  Case("grouped", "grouped", 4, 256, 256, 32, 32, kernel=4, stride=2, padding=1,
                       groups=256)]
        return cases
    cases = dcgan_cases(batch=128)
    cases.append(Case("unet", "unet", 64, 128, 64, 128, 128, kernel=2, stride=2))
    # The large layer: per sample, the worst formulation's working set in fp32 for forward and
    # backward is about 4x (x + y + columns); use a quarter of the free memory, cap the batch.
    per_sample = 4 * 4 * (256 * 64 * 64 + 128 * 128 * 128 + 128 * 16 * 64 * 64)
    free = free_bytes if free_bytes else 8 << 30
    batch = int(max(8, min(256, free // 4 // per_sample)))
    cases.append(Case("large", "large", batch, 256, 128, 64, 64, kernel=4, stride=2, padding=1))
    cases.append(Case("grouped", "grouped", 64, 256, 256, 64, 64, kernel=4, stride=2, padding=1,
                      groups=256))
    return cases


# ---------------------------------------------------------------------------- environment

def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_smi(fields):
    """``{field: value}`` of the first GPU from ``nvidia-smi --query-gpu``, None without it."""
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}",
                              "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
        values = out.stdout.strip().splitlines()[0].split(", ")
        return dict(zip(fields, values)) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def gpu_state():
    """The GPU's clocks (MHz), temperature (C) and power draw (W) now, by nvidia-smi: the
    conditions timings depend on (None where nvidia-smi is missing)."""
    return _nvidia_smi(["clocks.sm", "clocks.max.sm", "clocks.mem", "temperature.gpu",
                        "power.draw", "pstate"])


def _new_tf32_api():
    """True where torch has the ``fp32_precision`` switches (2.9 and later), which must not be
    mixed with the older ``allow_tf32`` flags."""
    import torch
    conv = getattr(torch.backends.cudnn, "conv", None)
    return hasattr(conv, "fp32_precision") and hasattr(torch.backends.cuda.matmul,
                                                       "fp32_precision")


def _torch_flags():
    """PyTorch's TF32 and cudnn.benchmark flags as they are now, by the API this torch has."""
    import torch
    b = torch.backends
    if _new_tf32_api():
        return {"cudnn.conv.fp32_precision": b.cudnn.conv.fp32_precision,
                "cuda.matmul.fp32_precision": b.cuda.matmul.fp32_precision,
                "cudnn.benchmark": b.cudnn.benchmark}
    return {"cudnn.allow_tf32": b.cudnn.allow_tf32, "cuda.matmul.allow_tf32":
            b.cuda.matmul.allow_tf32, "cudnn.benchmark": b.cudnn.benchmark}


def _set_torch_flags(flags):
    """Set the flags of a :func:`_torch_flags` dict."""
    import torch
    b = torch.backends
    for name, value in flags.items():
        module, attr = name.rsplit(".", 1)
        target = b
        for part in module.split("."):
            target = getattr(target, part)
        setattr(target, attr, value)


def _tf32_flags(on):
    """The flags that turn TF32 on (or off) for cuDNN convolutions and matmuls alike."""
    if _new_tf32_api():
        value = "tf32" if on else "ieee"
        return {"cudnn.conv.fp32_precision": value, "cuda.matmul.fp32_precision": value}
    return {"cudnn.allow_tf32": on, "cuda.matmul.allow_tf32": on}


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return None


def capability(device):
    """``(major, minor)`` compute capability of the CUDA device, None on the CPU."""
    import torch
    return tuple(torch.cuda.get_device_capability()) if device == "cuda" else None


def environment(device):
    """Device name, capability, L2 size, driver, CUDA, cuDNN, torch and numpy versions, PyTorch's
    flags as found at start (its defaults in a fresh process), the GPU's clocks, load average,
    date, git commit."""
    import torch
    env = {"device_type": device, "torch": torch.__version__, "numpy": np.__version__,
           "python": platform.python_version(), "platform": platform.platform(),
           "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "cuda": torch.version.cuda,
           "cudnn": None, "driver": None, "compute_capability": None, "l2_cache_bytes": None,
           "torch_flags_at_start": _torch_flags(), "loadavg": _loadavg(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "git_commit": _git_commit()}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env["name"] = torch.cuda.get_device_name()
        env["cudnn"] = torch.backends.cudnn.version()
        env["driver"] = (_nvidia_smi(["driver_version"]) or {}).get("driver_version")
        env["gpu_memory_bytes"] = props.total_memory
        env["compute_capability"] = "{}.{}".format(*capability(device))
        env["l2_cache_bytes"] = getattr(props, "L2_cache_size", None)
        env["gpu_state"] = gpu_state()
    else:
        env["name"] = env["cpu"]
    return env


# ---------------------------------------------------------------------------- settings

class _Precision:
    """Context: PyTorch's flags for one precision (and cudnn.benchmark), restored on exit.

    ``default`` and the 16-bit precisions put back the flags found when the harness started
    (PyTorch's defaults in a fresh process); ``fp32`` turns TF32 off, ``tf32`` on, for cuDNN
    convolutions and matmuls alike.
    """
    at_start = None

    def __init__(self, precision, cudnn_benchmark=None):
        self.precision = precision
        self.cudnn_benchmark = cudnn_benchmark

    def __enter__(self):
        import torch
        if _Precision.at_start is None:
            _Precision.at_start = _torch_flags()
        self.saved = _torch_flags()
        tf32 = {k: v for k, v in _Precision.at_start.items() if k != "cudnn.benchmark"}
        if self.precision in ("fp32", "tf32"):
            tf32 = _tf32_flags(self.precision == "tf32")
        _set_torch_flags(tf32)
        if self.cudnn_benchmark is not None:
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        return self

    def __exit__(self, *exc):
        _set_torch_flags(self.saved)


def torch_dtype(precision):
    """The dtype of the tensors: 16-bit for ``bf16`` and ``fp16``, float32 otherwise (AMP too)."""
    import torch
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


def autocast_dtype(precision):
    """The dtype ``torch.autocast`` runs an ``amp_*`` precision in; None for the others."""
    import torch
    return {"amp_bf16": torch.bfloat16, "amp_fp16": torch.float16}.get(precision)


def roof_key(precision, cap=None, max_rel_error=None):
    """The math type a record ran in, which names its FLOP roof. ``amp_*`` run in their 16-bit
    type. ``default`` is TF32 on a GPU that has it (PyTorch runs cuDNN convolutions in TF32 by
    default), else fp32; ``default`` and ``tf32`` are fp32 where the record's error against the
    strict-fp32 reference is below :data:`TF32_ERROR`: cuDNN ran a full-float32 kernel."""
    if precision.startswith("amp_"):
        return precision[4:]
    if precision in ("default", "tf32"):
        if max_rel_error is not None and max_rel_error < TF32_ERROR:
            return "fp32"
        if precision == "default":
            return "tf32" if cap is not None and tuple(cap) >= (8, 0) else "fp32"
    return precision


def device_limits(device, precisions, quick=False, min_run_time=0.2, cap=None):
    """The device's own ceilings, from the best of several kernels per math type (FLOP/s) and a
    large copy (bytes/s); each measured over about ``min_run_time`` seconds of back-to-back
    calls, so at the clocks a sustained loop runs at.

    FLOP kernels: ``torch.mm`` of two square sizes, a large 1x1 convolution (cuDNN's or oneDNN's
    convolution code, which can outrun their matmul) and, on the CPU, NumPy's matmul (BLAS). A
    ceiling is the fastest block of the best kernel: a median would put the roof below what a
    lucky layer reaches. Every kernel's rate is kept under ``kernels``.
    """
    import torch
    import torch.nn.functional as F
    sizes = (512,) if quick else ((4096, 8192) if device == "cuda" else (1024, 2048))
    conv = (8, 256, 32, 32) if quick else ((64, 1024, 64, 64) if device == "cuda"
                                           else (8, 1024, 32, 32))
    copy_bytes = (16 << 20) if quick else ((1 << 30) if device == "cuda" else (256 << 20))
    limits = {"matmul": {}, "copy": None}
    math_types = dict.fromkeys(k for p in precisions
                               for k in {roof_key(p, cap), roof_key(p, cap, 0.0)})
    for key in math_types:
        gen = torch.Generator(device=device).manual_seed(0)
        rates = {}
        with _Precision(key if key in ("fp32", "tf32") else "default"):
            dt = torch_dtype(key)
            for n in sizes:
                a = torch.randn(n, n, device=device, generator=gen).to(dt)
                b = torch.randn(n, n, device=device, generator=gen).to(dt)
                t = time_callable(lambda a=a, b=b: torch.mm(a, b), min_run_time=min_run_time)
                rates[f"torch.mm {n}"] = {"n": n, **t, "flops_per_s": 2 * n ** 3 / t["min_s"]}
                if device == "cpu" and key == "fp32":
                    an, bn = a.numpy(), b.numpy()
                    t = time_callable(lambda: an @ bn, min_run_time=min_run_time)
                    rates[f"numpy.matmul {n}"] = {"n": n, **t,
                                                  "flops_per_s": 2 * n ** 3 / t["min_s"]}
                del a, b
            n, c, h, w = conv
            x = torch.randn(conv, device=device, generator=gen).to(dt)
            k = torch.randn(c, c, 1, 1, device=device, generator=gen).to(dt)
            t = time_callable(lambda x=x, k=k: F.conv2d(x, k), min_run_time=min_run_time)
            rates["conv2d 1x1"] = {"n": c, **t, "flops_per_s": 2 * n * c * c * h * w / t["min_s"]}
            del x, k
        best = max(rates, key=lambda r: rates[r]["flops_per_s"])
        limits["matmul"][key] = {**rates[best], "kernel": best,
                                 "kernels": {r: v["flops_per_s"] for r, v in rates.items()}}
    src = torch.empty(copy_bytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    t = time_callable(lambda: dst.copy_(src), min_run_time=min_run_time)
    # A copy reads every byte once and writes it once.
    limits["copy"] = {"bytes": copy_bytes, **t, "bytes_per_s": 2 * copy_bytes / t["min_s"]}
    if device == "cuda":
        torch.cuda.empty_cache()
    return limits


def roofline(flops, nbytes, seconds, limits, math_type):
    """``(bound_s, fraction, bound_by)`` of a call of ``flops`` and ``nbytes`` that took
    ``seconds``, against the roof ``math_type`` of ``limits`` and its copy rate; None where
    ``limits`` lacks them."""
    if not limits or math_type not in limits["matmul"] or not limits.get("copy"):
        return None
    compute = flops / limits["matmul"][math_type]["flops_per_s"]
    memory = nbytes / limits["copy"]["bytes_per_s"]
    bound = max(compute, memory)
    return bound, bound / seconds, "compute" if compute >= memory else "memory"


# ---------------------------------------------------------------------------- one record

def _keras_module(case):
    """The PyTorch layer of ``case`` as a module, for :func:`porting.keras_from_torch`."""
    import torch
    return torch.nn.ConvTranspose2d(case.c_in, case.c_out, case.kernel, **case.kwargs, bias=False)


def _keras_refusal(case):
    """Why no Keras ``Conv2DTranspose`` computes ``case`` (None when one does): the mapping is
    :mod:`tconv_utils.porting`'s."""
    from .porting import keras_expressible_pairs
    if case.groups != 1:
        return "Keras Conv2DTranspose has no groups argument"
    pairs = keras_expressible_pairs(case.kernel, case.stride, case.dilation)
    if (case.padding, case.output_padding) not in pairs:
        return (f"no Keras padding ('valid'/'same') keeps PyTorch's padding={case.padding}, "
                f"output_padding={case.output_padding} (expressible: {pairs})")
    return None


def _unsupported(case, formulation, device, precision, mode, memory_format, cap=None):
    """Why a combination is not run (None when it is)."""
    need = NEEDS_CAPABILITY.get(precision)
    if device == "cuda" and need and cap is not None and tuple(cap) < need:
        return (f"{precision} needs tensor cores of compute capability >= {need[0]}.{need[1]}; "
                f"this GPU has {cap[0]}.{cap[1]}")
    if precision.startswith("amp_") and mode != "fwd":
        return "autocast is timed forward only"
    if formulation == "compile_reduce_overhead":
        if device != "cuda":
            return "mode='reduce-overhead' replays CUDA graphs: a GPU only"
        if mode != "fwd":
            return "mode='reduce-overhead' is timed forward only"
    if formulation in ("numpy", "keras"):
        if device != "cpu":
            return f"{formulation} runs on the CPU only"
        if precision not in ("default", "fp32") or mode != "fwd":
            return f"{formulation} is timed in float32, forward only"
        if formulation == "numpy" and memory_format != "nchw":
            return "numpy takes NCHW arrays"
        if formulation == "keras" and memory_format != "channels_last":
            return "Keras layers take channels-last (NHWC) input"
        if formulation == "keras":
            return _keras_refusal(case)
    return None


def _make_callable(formulation, case, x, w, mode):
    """``fn()`` that runs one formulation (and, for fwdbwd, its backward) on ``x``, ``w``: the
    formulation's bare call, its arguments checked once, here, not in every call. ``x`` and
    ``w`` do not require gradients, so a forward call records no graph (no ``no_grad`` block
    to enter per call)."""
    import torch
    kw = case.kwargs
    if formulation == "numpy":
        from .reference import conv_transpose2d
        xn, wn = x.numpy(), w.numpy()
        return lambda: conv_transpose2d(xn, wn, **kw)
    if formulation == "keras":
        from .porting import keras_from_torch
        module = _keras_module(case)
        with torch.no_grad():
            module.weight.copy_(w)
        layer = keras_from_torch(module)
        keras = sys.modules["keras"]
        xk = keras.ops.convert_to_tensor(np.ascontiguousarray(np.moveaxis(x.numpy(), 1, -1)))
        return lambda: layer(xk)
    op = fm.bind(formulation if formulation in TORCH_FORMULATIONS else "direct", x.shape,
                 w.shape, **kw)
    if formulation in COMPILE_MODES:
        torch._dynamo.reset()  # each case compiles afresh (no recompile limit, no reuse)
        if formulation == "compile_reduce_overhead":
            # In a model the weight is a parameter at a fixed address, which CUDA graphs read
            # in place; an input at an address that may change is copied in on every replay.
            torch._dynamo.mark_static_address(w)
        op = torch.compile(op, mode=COMPILE_MODES[formulation], dynamic=False)
    if mode == "fwd":
        return lambda: op(x, w)
    xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
    grad = torch.ones(case.out_shape(), dtype=x.dtype, device=x.device)
    if x.is_contiguous(memory_format=torch.channels_last):
        grad = grad.contiguous(memory_format=torch.channels_last)

    def fwdbwd():
        return torch.autograd.grad(op(xg, wg), (xg, wg), grad)
    return fwdbwd


def _as_tensor(y, like, keras=False):
    """A formulation's output as a float32 NCHW tensor on ``like``'s device."""
    import torch
    if not isinstance(y, torch.Tensor):
        y = np.asarray(y, dtype=np.float32)
        y = torch.from_numpy(np.ascontiguousarray(np.moveaxis(y, -1, 1) if keras else y))
    return y.detach().to(like.device, torch.float32)


def _inputs(case, device, precision, memory_format, seed=0):
    """Random x and w scaled so that outputs are about unit size (fp16 stays in range)."""
    import torch
    gen = torch.Generator(device=device).manual_seed(seed)  # drawn where used: no big copies
    x = torch.randn(case.x_shape, generator=gen, device=device)
    fan = case.c_in // case.groups * case.kernel ** 2 / case.stride ** 2
    w = torch.randn(case.w_shape, generator=gen, device=device) / math.sqrt(max(fan, 1.0))
    x, w = x.to(torch_dtype(precision)), w.to(torch_dtype(precision))
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    return x, w


def _reference(case, x, w):
    """F.conv_transpose2d in strict float32: what every formulation is checked against."""
    import torch
    import torch.nn.functional as F
    with _Precision("fp32"), torch.no_grad():
        return F.conv_transpose2d(x.float().contiguous(), w.float().contiguous(),
                                  **case.kwargs)


def _peak_memory(fn, device, formulation):
    """Bytes allocated by one call beyond what was live before it, and how it was measured."""
    import torch
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - base), "torch.cuda.max_memory_allocated"
    if formulation == "numpy":
        tracemalloc.start()
        try:
            fn()
            return int(tracemalloc.get_traced_memory()[1]), "tracemalloc"
        finally:
            tracemalloc.stop()
    return None, None  # CPU torch/TF allocations are invisible to tracemalloc


def _host_time(fn):
    """The host's time to issue one call (GPU idle before it, so nothing blocks the launches):
    the longest of three, each after a synchronisation."""
    import torch
    longest = 0.0
    for _ in range(3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        longest = max(longest, time.perf_counter() - t0)
    torch.cuda.synchronize()
    return longest


def _time_all(fn, rec, device, formulation, min_run_time, profile, cold):
    """The timings of one checked callable, added to ``rec``."""
    # On CUDA the first calls autotune (cudnn.benchmark); on the CPU one is enough.
    rec.update(time_callable(fn, min_run_time=min_run_time, warmup=2 if device == "cuda" else 1))
    if device == "cuda":
        reps = int(np.clip(0.1 / rec["median_s"], 5, 20))
        host = _host_time(fn)
        cover = float(np.clip(3 * host, 2e-4, 0.05))  # sleep long enough to hide the host
        rec["host_call_s"] = host
        ev = time_events(fn, reps=reps, cover_s=cover)
        rec.update(event_median_s=ev["median_s"], event_iqr_s=ev["iqr_s"],
                   event_reps=ev["reps"], event_host_hidden=ev["host_hidden"])
        if cold:
            ev = time_events(fn, reps=reps, cover_s=cover, flush_bytes=flush_bytes(device))
            rec.update(cold_median_s=ev["median_s"], cold_iqr_s=ev["iqr_s"],
                       cold_reps=ev["reps"], cold_host_hidden=ev["host_hidden"],
                       cold_clock="cuda events")
    elif cold:  # a few calls: on a CPU the flush itself is slow
        ev = time_cold_host(fn, device, int(np.clip(0.1 / rec["median_s"], 3, 5)))
        rec.update(cold_median_s=ev["median_s"], cold_iqr_s=ev["iqr_s"], cold_reps=ev["reps"],
                   cold_clock="host")
    if profile and formulation not in ("numpy", "keras"):  # the profiler sees torch only
        try:
            rec.update(kernel_profile(fn, device))
        except Exception as err:  # noqa: BLE001 - a profiler error must not lose a timing
            rec["profile_error"] = f"{type(err).__name__}: {err}"[:300]
    rec["peak_memory_bytes"], rec["peak_memory_method"] = _peak_memory(fn, device, formulation)


def measure(case, formulation, *, device="cpu", precision="default", memory_format="nchw",
            mode="fwd", cudnn_benchmark=None, limits=None, min_run_time=0.2, check_only=False,
            cap=None, profile=True, cold=True):
    """Check one formulation against ``F.conv_transpose2d`` on ``case``, then time it (see
    :func:`_time_all`) and, if ``profile``, record the kernels it runs.

    ``cap`` is the device's compute capability (None on the CPU). Returns a result record (the
    dicts in a results file's ``results`` list). It measures in the calling process: run it in
    a fresh one (as :func:`run` does) when the cuDNN plan cache matters.
    """
    import torch
    start = time.perf_counter()
    rec = {"case": case.name, "formulation": formulation, "precision": precision,
           "memory_format": memory_format, "mode": mode,
           "cudnn_benchmark": cudnn_benchmark if device == "cuda" else None,
           "status": "ok", "reason": None}
    why = _unsupported(case, formulation, device, precision, mode, memory_format, cap)
    if why:
        return {**rec, "status": "unsupported", "reason": why}
    counts = case.work(formulation, torch_dtype(precision).itemsize)
    factor = 1 if mode == "fwd" else 3  # backward: one op for dx, one for dw, same work each
    rec.update(flops=factor * counts["useful_flops"], bytes=factor * counts["bytes"],
               formulation_flops=factor * counts["flops"],
               extra_bytes=factor * counts["extra_bytes"])
    amp = autocast_dtype(precision)
    try:
        with _Precision(precision, cudnn_benchmark):
            x, w = _inputs(case, device, precision,
                           "nchw" if formulation in ("numpy", "keras") else memory_format)
            ref = _reference(case, x, w)
            fn_fwd = _make_callable(formulation, case, x, w, "fwd")
            # Autocast is entered once around everything the call does, as around a model's
            # forward, not in every timed call.
            with torch.autocast(device, dtype=amp) if amp is not None else nullcontext():
                t0 = time.perf_counter()
                y = _as_tensor(fn_fwd(), ref, keras=formulation == "keras")
                if formulation in COMPILE_MODES:
                    rec["compile_s"] = time.perf_counter() - t0
                same = y.shape == ref.shape
                err = float((y - ref).abs().max()) if same else float("inf")
                rec["max_abs_error"] = err
                rec["max_rel_error"] = err / max(float(ref.abs().max()), 1e-30)
                del y, ref
                tolerance = TOLERANCE["fp32" if device == "cpu" and precision == "default"
                                      else precision]
                if not rec["max_rel_error"] <= tolerance:
                    return {**rec, "status": "mismatch",
                            "reason": f"output differs from F.conv_transpose2d: same shape "
                                      f"{same}, relative error {rec['max_rel_error']:.3g}"}
                if check_only:
                    return rec
                fn = fn_fwd if mode == "fwd" else _make_callable(formulation, case, x, w, mode)
                if formulation in COMPILE_MODES and mode != "fwd":
                    t0 = time.perf_counter()
                    fn()
                    rec["compile_s"] = time.perf_counter() - t0
                _time_all(fn, rec, device, formulation, min_run_time, profile, cold)
    except RecordTimeout as err:
        return {**rec, "status": "skipped", "reason": str(err),
                "record_s": time.perf_counter() - start}
    except Exception as err:  # noqa: BLE001 - a failed formulation is a result, not a crash
        return {**rec, "status": "failed", "reason": f"{type(err).__name__}: {err}"[:500]}
    finally:
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    _rates(rec, limits, roof_key(precision, cap, rec.get("max_rel_error")))
    rec["record_s"] = time.perf_counter() - start
    return rec


def _rates(rec, limits, math_type):
    """Achieved rates of a timed record and, with ``limits``, its roofline bound and fraction
    against the FLOP roof of ``math_type`` (see :func:`roof_key`) and the copy rate."""
    med = rec["median_s"]
    rec["achieved_tflops"] = rec["flops"] / med / 1e12
    rec["achieved_gbps"] = rec["bytes"] / med / 1e9
    rec["roof_math"] = math_type
    bound = roofline(rec["flops"], rec["bytes"], med, limits, math_type)
    if bound:
        rec["roofline_bound_s"], rec["roofline_fraction"], rec["bound_by"] = bound


# ---------------------------------------------------------------------------- the plan

def _cuda_plan(cases, formulations):
    """CUDA records, most important first: PyTorch's defaults and the tuned setting; each
    switch alone (cudnn.benchmark at the defaults and at tuned, so its effect is measured both
    ways); autocast; every formulation; forward + backward; strict fp32 for every formulation;
    torch.compile in both modes (largest case first: compile time is what a short budget runs
    out of)."""
    default, tuned = DEFAULT_SETTING, TUNED_SETTING
    default_bench, fp32_bench = ("default", "nchw", True), ("fp32", "nchw", True)
    one_change = [("fp32", "nchw", False), ("bf16", "nchw", False), ("fp16", "nchw", False),
                  ("default", "channels_last", False), default_bench,
                  ("bf16", "channels_last", False), ("amp_bf16", "channels_last", True),
                  ("fp16", "channels_last", True), ("amp_fp16", "channels_last", True)]
    rewrites = [f for f in formulations if f in TORCH_FORMULATIONS and f != "direct"]
    items = [(c, "direct", *s, "fwd") for c in cases for s in (default, tuned)]
    items += [(c, "direct", *s, "fwd") for c in cases for s in one_change]
    items += [(c, f, *s, "fwd") for c in cases for f in rewrites for s in (default_bench, tuned)]
    items += [(c, "gemm_col2im", "tf32", "nchw", True, "fwd") for c in cases
              if "gemm_col2im" in rewrites]  # TF32 changes only the matmul formulation
    items += [(c, "direct", *s, "fwdbwd") for c in cases for s in (default, tuned)]
    items += [(c, f, *fp32_bench, "fwd") for c in cases for f in ["direct", *rewrites]]
    largest_first = sorted(cases, key=lambda c: -c.work()["useful_flops"])
    items += [(c, f, *s, "fwd") for f in COMPILE_MODES for c in largest_first
              for s in (default, tuned)]
    return items


def _cpu_plan(cases, formulations, precisions):
    """CPU records: every formulation forward in both layouts (NumPy in NCHW, Keras in NHWC),
    F.conv_transpose2d forward + backward too, torch.compile last."""
    items = []
    for p in precisions:
        for c in cases:
            for f in formulations:
                if f in COMPILE_MODES:
                    continue
                for mf in (("channels_last",) if f == "keras" else
                           ("nchw",) if f == "numpy" else MEMORY_FORMATS):
                    for mode in (MODES if f == "direct" else ("fwd",)):
                        items.append((c, f, p, mf, None, mode))
    order = sorted(cases, key=lambda c: -c.work()["useful_flops"])
    items += [(c, "compile", p, "nchw", None, "fwd") for c in order for p in precisions]
    return items


def plan(device, cases, precisions, formulations, compile_=True):
    """Ordered list of :class:`Item` restricted to ``precisions`` and ``formulations`` (the
    ``torch.compile`` ones only if ``compile_``), without duplicates."""
    formulations = [f for f in formulations if f not in COMPILE_MODES or compile_]
    items = (_cuda_plan(cases, formulations) if device == "cuda"
             else _cpu_plan(cases, formulations, precisions))
    seen, out = set(), []
    for c, f, p, mf, bench, mode in items:
        key = (c.name, f, p, mf, bench, mode)
        if f in formulations and p in precisions and key not in seen:
            seen.add(key)
            out.append(Item(c, f, p, mf, bench, mode))
    return out


ISOLATION = ("benchmark", "setting")


def process_key(item, isolate="benchmark"):
    """The worker process an item is measured in (within one repeat): ``torch.compile`` records
    apart from eager ones, and one process per ``cudnn.benchmark`` value (``benchmark``) or per
    layer and setting (``setting``: precision, layout and benchmark)."""
    kind = "compile" if item.formulation in COMPILE_MODES else "eager"
    if isolate == "setting":
        return (kind, item.case.name, item.precision, item.memory_format, item.cudnn_benchmark)
    return (kind, item.cudnn_benchmark)


def schedule(items, repeats=1, isolate="benchmark"):
    """Worker processes in the order they run, as ``(repeat, key, items)``: every eager group of
    repeat 0 (all its items), then, for each further repeat, the eager groups again with their
    :attr:`Item.repeated` items only (groups in the reverse order every other repeat, so that a
    slow drift of the clocks is not pinned on one setting), then the compile groups."""
    if isolate not in ISOLATION:
        raise ValueError(f"isolate must be one of {ISOLATION}, got {isolate!r}")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    groups = {}
    for item in items:
        groups.setdefault(process_key(item, isolate), []).append(item)
    eager = [(k, v) for k, v in groups.items() if k[0] == "eager"]
    out = [(0, k, v) for k, v in eager]
    for r in range(1, int(repeats)):
        order = eager[::-1] if r % 2 else eager
        out += [(r, k, [i for i in v if i.repeated]) for k, v in order]
    out += [(0, k, v) for k, v in groups.items() if k[0] == "compile"]
    return [(r, k, v) for r, k, v in out if v]


# ---------------------------------------------------------------------------- the run

def set_threads(n):
    """Run torch, NumPy's BLAS and TensorFlow (if imported) on ``n`` threads; returns what was
    set. On a shared machine one thread per library gives stable timings."""
    import torch
    n = int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    done = {"torch": n}
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(n)
        done["blas"] = n
    except ImportError:
        done["blas"] = None  # threadpoolctl missing: BLAS keeps its own default
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            done["tensorflow"] = n
        except RuntimeError:  # TF already initialised its thread pools
            done["tensorflow"] = None
    return done


def _write(results, out):
    if out is None:
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False, default=float) + "\n")
    os.replace(tmp, out)  # a reader never sees half a file


def _progress(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="record", file=sys.stderr)


def _check_args(device, precisions, formulations, repeats, isolate):
    import torch
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch.cuda.is_available() is False")
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {p!r}")
        if p == "tf32" and device != "cuda":
            raise ValueError("precision 'tf32' exists only on CUDA (tensor cores); the CPU's "
                             "'default' is strict float32")
    for f in formulations:
        if f not in ALL_FORMULATIONS:
            raise ValueError(f"formulation must be one of {ALL_FORMULATIONS}, got {f!r}")
    schedule([], repeats, isolate)  # its own checks of repeats and isolate


def _skipped(item, reason, repeat):
    return {**item.as_dict(), "status": "skipped", "reason": reason, "repeat": repeat}


def _run_worker(spec, items, timeout):
    """Run one worker process on ``items``; returns (records in plan order, process info,
    whether SIGINT stopped it). Records the worker did not write (killed at ``timeout``,
    crashed, interrupted) come back skipped, with the reason."""
    package_root = str(Path(__file__).resolve().parents[1])  # importable however we were
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="tconv-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "records.jsonl"
        spec_path.write_text(json.dumps({**spec, "items": [i.as_dict() for i in items]}))
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tconv_utils.bench", "--worker",
                                 str(spec_path), str(out_path)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=timeout)
            why = f"worker exited with code {proc.returncode}"
        except (subprocess.TimeoutExpired, KeyboardInterrupt) as stop:
            interrupted = isinstance(stop, KeyboardInterrupt)
            proc.kill()
            _, err = proc.communicate()
            why = ("interrupted (SIGINT)" if interrupted
                   else f"worker killed after {timeout:.0f} s (time budget)")
        lines = out_path.read_text().splitlines() if out_path.exists() else []
    done = [json.loads(line) for line in lines if line.endswith("}")]
    info = {"pid": proc.pid, "returncode": proc.returncode, "records": len(done),
            "elapsed_s": time.perf_counter() - start,
            "stderr_tail": (err or "")[-2000:] if proc.returncode else None}
    done += [_skipped(i, why, spec["repeat"]) for i in items[len(done):]]
    return done, info, interrupted


def run(device="cpu", precisions=None, *, quick=False, out=None, budget_s=None, formulations=None,
        compile_=None, min_run_time=None, threads=None, progress=True, notes="",
        record_cap_s=None, profile=True, cold=True, repeats=None, isolate="benchmark"):
    """Benchmark the planned records on ``device`` in fresh worker processes (see the module's
    docstring); return (and write) the results dict.

    ``budget_s`` bounds the whole run (the ceilings included): no worker starts after it and a
    running one is stopped when it is spent (its records not done are recorded as skipped).
    ``record_cap_s`` (default 90 s on CUDA, 120 s on the CPU) stops any single record.
    ``repeats`` (default 3, 1 with ``quick``) is the number of processes each direct forward
    record is measured in; ``isolate`` groups records into processes (:func:`process_key`).
    ``compile_`` defaults to on for CUDA and for a full CPU run. ``profile`` and ``cold`` add
    the profiler's kernels and the flushed-cache timing.
    """
    import importlib.util

    import torch
    start = time.perf_counter()
    precisions = list(precisions or (PRECISIONS if device == "cuda" else ("default",)))
    if formulations is None:
        formulations = list(TORCH_FORMULATIONS) + list(COMPILE_MODES)
        if device == "cpu":
            formulations += ["numpy", "keras"]
    repeats = (1 if quick else 3) if repeats is None else repeats
    _check_args(device, precisions, formulations, repeats, isolate)
    if compile_ is None:
        compile_ = device == "cuda" or not quick
    if min_run_time is None:
        min_run_time = 0.01 if quick else (0.05 if device == "cuda" else 0.08)
    if record_cap_s is None:
        record_cap_s = 90.0 if device == "cuda" else 120.0
    if "keras" in formulations and importlib.util.find_spec("keras") is None:
        formulations = [f for f in formulations if f != "keras"]
        notes += " Keras is not installed here: its timings are absent."
    _Precision.at_start = _torch_flags()
    cap = capability(device)
    threads_set = set_threads(threads) if threads else None
    results = {"schema_version": SCHEMA_VERSION, "environment": environment(device),
               "settings": {"quick": quick, "precisions": precisions,
                            "precision_meaning": {p: PRECISION_MEANING[p] for p in precisions},
                            "formulations": list(formulations), "compile": bool(compile_),
                            "min_run_time_s": min_run_time, "budget_s": budget_s,
                            "record_cap_s": record_cap_s, "threads": threads_set,
                            "profile": profile, "cold": cold, "flush_bytes": flush_bytes(device),
                            "repeats": repeats, "isolate": isolate,
                            "timer": "median and IQR of per-call times of blocks of "
                                     "back-to-back calls (torch.utils.benchmark.Timer.timeit, "
                                     "at least 5 blocks); on CUDA also event_median_s (device "
                                     "time per call, host hidden) and cold_median_s (the same "
                                     "after a cache flush); on the CPU cold_median_s by the "
                                     "host clock",
                            "tolerance": {p: TOLERANCE[p] for p in precisions},
                            "work_model": "flops = 2 x useful multiply-adds; bytes = read x and w"
                                          " once, write y once, at the tensors' itemsize; "
                                          "fwdbwd counts 3x both"},
               "notes": notes.strip(), "complete": False, "stopped_by": None, "elapsed_s": 0.0,
               "cases": [], "limits": None, "processes": [], "results": []}
    results["limits"] = device_limits(device, precisions, quick, min_run_time * 2, cap)
    # The large layer is sized from what is free once the parent holds only its context.
    free = torch.cuda.mem_get_info()[0] if device == "cuda" else None
    cases = default_cases(device, quick, free)
    results["cases"] = [c.as_dict() for c in cases]
    workers = schedule(plan(device, cases, precisions, formulations, compile_), repeats, isolate)
    _write(results, out)
    spec = {"device": device, "cap": cap, "limits": results["limits"], "cases": results["cases"],
            "threads": threads, "min_run_time": min_run_time, "record_cap_s": record_cap_s,
            "profile": profile, "cold": cold, "keras": "keras" in formulations,
            "deadline": None if budget_s is None else time.time() + budget_s - (
                time.perf_counter() - start)}
    bar = _progress(sum(len(group) for _, _, group in workers), progress)
    try:
        for index, (repeat, key, group) in enumerate(workers):
            left = None if budget_s is None else budget_s - (time.perf_counter() - start)
            if left is not None and left < 1.0:
                recs = [_skipped(i, f"time budget of {budget_s} s spent", repeat) for i in group]
                info, interrupted = {"pid": None, "returncode": None, "records": 0,
                                     "elapsed_s": 0.0, "stderr_tail": None}, False
            else:
                timeout = (left + WORKER_GRACE_S if left is not None
                           else record_cap_s * len(group) + 120)
                recs, info, interrupted = _run_worker(
                    {**spec, "repeat": repeat, "process": index}, group, timeout)
            results["processes"].append({"index": index, "repeat": repeat,
                                         "key": [str(k) for k in key], **info})
            results["results"] += recs
            results["elapsed_s"] = time.perf_counter() - start
            _write(results, out)
            if bar is not None:
                bar.set_postfix_str(f"repeat {repeat} {' '.join(map(str, key))}", refresh=False)
                bar.update(len(group))
            if interrupted:
                raise KeyboardInterrupt
        results["complete"] = True
    except KeyboardInterrupt:  # SIGINT (e.g. `timeout -s INT`): keep what is measured
        results["stopped_by"] = "interrupted (SIGINT) before the plan was done"
    finally:
        if bar is not None:
            bar.close()
        results["environment"]["loadavg_end"] = _loadavg()
        if device == "cuda":
            results["environment"]["gpu_state_end"] = gpu_state()
        results["elapsed_s"] = time.perf_counter() - start
        _write(results, out)
    return results


def worker(spec_path, out_path):
    """A worker process: measure the items of ``spec_path`` in order, appending each record to
    ``out_path`` as one JSON line as soon as it is done."""
    import torch
    spec = json.loads(Path(spec_path).read_text())
    device, cap = spec["device"], spec["cap"]
    _Precision.at_start = _torch_flags()  # a fresh process: PyTorch's defaults
    if spec["keras"]:
        from .frameworks import import_keras
        import_keras()
    if spec["threads"]:
        set_threads(spec["threads"])
    cases = {c["name"]: Case.from_dict(c) for c in spec["cases"]}
    deadline = spec["deadline"]
    with open(out_path, "a") as out:
        for d in spec["items"]:
            item = Item(cases[d["case"]], d["formulation"], d["precision"], d["memory_format"],
                        d["cudnn_benchmark"], d["mode"])
            left = None if deadline is None else deadline - time.time()
            if left is not None and left < 1.0:
                rec = _skipped(item, "time budget spent", spec["repeat"])
            else:
                cap_s = spec["record_cap_s"] if left is None else min(spec["record_cap_s"], left)
                timer = TimeCap(cap_s)
                try:
                    with timer:
                        rec = measure(item.case, item.formulation, device=device,
                                      precision=item.precision, memory_format=item.memory_format,
                                      mode=item.mode, cudnn_benchmark=item.cudnn_benchmark,
                                      limits=spec["limits"], min_run_time=spec["min_run_time"],
                                      cap=cap, profile=spec["profile"], cold=spec["cold"])
                except RecordTimeout as err:  # fired outside measure's own handler
                    rec = _skipped(item, str(err), spec["repeat"])
                if timer.fired and rec["status"] != "skipped":  # a caught alarm is still a stop
                    rec = _skipped(item, f"stopped at its time cap of {cap_s:g} s",
                                   spec["repeat"])
            rec.update(repeat=spec["repeat"], process=spec["process"])
            out.write(json.dumps(rec, default=float) + "\n")
            out.flush()
    if device == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(*argv[1:3])
        return 0
    parser = argparse.ArgumentParser(prog="python -m tconv_utils.bench",
                                     description="Time transposed-convolution formulations.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", default=None,
                        help=f"comma-separated subset of {','.join(PRECISIONS)} (default: all "
                             "on cuda, 'default' on cpu)")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--out", required=True, help="results JSON (rewritten as results come)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="the whole run stops after this many seconds (records not done "
                             "are marked skipped)")
    parser.add_argument("--record-cap-s", type=float, default=None,
                        help="stop any one record after this many seconds (default 90 cuda, "
                             "120 cpu)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="processes each direct forward record is measured in (default 3, "
                             "1 with --quick)")
    parser.add_argument("--isolate", choices=ISOLATION, default="benchmark",
                        help="one worker process per cudnn.benchmark value (default) or per "
                             "layer and setting")
    parser.add_argument("--formulations", default=None,
                        help=f"comma-separated subset of {','.join(ALL_FORMULATIONS)}")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument("--no-profile", action="store_true", help="skip torch.profiler")
    parser.add_argument("--no-cold", action="store_true", help="skip the flushed-cache timing")
    parser.add_argument("--min-run-time", type=float, default=None,
                        help="seconds of timing per measurement, at most 10x that "
                             "(default 0.01 quick, 0.05 cuda, 0.08 cpu)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch, BLAS and TF (default: each library's own)")
    parser.add_argument("--notes", default="", help="free text stored in the results")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    split = (lambda s: [v.strip() for v in s.split(",") if v.strip()] if s else None)
    try:
        res = run(args.device, split(args.precision), quick=args.quick, out=args.out,
                  budget_s=args.budget_s, formulations=split(args.formulations),
                  compile_=False if args.no_compile else None, min_run_time=args.min_run_time,
                  threads=args.threads, progress=not args.no_progress, notes=args.notes,
                  record_cap_s=args.record_cap_s, profile=not args.no_profile,
                  cold=not args.no_cold, repeats=args.repeats, isolate=args.isolate)
    except ValueError as err:
        parser.error(str(err))
    counts = {}
    for r in res["results"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"wrote {args.out}: {len(res['results'])} records {counts} in {res['elapsed_s']:.1f} s"
          + (f"; {res['stopped_by']}" if res["stopped_by"] else ""))
    from .bench_report import findings
    for line in findings(res):
        print("-", line)
    return 0 if res["complete"] else 130


if __name__ == "__main__":
    sys.exit(main())
