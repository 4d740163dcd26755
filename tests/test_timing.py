"""Tests of tconv_utils.timing: warm and cold timings, the profiler's names, the time cap. The
CUDA tests run where a GPU is (before a GPU run of the harness: they check its event timing)."""
import time

import pytest
import torch
import torch.nn.functional as F

from tconv_utils import timing

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_time_callable_reports_median_and_iqr():
    t = timing.time_callable(lambda: time.sleep(0.002), min_run_time=0.05)
    assert t["median_s"] >= 0.002 and t["iqr_s"] >= 0
    assert t["blocks"] >= timing.MIN_BLOCKS and t["calls_per_block"] >= 1


def test_time_callable_keeps_its_minimum_of_blocks_for_long_calls():
    # One call (20 ms) outlasts max_run_time (10 ms): still MIN_BLOCKS blocks of one call each.
    t = timing.time_callable(lambda: time.sleep(0.02), min_run_time=0.001, warmup=0)
    assert t["blocks"] == timing.MIN_BLOCKS and t["calls_per_block"] == 1
    assert t["median_s"] >= 0.02


def test_cold_timing_flushes_before_every_call_and_times_only_the_call():
    calls = []
    t = timing.time_cold_host(lambda: (calls.append(1), time.sleep(0.003)), "cpu", reps=4)
    assert len(calls) == 4 and t["reps"] == 4
    # The 64 MiB flush is not timed: each call is about the 3 ms sleep.
    assert 0.003 <= t["median_s"] < 0.05


def test_profiler_names_what_a_call_runs():
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 2, 3, 3)
    prof = timing.kernel_profile(lambda: F.conv_transpose2d(x, w, stride=2), "cpu")
    names = [k["name"] for k in prof["kernels"]]
    assert names and all(n.startswith("aten::") for n in names), names
    assert prof["kernel_time_s"] is None  # on the CPU the operators are the call


def test_time_cap_raises_in_the_code_it_wraps_and_then_disarms():
    with pytest.raises(timing.RecordTimeout, match="time cap"):
        with timing.TimeCap(0.05):
            time.sleep(2)
    with timing.TimeCap(0.05):
        pass
    time.sleep(0.1)  # no alarm is left armed after the block


def test_time_cap_survives_code_that_catches_every_exception():
    # A library's (or the profiler guard's) `except Exception` must not turn a stop into 'ok'.
    with pytest.raises(timing.RecordTimeout):
        with timing.TimeCap(0.05) as cap:
            try:
                time.sleep(2)
            except Exception:  # noqa: BLE001 - what the test is about
                pass
    assert cap.fired


@cuda
def test_cuda_events_time_the_device_and_hide_the_host():
    # A sleep kernel of known length, issued after 2 ms of host work per call: the event time
    # is the kernel's, not the host's, and the cover hid the host in every call.
    cycles = timing._sleep_cycles(1e-3)

    def call():
        time.sleep(0.002)
        torch.cuda._sleep(cycles)
    warm = timing.time_events(call, reps=5, cover_s=0.01)
    assert warm["host_hidden"] == 1.0
    assert 0.5e-3 < warm["median_s"] < 1.5e-3
    cold = timing.time_events(call, reps=5, cover_s=0.01, flush_bytes=timing.flush_bytes("cuda"))
    assert cold["host_hidden"] == 1.0 and 0.5e-3 < cold["median_s"] < 1.5e-3
    # Without enough cover the host's 2 ms show, and host_hidden says so.
    exposed = timing.time_events(call, reps=5, cover_s=1e-4)
    assert exposed["host_hidden"] == 0.0 and exposed["median_s"] > 1.5e-3
