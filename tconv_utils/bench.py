"""Timing harness for transposed convolution: cases, formulations, settings, device limits.

Run it as a command (results go to a JSON file, rewritten after every measurement, so a run that
is stopped early still leaves a valid file)::

    python -m tconv_utils.bench --device cpu --quick --out results.json
    python -m tconv_utils.bench --device cuda --budget-s 330 --out gpu.json

Every timing goes through ``torch.utils.benchmark.Timer``: it synchronises the GPU around the
timed region, warms up while it chooses how many calls make a block, and returns per-call times
of many blocks; the harness reports their median and interquartile range (IQR). NumPy and Keras
are timed by the same Timer, so the same rules apply to them. Before a formulation is timed its
output is compared with ``F.conv_transpose2d`` in float32 (TF32 off) and the error is recorded.

Each result is put on the device's own roofline: the run measures a large matmul in the same
dtype (FLOP/s) and a large device copy (bytes/s), and a result's ``roofline_fraction`` is
``max(useful FLOPs / matmul rate, compulsory bytes / copy rate) / median time``. No peak number
is written in this file.

The plot and table functions at the end read result dicts (``json.load`` of such a file); they
are what the GPU-timing chapter draws its figures with. torch, tqdm, Keras and matplotlib are
imported inside the functions that use them.
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
import time
import tracemalloc
from pathlib import Path

import numpy as np

from . import formulations as fm

SCHEMA_VERSION = 1
DTYPES = ("fp32", "tf32", "bf16", "fp16")
TORCH_FORMULATIONS = fm.FORMULATIONS  # direct, zero_insertion, gemm_col2im, subpixel
ALL_FORMULATIONS = TORCH_FORMULATIONS + ("compile", "numpy", "keras")
MEMORY_FORMATS = ("nchw", "channels_last")
MODES = ("fwd", "fwdbwd")
# Relative error (max |y - ref| / max |ref|) a result may have against the float32 reference.
TOLERANCE = {"fp32": 1e-4, "tf32": 1e-2, "bf16": 5e-2, "fp16": 1e-2}


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
        size = [(n - 1) * self.stride - 2 * self.padding + self.dilation * (self.kernel - 1)
                + self.output_padding + 1 for n in (self.h, self.w)]
        return (self.batch, self.c_out, *size)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["out_shape"] = list(self.out_shape())
        d.update({k: v for k, v in self.work().items() if k in ("useful_flops", "bytes")})
        return d


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


def _driver_version():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def environment(device):
    """Device name, driver, CUDA, cuDNN, torch and numpy versions, date, git commit."""
    import torch
    env = {"device_type": device, "torch": torch.__version__, "numpy": np.__version__,
           "python": platform.python_version(), "platform": platform.platform(),
           "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "cuda": torch.version.cuda,
           "cudnn": None, "driver": None, "date": datetime.datetime.now(
               datetime.timezone.utc).isoformat(timespec="seconds"), "git_commit": _git_commit()}
    if device == "cuda":
        env["name"] = torch.cuda.get_device_name()
        env["cudnn"] = torch.backends.cudnn.version()
        env["driver"] = _driver_version()
        env["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    else:
        env["name"] = env["cpu"]
    return env


# ---------------------------------------------------------------------------- timing

def time_callable(fn, *, min_run_time=0.2, max_run_time=None, warmup=2):
    """Median and IQR of the per-call time of ``fn()``, by ``torch.utils.benchmark.Timer``.

    ``warmup`` calls first (first-call autotuning, allocations), then ``adaptive_autorange``:
    it picks how many calls make a block (a block of at least about 10 ms hides the timer's
    own cost), synchronises the GPU around each block, and stops once at least 4 blocks and
    ``min_run_time`` seconds are in and the IQR is within 10 % of the median, or when
    ``max_run_time`` (default ``10 * min_run_time``) is spent.
    """
    import torch
    from torch.utils import benchmark
    for _ in range(warmup):
        fn()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn},
                            num_threads=torch.get_num_threads())
    m = timer.adaptive_autorange(threshold=0.1, min_run_time=min_run_time,
                                 max_run_time=max_run_time or 10 * min_run_time)
    times = list(m.times)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return {"median_s": float(med), "iqr_s": float(q3 - q1), "min_s": float(min(times)),
            "blocks": len(times), "calls_per_block": int(m.number_per_run)}


class _Precision:
    """Context: TF32 on or off for matmul and cuDNN, cudnn.benchmark on or off."""

    def __init__(self, dtype, cudnn_benchmark=None):
        self.tf32 = dtype == "tf32"
        self.cudnn_benchmark = cudnn_benchmark

    def __enter__(self):
        import torch
        b = torch.backends
        self.saved = (b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32, b.cudnn.benchmark)
        b.cuda.matmul.allow_tf32 = b.cudnn.allow_tf32 = self.tf32
        if self.cudnn_benchmark is not None:
            b.cudnn.benchmark = self.cudnn_benchmark
        return self

    def __exit__(self, *exc):
        import torch
        b = torch.backends
        b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32, b.cudnn.benchmark = self.saved


def torch_dtype(name):
    import torch
    return {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
            "fp16": torch.float16}[name]


def device_limits(device, dtypes, quick=False, min_run_time=0.2):
    """The device's own ceilings: a square matmul per dtype (FLOP/s), a large copy (bytes/s).

    A ceiling is the best the device did: the fastest block of the best of two sizes (a median
    would put the roof below what a lucky layer reaches on a busy machine).
    """
    import torch
    sizes = (512,) if quick else ((4096, 8192) if device == "cuda" else (1024, 2048))
    copy_bytes = (16 << 20) if quick else ((1 << 30) if device == "cuda" else (256 << 20))
    limits = {"matmul": {}, "copy": None}
    for dtype in dtypes:
        for n in sizes:
            with _Precision(dtype):
                gen = torch.Generator(device=device).manual_seed(0)
                a = torch.randn(n, n, device=device, generator=gen).to(torch_dtype(dtype))
                b = torch.randn(n, n, device=device, generator=gen).to(torch_dtype(dtype))
                t = time_callable(lambda: torch.mm(a, b), min_run_time=min_run_time)
            rate = 2 * n ** 3 / t["min_s"]
            if rate > limits["matmul"].get(dtype, {}).get("flops_per_s", 0):
                limits["matmul"][dtype] = {"n": n, **t, "flops_per_s": rate}
            del a, b
    src = torch.empty(copy_bytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    t = time_callable(lambda: dst.copy_(src), min_run_time=min_run_time)
    # A copy reads every byte once and writes it once.
    limits["copy"] = {"bytes": copy_bytes, **t, "bytes_per_s": 2 * copy_bytes / t["min_s"]}
    return limits


# ---------------------------------------------------------------------------- formulations

def keras_padding(case):
    """The Keras padding string that gives PyTorch's output, or None if none does."""
    k, s, p, op = case.kernel, case.stride, case.padding, case.output_padding
    if case.groups != 1 or op != 0:
        return None
    if p == 0 and k >= s:
        return "valid"
    if k >= s and (k - s) % 2 == 0 and p == (k - s) // 2:
        return "same"
    return None


