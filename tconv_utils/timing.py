"""Timing one callable honestly, on a CPU or a GPU: warm, device-side, cold and profiled, capped.

Three clocks, each answering its own question:

- :func:`time_callable`, the time per call of a back-to-back loop (``torch.utils.benchmark.Timer``
  blocks, the GPU synchronised around each block): what a loop of such calls costs, host
  included. When the host issues calls more slowly than the device runs them, this is the
  host's time.
- :func:`time_events` (GPU only), the device's time per call: CUDA events recorded around each
  call, queued behind a sleep kernel long enough that the host has issued the whole call before
  the device reaches it, so no host gap is counted. With ``flush_bytes`` a buffer larger than
  any cache is zeroed before each call (``triton.testing.do_bench``'s method): the *cold* time.
  Warm and cold device times are on the same clock and can be compared.
- :func:`time_cold_host` (the CPU), the call timed by ``time.perf_counter`` after the flush.

:func:`kernel_profile` asks ``torch.profiler`` what one call runs. :class:`TimeCap` stops whatever
runs inside it after a number of seconds. torch is imported inside the functions.
"""
from __future__ import annotations

import math
import signal
import threading
import time

import numpy as np

MIN_BLOCKS = 5  # blocks time_callable always collects, so that its IQR has something to say


def _spread(times):
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return float(med), float(q3 - q1)


def time_callable(fn, *, min_run_time=0.2, max_run_time=None, warmup=2, threshold=0.1):
    """Median and IQR of the per-call time of ``fn()`` over blocks of back-to-back calls.

    ``warmup`` calls first (first-call autotuning, allocations); then the time of one call is
    estimated and each block is made of enough calls to last about ``min_run_time /
    MIN_BLOCKS`` (at least one call). Each block is one ``torch.utils.benchmark.Timer.timeit``,
    which synchronises the GPU before and after it. Blocks are collected until there are at
    least :data:`MIN_BLOCKS` of them, ``min_run_time`` seconds are spent and the IQR is within
    ``threshold`` of the median, or until ``max_run_time`` (default ``10 * min_run_time``) is
    spent, but never fewer than :data:`MIN_BLOCKS` blocks (a call longer than ``max_run_time /
    MIN_BLOCKS`` runs longer than ``max_run_time``).
    """
    import torch
    from torch.utils import benchmark
    for _ in range(warmup):
        fn()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn},
                            num_threads=torch.get_num_threads())
    one = min(timer.timeit(1).median for _ in range(2))
    number = max(1, int(min_run_time / MIN_BLOCKS / max(one, 1e-9)))
    max_run_time = max_run_time or 10 * min_run_time
    times, spent = [], 0.0
    while True:
        t = timer.timeit(number).median  # seconds per call in this block
        times.append(t)
        spent += t * number
        enough = len(times) >= MIN_BLOCKS
        if enough and spent >= min_run_time:
            med, iqr = _spread(times)
            if iqr <= threshold * med or spent >= max_run_time:
                break
    med, iqr = _spread(times)
    return {"median_s": med, "iqr_s": iqr, "min_s": float(min(times)), "blocks": len(times),
            "calls_per_block": number}


def flush_bytes(device):
    """Bytes to overwrite so that nothing of a call's data is left in cache: 256 MiB on a GPU
    (``triton.testing.do_bench``'s choice; several times any L2 to date), 64 MiB on a CPU."""
    return (256 << 20) if device == "cuda" else (64 << 20)


_SLEEP = {}  # cycles of torch.cuda._sleep per second, measured once per process


def _sleep_cycles(seconds):
    """Cycles for ``torch.cuda._sleep`` to keep the device busy about ``seconds``."""
    import torch
    if "rate" not in _SLEEP:
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        torch.cuda._sleep(1000)  # loads the kernel
        torch.cuda.synchronize()
        start.record()
        torch.cuda._sleep(10_000_000)
        end.record()
        torch.cuda.synchronize()
        _SLEEP["rate"] = 10_000_000 / (start.elapsed_time(end) / 1e3)
    return int(math.ceil(seconds * _SLEEP["rate"]))


def time_events(fn, *, reps, cover_s, flush_bytes=0):
    """The device's time per call of ``fn()`` (GPU only): median and IQR over ``reps`` calls.

    Before each call the device is given ``cover_s`` seconds of a sleep kernel (and, with
    ``flush_bytes``, a buffer of that size to zero first, so the call finds nothing in cache);
    CUDA events are recorded right before and after the call. While the host's work for one
    call (Python, dispatch, launches) takes less than ``cover_s``, the call's kernels are all
    queued before the device reaches them, and the events time the device alone.
    ``host_hidden`` is the share of calls for which that held (host time measured by
    ``time.perf_counter`` against the sleep's own event-timed length).
    """
    import torch
    buf = torch.empty(flush_bytes, dtype=torch.uint8, device="cuda") if flush_bytes else None
    cycles = _sleep_cycles(cover_s)
    marks = [[torch.cuda.Event(enable_timing=True) for _ in range(3)] for _ in range(reps)]
    host = []
    torch.cuda.synchronize()
    for before, start, end in marks:
        if buf is not None:
            buf.zero_()
        before.record()
        torch.cuda._sleep(cycles)
        t0 = time.perf_counter()
        start.record()
        fn()
        end.record()
        host.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    times = [start.elapsed_time(end) / 1e3 for _, start, end in marks]
    slept = [before.elapsed_time(start) / 1e3 for before, start, _ in marks]
    del buf
    med, iqr = _spread(times)
    hidden = float(np.mean([h < s for h, s in zip(host, slept)]))
    return {"median_s": med, "iqr_s": iqr, "reps": reps, "host_hidden": hidden}


def time_cold_host(fn, device, reps):
    """Median and IQR of ``fn()`` timed by the host's clock, a buffer of :func:`flush_bytes`
    zeroed before every call (for the CPU, where the call is synchronous)."""
    buf = np.empty(flush_bytes(device), dtype=np.uint8)
    times = []
    for _ in range(reps):
        buf.fill(0)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    del buf
    med, iqr = _spread(times)
    return {"median_s": med, "iqr_s": iqr, "reps": reps}


def kernel_profile(fn, device, top=3):
    """What one call runs, by ``torch.profiler``: on a GPU the ``top`` kernels by device time
    (the names say which algorithm cuDNN picked) and their total; on a CPU the top operators by
    their own CPU time (no total: there the operators are the call)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    cuda = device == "cuda"
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()

    def spent(e):  # microseconds; the attribute was renamed from cuda to device in torch 2.4
        if not cuda:
            return e.self_cpu_time_total
        return getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
    events = sorted((e for e in prof.key_averages() if spent(e) > 0), key=spent, reverse=True)
    kernels = [{"name": e.key[:300], "calls": int(e.count), "time_s": spent(e) / 1e6}
               for e in events[:top]]
    total = sum(spent(e) for e in events) / 1e6 if cuda else None
    return {"kernels": kernels, "kernel_time_s": total}


class RecordTimeout(BaseException):
    """A record ran past its time cap. A BaseException, like KeyboardInterrupt, so that the
    ``except Exception`` of a library (or of the harness's profiler guard) cannot swallow it."""


class TimeCap:
    """Context: raise :class:`RecordTimeout` after ``seconds`` (SIGALRM, main thread only; it
    fires between Python bytecodes, so a long call into C finishes first)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.fired = False  # set when the alarm went off, even if someone caught the exception
        self.active = (seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())

    def _fire(self, *_):
        self.fired = True
        raise RecordTimeout(f"stopped at its time cap of {self.seconds:g} s")

    def __enter__(self):
        if self.active:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.01))
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