def _unsupported(case, formulation, device, dtype, mode, memory_format):
    """Why a combination is not run (None when it is)."""
    if formulation in ("numpy", "keras"):
        if device != "cpu":
            return f"{formulation} runs on the CPU only"
        if dtype != "fp32" or mode != "fwd":
            return f"{formulation} is timed in fp32, forward only"
        if formulation == "numpy" and memory_format != "nchw":
            return "numpy takes NCHW arrays"
        if formulation == "keras" and memory_format != "channels_last":
            return "Keras layers take channels-last (NHWC) input"
        if formulation == "keras" and keras_padding(case) is None:
            return ("Keras Conv2DTranspose has no groups and pads only 'valid'/'same'; this case "
                    "needs groups or another padding")
    elif memory_format == "nhwc":
        return "torch formulations use nchw or channels_last"
    return None


def _make_callable(formulation, case, x, w, mode):
    """``fn()`` that runs one formulation (and, for fwdbwd, its backward) on ``x``, ``w``."""
    import torch
    kw = case.kwargs
    if formulation == "numpy":
        from .reference import conv_transpose2d
        xn, wn = x.numpy(), w.numpy()
        return lambda: conv_transpose2d(xn, wn, **kw)
    if formulation == "keras":
        from .frameworks import keras_layer
        layer = keras_layer(w.numpy(), stride=case.stride, padding=keras_padding(case),
                            dilation=case.dilation)
        xk = np.ascontiguousarray(np.moveaxis(x.numpy(), 1, -1))
        keras = sys.modules["keras"]
        xk = keras.ops.convert_to_tensor(xk)
        return lambda: layer(xk)
    if formulation == "compile":
        torch._dynamo.reset()  # each case compiles afresh (no recompile limit, no reuse)
        op = torch.compile(fm.direct, dynamic=False)
    else:
        op = getattr(fm, formulation)
    if mode == "fwd":
        def fwd():
            with torch.no_grad():
                return op(x, w, **kw)
        return fwd
    xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
    grad = torch.ones(case.out_shape(), dtype=x.dtype, device=x.device)
    if x.is_contiguous(memory_format=torch.channels_last):
        grad = grad.contiguous(memory_format=torch.channels_last)

    def fwdbwd():
        y = op(xg, wg, **kw)
        return torch.autograd.grad(y, (xg, wg), grad)
    return fwdbwd


def _as_tensor(y, like, keras=False):
    """A formulation's output as a float32 NCHW tensor on ``like``'s device."""
    import torch
    if not isinstance(y, torch.Tensor):
        y = np.asarray(y, dtype=np.float32)
        y = torch.from_numpy(np.ascontiguousarray(np.moveaxis(y, -1, 1) if keras else y))
    return y.detach().to(like.device, torch.float32)


def _inputs(case, device, dtype, memory_format, seed=0):
    """Random x and w scaled so that outputs are about unit size (fp16 stays in range)."""
    import torch
    gen = torch.Generator(device=device).manual_seed(seed)  # drawn where used: no big copies
    x = torch.randn(case.x_shape, generator=gen, device=device)
    fan = case.c_in // case.groups * case.kernel ** 2 / case.stride ** 2
    w = torch.randn(case.w_shape, generator=gen, device=device) / math.sqrt(max(fan, 1.0))
    x, w = x.to(torch_dtype(dtype)), w.to(torch_dtype(dtype))
    if memory_format == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    return x, w


def _reference(case, x, w):
    """F.conv_transpose2d in float32 with TF32 off: what every formulation is checked against."""
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


def measure(case, formulation, *, device="cpu", dtype="fp32", memory_format="nchw", mode="fwd",
            cudnn_benchmark=None, limits=None, min_run_time=0.2, check_only=False):
    """Check one formulation against ``F.conv_transpose2d`` on ``case``, then time it.

    Returns a result record (the dicts in a results file's ``results`` list).
    """
    import torch
    rec = {"case": case.name, "formulation": formulation, "dtype": dtype,
           "memory_format": memory_format, "mode": mode,
           "cudnn_benchmark": cudnn_benchmark if device == "cuda" else None,
           "status": "ok", "reason": None}
    why = _unsupported(case, formulation, device, dtype, mode, memory_format)
    if why:
        return {**rec, "status": "unsupported", "reason": why}
    itemsize = torch_dtype(dtype).itemsize
    counts = case.work(formulation, itemsize)
    factor = 1 if mode == "fwd" else 3  # backward: one op for dx, one for dw, same work each
    rec.update(flops=factor * counts["useful_flops"], bytes=factor * counts["bytes"],
               formulation_flops=factor * counts["flops"],
               extra_bytes=factor * counts["extra_bytes"])
    try:
        with _Precision(dtype, cudnn_benchmark):
            x, w = _inputs(case, device, dtype,
                           "nchw" if formulation in ("numpy", "keras") else memory_format)
            ref = _reference(case, x, w)
            fn_fwd = _make_callable(formulation, case, x, w, "fwd")
            t0 = time.perf_counter()
            y = _as_tensor(fn_fwd(), ref, keras=formulation == "keras")
            if formulation == "compile":
                rec["compile_s"] = time.perf_counter() - t0
            same = y.shape == ref.shape
            err = float((y - ref).abs().max()) if same else float("inf")
            rec["max_abs_error"] = err
            rec["max_rel_error"] = err / max(float(ref.abs().max()), 1e-30)
            del y
            if not rec["max_rel_error"] <= TOLERANCE[dtype]:
                return {**rec, "status": "mismatch",
                        "reason": f"output differs from F.conv_transpose2d: same shape "
                                  f"{same}, relative error {rec['max_rel_error']:.3g}"}
            if check_only:
                return rec
            del ref
            fn = fn_fwd if mode == "fwd" else _make_callable(formulation, case, x, w, mode)
            if formulation == "compile" and mode != "fwd":
                t0 = time.perf_counter()
                fn()
                rec["compile_s"] = time.perf_counter() - t0
            # On CUDA the first calls autotune (cudnn.benchmark); on the CPU one is enough.
            t = time_callable(fn, min_run_time=min_run_time, warmup=2 if device == "cuda" else 1)
            rec.update(t)
            rec["peak_memory_bytes"], rec["peak_memory_method"] = _peak_memory(
                fn, device, formulation)
    except Exception as err:  # noqa: BLE001 - a failed formulation is a result, not a crash
        return {**rec, "status": "failed", "reason": f"{type(err).__name__}: {err}"[:500]}
    finally:
        if device == "cuda":
            torch.cuda.empty_cache()
    _roofline(rec, limits, dtype)
    return rec


def _roofline(rec, limits, dtype):
    med = rec["median_s"]
    rec["achieved_tflops"] = rec["flops"] / med / 1e12
    rec["achieved_gbps"] = rec["bytes"] / med / 1e9
    if limits and dtype in limits["matmul"] and limits.get("copy"):
        peak_f = limits["matmul"][dtype]["flops_per_s"]
        peak_b = limits["copy"]["bytes_per_s"]
        bound = max(rec["flops"] / peak_f, rec["bytes"] / peak_b)
        rec["roofline_bound_s"] = bound
        rec["roofline_fraction"] = bound / med
        rec["bound_by"] = "compute" if rec["flops"] / peak_f >= rec["bytes"] / peak_b else "memory"


# ---------------------------------------------------------------------------- the run

def plan(device, cases, dtypes, formulations, compile_=True):
    """Ordered list of (case, formulation, dtype, memory_format, mode, cudnn_benchmark).

    Most important first, so that a run cut short by its budget keeps what matters: every
    formulation at cudnn.benchmark on; then cudnn.benchmark off for ``direct``; torch.compile last.
    """
    cuda = device == "cuda"
    bench_on = True if cuda else None
    items = []
    for dtype in dtypes:
        for case in cases:
            for f in formulations:
                if f == "compile":
                    continue
                for mf in (("channels_last",) if f == "keras" else MEMORY_FORMATS):
                    for mode in MODES:
                        if f in ("numpy", "keras") and (mode != "fwd" or mf == "channels_last"
                                                        and f == "numpy"):
                            continue
                        items.append((case, f, dtype, mf, mode, bench_on))
    if cuda and "direct" in formulations:
        items += [(case, "direct", dtype, mf, mode, False)
                  for dtype in dtypes for case in cases for mf in MEMORY_FORMATS for mode in MODES]
    if compile_ and "compile" in formulations:
        # The largest case first: compile time is what a short budget runs out of.
        order = sorted(cases, key=lambda c: -c.work()["useful_flops"])
        modes = MODES if cuda else ("fwd",)
        items += [(case, "compile", dtype, "nchw", mode, bench_on)
                  for mode in modes for case in order for dtype in dtypes]
    return items


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
    return tqdm(total=total, unit="timing", file=sys.stderr)


def run(device="cpu", dtypes=None, *, quick=False, out=None, budget_s=None, formulations=None,
        compile_=None, min_run_time=None, threads=None, progress=True, notes=""):
    """Benchmark every case x formulation x setting on ``device``; return (and write) results.

    ``budget_s`` stops starting new measurements after that many seconds (the rest are recorded
    as skipped); ``compile_`` defaults to on for CUDA and for a full CPU run.
    """
    import torch
    start = time.perf_counter()
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch.cuda.is_available() is False")
    dtypes = list(dtypes or (DTYPES if device == "cuda" else ("fp32",)))
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {d!r}")
        if d == "tf32" and device != "cuda":
            raise ValueError("dtype 'tf32' exists only on CUDA (tensor cores); use fp32 on CPU")
    if formulations is None:
        formulations = list(TORCH_FORMULATIONS) + ["compile"]
        if device == "cpu":
            formulations += ["numpy", "keras"]
    for f in formulations:
        if f not in ALL_FORMULATIONS:
            raise ValueError(f"formulation must be one of {ALL_FORMULATIONS}, got {f!r}")
    if compile_ is None:
        compile_ = device == "cuda" or not quick
    if min_run_time is None:
        min_run_time = 0.01 if quick else (0.05 if device == "cuda" else 0.08)
    free = torch.cuda.mem_get_info()[0] if device == "cuda" else None
    cases = default_cases(device, quick, free)
    if "keras" in formulations:
        try:
            from .frameworks import _import_keras
            _import_keras()
        except ImportError:
            formulations = [f for f in formulations if f != "keras"]
            notes += " Keras is not installed here: its timings are absent."
    threads_set = set_threads(threads) if threads else None
    results = {"schema_version": SCHEMA_VERSION, "environment": environment(device),
               "settings": {"quick": quick, "dtypes": dtypes, "formulations": list(formulations),
                            "compile": bool(compile_), "min_run_time_s": min_run_time,
                            "budget_s": budget_s, "threads": threads_set, "timer": "torch.utils.benchmark.Timer."
                            "adaptive_autorange, median and IQR of per-call block times",
                            "tolerance": {d: TOLERANCE[d] for d in dtypes},
                            "work_model": "flops = 2 x useful multiply-adds; bytes = read x and w"
                            " once, write y once; fwdbwd counts 3x both"},
               "notes": notes.strip(), "complete": False, "elapsed_s": 0.0,
               "cases": [c.as_dict() for c in cases], "limits": None, "results": []}
    results["limits"] = device_limits(device, dtypes, quick, min_run_time=min_run_time * 2)
    _write(results, out)
    items = plan(device, cases, dtypes, formulations, compile_)
    bar = _progress(len(items), progress)
    try:
        for case, f, dtype, mf, mode, bench in items:
            elapsed = time.perf_counter() - start
            if budget_s is not None and elapsed > budget_s:
                rec = {"case": case.name, "formulation": f, "dtype": dtype, "memory_format": mf,
                       "mode": mode, "cudnn_benchmark": bench, "status": "skipped",
                       "reason": f"time budget of {budget_s} s spent"}
            else:
                rec = measure(case, f, device=device, dtype=dtype, memory_format=mf, mode=mode,
                              cudnn_benchmark=bench, limits=results["limits"],
                              min_run_time=min_run_time)
            results["results"].append(rec)
            results["elapsed_s"] = time.perf_counter() - start
            _write(results, out)
            if bar is not None:
                bar.set_postfix_str(f"{case.name} {f} {dtype}", refresh=False)
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    results["complete"] = True
    results["elapsed_s"] = time.perf_counter() - start
    _write(results, out)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tconv_utils.bench",
                                     description="Time transposed-convolution formulations.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", default=None,
                        help="comma-separated subset of fp32,tf32,bf16,fp16 (default: all four "
                             "on cuda, fp32 on cpu)")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--out", required=True, help="results JSON (rewritten as results come)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start no new measurement after this many seconds")
    parser.add_argument("--formulations", default=None,
                        help=f"comma-separated subset of {','.join(ALL_FORMULATIONS)}")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
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
        res = run(args.device, split(args.dtype), quick=args.quick, out=args.out,
                  budget_s=args.budget_s, formulations=split(args.formulations),
                  compile_=False if args.no_compile else None, min_run_time=args.min_run_time,
                  threads=args.threads,
                  progress=not args.no_progress, notes=args.notes)
    except ValueError as err:
        parser.error(str(err))
    counts = {}
    for r in res["results"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"wrote {args.out}: {len(res['results'])} records {counts} in {res['elapsed_s']:.1f} s")
    return 0


# ---------------------------------------------------------------------------- reading results

def load_results(paths):
    """Results files as ``{stem: dict}``, in sorted order of path."""
    return {Path(p).stem: json.loads(Path(p).read_text()) for p in sorted(map(str, paths))}


def ok_results(results, **match):
    """The timed records of one results dict whose fields equal ``match``."""
    return [r for r in results["results"] if r["status"] == "ok" and "median_s" in r
            and all(r.get(k) == v for k, v in match.items())]


def default_setting(results):
    """The setting the formulation comparison is drawn at: first dtype, NCHW, forward."""
    s = {"dtype": results["settings"]["dtypes"][0], "memory_format": "nchw", "mode": "fwd"}
    if results["environment"]["device_type"] == "cuda":
        s["cudnn_benchmark"] = True
    return s


def table(results, setting=None, formulations=None):
    """Rows ``(case, formulation, median ms, IQR ms, TFLOP/s, roofline fraction)`` at one setting
    (default :func:`default_setting`; Keras is kept at its own NHWC layout)."""
    setting = setting or default_setting(results)
    rows = []
    for case in results["cases"]:
        for r in results["results"]:
            if r["case"] != case["name"] or r["status"] != "ok" or "median_s" not in r:
                continue
            if formulations and r["formulation"] not in formulations:
                continue
            want = dict(setting)
            if r["formulation"] == "keras":
                want["memory_format"] = "channels_last"
            if all(r.get(k) == v for k, v in want.items()):
                rows.append((case["name"], r["formulation"], 1e3 * r["median_s"],
                             1e3 * r["iqr_s"], r["achieved_tflops"],
                             r.get("roofline_fraction")))
    return rows


def format_table(rows):
    lines = [f"{'case':<8} {'formulation':<15} {'median ms':>10} {'IQR ms':>8} {'TFLOP/s':>8} "
             f"{'roofline':>8}"]
    for case, f, med, iqr, tf, frac in rows:
        frac_s = "-" if frac is None else f"{frac:.3f}"
        lines.append(f"{case:<8} {f:<15} {med:>10.3f} {iqr:>8.3f} {tf:>8.4f} {frac_s:>8}")
    return "\n".join(lines)


def fastest(results, setting=None):
    """Per case, the fastest exact formulation at ``setting``: ``{case: (formulation, ms)}``."""
    best = {}
    for case, f, med, *_ in table(results, setting):
        if case not in best or med < best[case][1]:
            best[case] = (f, med)
    return best


def best_setting(results):
    """Per case, the fastest record over every formulation and setting."""
    best = {}
    for r in ok_results(results):
        if r["mode"] != "fwd":
            continue
        if r["case"] not in best or r["median_s"] < best[r["case"]]["median_s"]:
            best[r["case"]] = r
    return best


def versus(results, formulation, baseline="direct", family=None, setting=None):
    """Rows ``(case, ms, baseline ms, ms / baseline ms, fraction of the matmul rate)`` comparing
    ``formulation`` with ``baseline`` at one setting, optionally for one case family."""
    rows = table(results, setting)
    families = {c["name"]: c["family"] for c in results["cases"]}
    dtype = (setting or default_setting(results))["dtype"]
    peak = results["limits"]["matmul"][dtype]["flops_per_s"]
    found = {(c, f): (ms, tf) for c, f, ms, _, tf, _ in rows}
    out = []
    for case in families:
        if family and families[case] != family:
            continue
        if (case, formulation) in found and (case, baseline) in found:
            ms, tf = found[(case, formulation)]
            base = found[(case, baseline)][0]
            out.append((case, ms, base, ms / base, tf * 1e12 / peak))
    return out


def _ratio(results, field, slow, fast, **match):
    """Median over matching (case, other settings) of time(field=slow) / time(field=fast)."""
    times = {}
    for r in ok_results(results, **match):
        key = tuple((k, r[k]) for k in ("case", "formulation", "dtype", "memory_format", "mode",
                                        "cudnn_benchmark") if k != field)
        times.setdefault(key, {})[r[field]] = r["median_s"]
    ratios = [t[slow] / t[fast] for t in times.values() if slow in t and fast in t]
    return (float(np.median(ratios)), len(ratios)) if ratios else (None, 0)


def findings(results):
    """Measured statements for the chapter's "what to do in practice" list, as strings."""
    env, out = results["environment"], []
    name = f"{env['name']} ({env['device_type']})"
    best = fastest(results)
    wins = sorted(c for c, (f, _) in best.items() if f == "direct")
    out.append(f"{name}: F.conv_transpose2d is the fastest exact formulation in {len(wins)} of "
               f"{len(best)} cases at {default_setting(results)}; elsewhere: "
               + (", ".join(f"{c}: {f}" for c, (f, _) in best.items() if f != "direct")
                  or "none"))
    r, n = _ratio(results, "memory_format", "nchw", "channels_last", formulation="direct")
    if r:
        out.append(f"{name}: channels_last vs NCHW for F.conv_transpose2d: NCHW time / "
                   f"channels_last time = {r:.2f} (median of {n} pairs; > 1 means channels_last "
                   "is faster)")
    r, n = _ratio(results, "mode", "fwdbwd", "fwd", formulation="direct")
    if r:
        out.append(f"{name}: forward + backward costs {r:.2f}x the forward alone (median of {n})")
    if env["device_type"] == "cuda":
        r, n = _ratio(results, "cudnn_benchmark", False, True, formulation="direct")
        if r:
            out.append(f"{name}: cudnn.benchmark off / on = {r:.2f} (median of {n} pairs; > 1 "
                       "means switching it on helps)")
        for dtype in results["settings"]["dtypes"]:
            if dtype != "fp32":
                r, n = _ratio(results, "dtype", "fp32", dtype, formulation="direct")
                if r:
                    out.append(f"{name}: fp32 time / {dtype} time = {r:.2f} (median of {n})")
        r, n = _ratio(results, "formulation", "direct", "compile", mode="fwd")
        if r:
            out.append(f"{name}: F.conv_transpose2d time / torch.compile time = {r:.2f} "
                       f"(median of {n}; > 1 means compile is faster)")
    largest = max(results["cases"], key=lambda c: c["useful_flops"])["name"]
    recs = [r for r in ok_results(results, case=largest) if r.get("roofline_fraction")]
    if recs:
        top = max(recs, key=lambda r: r["roofline_fraction"])
        out.append(f"{name}: on the largest case ({largest}) the best record reaches "
                   f"{top['roofline_fraction']:.0%} of the roofline bound: {top['formulation']}, "
                   f"{top['dtype']}, {top['memory_format']}, {top['mode']}, cudnn.benchmark="
                   f"{top['cudnn_benchmark']} ({'meets' if top['roofline_fraction'] >= 0.6 else 'misses'}"
                   " the 60 % target)")
    return out


# ---------------------------------------------------------------------------- plots

def plot_times(results, setting=None, ax=None, title=None):
    """Bar chart: median time (log scale, IQR as error bar) per formulation, per case."""
    import matplotlib.pyplot as plt
    rows = table(results, setting)
    cases = [c["name"] for c in results["cases"] if any(r[0] == c["name"] for r in rows)]
    forms = [f for f in ALL_FORMULATIONS if any(r[1] == f for r in rows)]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2), dpi=90)
    width = 0.8 / max(len(forms), 1)
    for j, f in enumerate(forms):
        xs, ys, es = [], [], []
        for i, c in enumerate(cases):
            for case, ff, med, iqr, *_ in rows:
                if case == c and ff == f:
                    xs.append(i + (j - (len(forms) - 1) / 2) * width)
                    ys.append(med)
                    es.append(iqr / 2)
        ax.bar(xs, ys, width, yerr=es, label=f, capsize=1.5)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases)
    ax.set_yscale("log")
    ax.set_ylabel("median time (ms)")
    setting = setting or default_setting(results)
    ax.set_title(title or f"{results['environment']['name'][:40]}, "
                 + ", ".join(f"{k}={v}" for k, v in setting.items()), fontsize=9)
    ax.legend(fontsize=7, ncol=min(len(forms), 4))
    return ax


def plot_roofline(results, ax=None, formulation="direct", title=None):
    """The roofline of the device (measured matmul and copy rates) with every timed setting of
    ``formulation`` as a point: x = useful FLOPs per compulsory byte, y = achieved FLOP/s."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    lim = results["limits"]
    bw = lim["copy"]["bytes_per_s"]
    xs = np.logspace(-1, 4, 200)
    markers = {"fp32": "o", "tf32": "s", "bf16": "^", "fp16": "v"}
    for i, (dtype, m) in enumerate(lim["matmul"].items()):
        ax.plot(xs, np.minimum(m["flops_per_s"], bw * xs) / 1e12, color=f"C{i}", lw=1,
                label=f"roof {dtype}")
        recs = ok_results(results, formulation=formulation, dtype=dtype)
        for r in recs:
            filled = r["memory_format"] == "nchw"
            ax.scatter(r["flops"] / r["bytes"], r["achieved_tflops"], marker=markers[dtype],
                       s=18, color=f"C{i}" if filled else "none", edgecolors=f"C{i}",
                       linewidths=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs per compulsory byte")
    ax.set_ylabel("achieved TFLOP/s")
    ax.set_title(title or f"{results['environment']['name'][:40]}: {formulation} "
                 "(filled NCHW, hollow channels-last)", fontsize=9)
    ax.legend(fontsize=7)
    return ax


if __name__ == "__main__":
    sys.exit(main())
