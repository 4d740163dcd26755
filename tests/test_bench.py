"""Tests of tconv_utils.formulations and tconv_utils.bench (the GPU-timing chapter's harness:
cases, settings, the run and its CLI). Timing one call is tested in test_timing.py, reading
results in test_bench_report.py."""
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st
from hypothesis_budget import examples

from tconv_utils import bench, bench_report, conv_transpose2d
from tconv_utils import formulations as fm

ROOT = Path(__file__).resolve().parents[1]


def validate(results):
    jsonschema.validate(results, bench_report.schema(), format_checker=jsonschema.FormatChecker())


@st.composite
def layer(draw):
    """A random small transposed-conv layer that PyTorch accepts."""
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 3))
    cout_g = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    oph = draw(st.integers(0, max(sh, dh) - 1))
    opw = draw(st.integers(0, max(sw, dw) - 1))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    out_h = (h - 1) * sh + dh * (kh - 1) + 1 - 2 * ph + oph
    out_w = (w - 1) * sw + dw * (kw - 1) + 1 - 2 * pw + opw
    assume(out_h >= 1 and out_w >= 1)
    seed = draw(st.integers(0, 2 ** 16))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, h, w, generator=gen, dtype=torch.float64)
    wt = torch.randn(c_in, cout_g, kh, kw, generator=gen, dtype=torch.float64)
    bias = torch.randn(cout_g * groups, generator=gen, dtype=torch.float64)
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                  dilation=(dh, dw), groups=groups)
    return x, wt, bias, kwargs


@examples(150)
@given(layer(), st.sampled_from(fm.FORMULATIONS), st.booleans())
def test_every_torch_formulation_equals_conv_transpose2d(case, name, channels_last):
    # Stride not dividing the kernel, padding, output_padding, dilation and groups all occur.
    x, w, bias, kwargs = case
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ref = F.conv_transpose2d(x, w, bias, **kwargs)
    got = getattr(fm, name)(x, w, bias, **kwargs)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, rtol=0, atol=1e-10), (got - ref).abs().max()


@examples(40)
@given(layer())
def test_numpy_formulation_equals_conv_transpose2d(case):
    x, w, bias, kwargs = case
    ref = F.conv_transpose2d(x, w, bias, **kwargs).numpy()
    got = conv_transpose2d(x.numpy(), w.numpy(), bias.numpy(), **kwargs)
    assert np.allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("name", fm.FORMULATIONS)
def test_formulations_with_a_different_stride_and_dilation_per_dim(name, channels_last):
    # Always tested, whatever hypothesis draws: strides 2 and 3 (sub-pixel then interleaves
    # without pixel_shuffle), dilation 1 and 2, output_padding, groups and a bias.
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 3, 5, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 2, generator=gen, dtype=torch.float64)
    bias = torch.randn(6, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2), groups=2)
    ref = F.conv_transpose2d(x, w, bias, **kw)
    torch.testing.assert_close(getattr(fm, name)(x, w, bias, **kw), ref, rtol=0, atol=1e-10)


def test_formulations_have_gradients_equal_to_direct():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    ref = torch.autograd.grad(F.conv_transpose2d(x, w, **kw).square().sum(), (x, w))
    for name in fm.FORMULATIONS:
        got = torch.autograd.grad(getattr(fm, name)(x, w, **kw).square().sum(), (x, w))
        for g, r in zip(got, ref):
            assert torch.allclose(g, r, atol=1e-9), name


def test_subpixel_taps_follow_t_times_d_equals_m_times_s_plus_r():
    # kernel 3, stride 2: phase 0 takes taps 0 and 2, phase 1 takes tap 1 and a zero.
    assert fm.subpixel_taps(3, 2) == [[0, 2], [1, None]]
    # kernel 4, stride 2 (DCGAN): two taps per phase, no zeros.
    assert fm.subpixel_taps(4, 2) == [[0, 2], [1, 3]]
    for k, s, d in [(5, 3, 2), (3, 2, 2), (4, 3, 1)]:
        taps = fm.subpixel_taps(k, s, d)
        used = sorted(t for row in taps for t in row if t is not None)
        assert used == list(range(k))  # every tap lands on exactly one phase
        for r, row in enumerate(taps):
            for m, t in enumerate(row):
                if t is not None:
                    assert t * d == m * s + r


def test_bind_checks_once_and_times_the_bare_call(monkeypatch):
    x, w = torch.randn(2, 4, 5, 5), torch.randn(4, 3, 4, 4)
    kw = dict(stride=2, padding=1)
    calls = {name: fm.bind(name, x.shape, w.shape, **kw) for name in fm.FORMULATIONS}
    ref = F.conv_transpose2d(x, w, **kw)

    def no_checks(*args):
        raise AssertionError("a bound call must not check its arguments again")
    monkeypatch.setattr(fm, "_params", no_checks)
    for name, call in calls.items():
        assert torch.allclose(call(x, w), ref, atol=1e-5), name
    # The harness times the bound call: F.conv_transpose2d with its arguments checked once.
    case = bench.Case("t", "t", 2, 4, 3, 5, 5, kernel=4, stride=2, padding=1)
    monkeypatch.undo()
    fn = bench._make_callable("direct", case, x, w, "fwd")
    monkeypatch.setattr(fm, "_params", no_checks)
    assert torch.equal(fn(), ref)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="4-D"):
        fm.bind("direct", (4, 5, 5), w.shape)
    with pytest.raises(ValueError, match="formulation"):
        fm.bind("fft", x.shape, w.shape)


def test_formulations_refuse_padding_they_do_not_support():
    x, w = torch.zeros(1, 2, 3, 3), torch.zeros(2, 2, 3, 3)
    for name in fm.FORMULATIONS:
        with pytest.raises(ValueError, match="padding"):
            getattr(fm, name)(x, w, stride=2, padding="same")
        with pytest.raises(ValueError, match="padding"):
            getattr(fm, name)(x, w, stride=2, padding=((0, 1), (1, 0)))
        with pytest.raises(ValueError, match="output_padding"):
            getattr(fm, name)(x, w, stride=2, output_padding=2)
        with pytest.raises(ValueError, match="groups"):
            getattr(fm, name)(x, w, groups=3)


def test_work_counts_match_the_formulations_shapes():
    x_shape, w_shape = (2, 8, 6, 6), (8, 4, 4, 4)
    kw = dict(stride=2, padding=1)
    direct = fm.work(x_shape, w_shape, **kw)
    # Useful work: every input cell times every tap, for each output channel.
    assert direct["useful_flops"] == 2 * (2 * 8 * 6 * 6) * 4 * (4 * 4)
    assert direct["bytes"] == 4 * (2 * 8 * 36 + 8 * 4 * 16 + 2 * 4 * 12 * 12)
    # Zero insertion runs the kernel over every output cell: stride**2 times the useful work.
    zi = fm.work(x_shape, w_shape, formulation="zero_insertion", **kw)
    assert zi["flops"] == 4 * direct["useful_flops"]
    # Sub-pixel: 2x2 sub-kernels over a 7x7 grid of positions per phase.
    sp = fm.work(x_shape, w_shape, formulation="subpixel", **kw)
    assert sp["flops"] * 36 == direct["useful_flops"] * 49
    # The zero-insertion intermediate really has the counted size.
    up = torch.zeros(x_shape)
    up = F.pad(torch.zeros(2, 8, 11, 11), (2, 2, 2, 2))
    assert zi["extra_bytes"] == 2 * 4 * up.numel()
    # GEMM + col2im: only the useful products, through columns of every input cell times every
    # tap per output channel (written, then read back by col2im).
    cols = fm.work(x_shape, w_shape, formulation="gemm_col2im", **kw)
    assert cols["flops"] == direct["useful_flops"] and cols["extra_bytes"] == 2 * 4 * (
        2 * 4 * 16 * 36)
    # Sub-pixel: the conv output (4 phases x 7 x 7 per channel) written and read by the shuffle,
    # then its copy by the crop.
    assert sp["extra_bytes"] == 4 * 4 * (2 * 4 * 4 * 49)
    for name in ("compile", "keras"):  # the same work as direct
        assert fm.work(x_shape, w_shape, formulation=name, **kw) == direct
    assert fm.arithmetic_intensity(direct) == pytest.approx(73728 / 8960)  # FLOPs per byte
    with pytest.raises(ValueError, match="formulation"):
        fm.work(x_shape, w_shape, formulation="fft")


def test_case_output_shape_is_pytorchs():
    for case in bench.default_cases("cpu", quick=True):
        x, w = torch.zeros(case.x_shape), torch.zeros(case.w_shape)
        assert case.out_shape() == tuple(F.conv_transpose2d(x, w, **case.kwargs).shape)
    # The rule and its errors are shapes.torch_output_size's.
    bad = bench.Case("bad", "t", 1, 2, 2, 1, 1, kernel=1, stride=1, padding=1)
    with pytest.raises(ValueError, match="padding"):
        bad.out_shape()


def test_precision_flags_follow_pytorch_names_and_restore():
    b = torch.backends
    # torch 2.9 and later: the fp32_precision switches (mixing them with allow_tf32 raises).
    assert bench._new_tf32_api()
    start = bench._torch_flags()
    assert start in bench_report.PYTORCH_DEFAULT_FLAGS  # a fresh process: PyTorch's defaults
    bench._Precision.at_start = start
    with bench._Precision("fp32", cudnn_benchmark=True):
        assert b.cudnn.conv.fp32_precision == b.cuda.matmul.fp32_precision == "ieee"
        assert b.cudnn.benchmark
    with bench._Precision("tf32"):
        assert b.cudnn.conv.fp32_precision == b.cuda.matmul.fp32_precision == "tf32"
        with bench._Precision("amp_bf16"):  # back to the flags found at start
            assert bench._torch_flags() == {**start, "cudnn.benchmark": False}
    assert bench._torch_flags() == start
    # In a fresh process PyTorch's defaults are TF32 for cuDNN convolutions, not for matmuls.
    assert (start["cudnn.conv.fp32_precision"], start["cuda.matmul.fp32_precision"]) == (
        "tf32", "none")


def test_roof_is_the_math_type_the_call_ran_in():
    assert bench.roof_key("default", (9, 0)) == "tf32"
    assert bench.roof_key("default", (7, 5)) == bench.roof_key("default", None) == "fp32"
    # A default call with the error of full float32 ran a float32 kernel: the fp32 roof.
    assert bench.roof_key("default", (9, 0), max_rel_error=9e-8) == "fp32"
    assert bench.roof_key("default", (9, 0), max_rel_error=3e-4) == "tf32"
    assert bench.roof_key("amp_bf16", (9, 0), 3e-3) == "bf16"
    assert bench.roof_key("fp16", (9, 0), 3e-4) == "fp16"


def test_precisions_without_tensor_cores_are_labelled_by_capability():
    case = bench.default_cases("cpu", quick=True)[0]
    for precision in ("tf32", "bf16"):
        why = bench._unsupported(case, "direct", "cuda", precision, "fwd", "nchw", cap=(7, 5))
        assert "compute capability >= 8.0" in why and "7.5" in why
        assert bench._unsupported(case, "direct", "cuda", precision, "fwd", "nchw", (8, 0)) is None
    assert bench._unsupported(case, "direct", "cuda", "fp16", "fwd", "nchw", cap=(7, 5)) is None
    assert "compute capability" in bench._unsupported(case, "direct", "cuda", "amp_bf16", "fwd",
                                                      "channels_last", cap=(7, 5))
    assert bench._unsupported(case, "direct", "cuda", "amp_fp16", "fwd", "nchw", (7, 5)) is None
    why = bench._unsupported(case, "compile_reduce_overhead", "cpu", "default", "fwd", "nchw")
    assert "CUDA graphs" in why


def test_keras_and_compile_formulations_are_checked_exact():
    case = bench.Case("t", "t", 2, 8, 4, 5, 5, kernel=4, stride=2, padding=1)
    rec = bench.measure(case, "keras", memory_format="channels_last", check_only=True)
    assert rec["status"] == "ok" and rec["max_rel_error"] < 1e-5, rec
    rec = bench.measure(case, "compile", check_only=True)
    assert rec["status"] == "ok" and rec["max_rel_error"] < 1e-5, rec
    grouped = bench.Case("g", "g", 2, 8, 8, 5, 5, kernel=4, stride=2, padding=1, groups=8)
    rec = bench.measure(grouped, "keras", memory_format="channels_last")
    assert rec["status"] == "unsupported" and "groups" in rec["reason"]
    rec = bench.measure(case, "numpy", mode="fwdbwd")
    assert rec["status"] == "unsupported" and "forward only" in rec["reason"]


def test_keras_refusal_is_portings_mapping():
    from tconv_utils.porting import keras_expressible_pairs
    for k, s, p, op in [(4, 2, 1, 0), (4, 2, 2, 0), (3, 2, 1, 1), (3, 2, 0, 0), (2, 2, 0, 1)]:
        case = bench.Case("t", "t", 1, 2, 2, 3, 3, kernel=k, stride=s, padding=p,
                          output_padding=op)
        expressible = (p, op) in keras_expressible_pairs(k, s)
        assert (bench._keras_refusal(case) is None) == expressible, (k, s, p, op)
        rec = bench.measure(case, "keras", memory_format="channels_last", check_only=True)
        assert rec["status"] == ("ok" if expressible else "unsupported"), rec


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="tf32"):
        bench.run("cpu", ["tf32"], quick=True, progress=False)
    with pytest.raises(ValueError, match="precision"):
        bench.run("cpu", ["fp64"], quick=True, progress=False)
    with pytest.raises(ValueError, match="device"):
        bench.run("tpu", quick=True, progress=False)


def cuda_items():
    cases = bench.default_cases("cuda", free_bytes=80 << 30)
    return cases, bench.plan("cuda", cases, list(bench.PRECISIONS), list(bench.ALL_FORMULATIONS))


def test_cuda_plan_leads_with_defaults_and_tuned_and_has_no_duplicates():
    cases, items = cuda_items()
    keys = [tuple(i.as_dict().values()) for i in items]
    assert len(keys) == len(set(keys))
    head = {(i.formulation, i.precision, i.memory_format, i.cudnn_benchmark, i.mode)
            for i in items[:2 * len(cases)]}
    assert head == {("direct", *bench.DEFAULT_SETTING, "fwd"), ("direct", *bench.TUNED_SETTING,
                                                                  "fwd")}
    # Every formulation is timed on every case, the large layer included.
    for f in bench.TORCH_FORMULATIONS + tuple(bench.COMPILE_MODES):
        assert {i.case.name for i in items if i.formulation == f} == {c.name for c in cases}, f
    # cudnn.benchmark is measured both ways at the defaults and at the tuned setting.
    direct = {(i.case.name, i.precision, i.memory_format, i.cudnn_benchmark) for i in items
              if i.formulation == "direct" and i.mode == "fwd"}
    for c in cases:
        for p, mf, _ in (bench.DEFAULT_SETTING, bench.TUNED_SETTING):
            assert {(c.name, p, mf, False), (c.name, p, mf, True)} <= direct
    assert {(i.precision, i.memory_format) for i in items if i.precision.startswith("amp_")} == {
        ("amp_bf16", "channels_last"), ("amp_fp16", "channels_last")}
    # TF32 differs from the default only where a matmul runs.
    assert {i.formulation for i in items if i.precision == "tf32"} == {"gemm_col2im"}
    assert items[-1].formulation in bench.COMPILE_MODES


def test_every_benchmark_value_runs_in_its_own_processes():
    _, items = cuda_items()
    workers = bench.schedule(items, repeats=3)
    for repeat, key, group in workers:
        # One cudnn.benchmark value per process, compiled calls apart from eager ones: no
        # record can find a plan that a record of the other value left in PyTorch's cache.
        assert len({i.cudnn_benchmark for i in group}) == 1, key
        assert len({i.formulation in bench.COMPILE_MODES for i in group}) == 1, key
    # Each direct forward record is measured in 3 processes; everything else in one.
    runs = {}
    for repeat, key, group in workers:
        for i in group:
            runs.setdefault(tuple(i.as_dict().values()), []).append(repeat)
    assert all(sorted(r) == ([0, 1, 2] if i.repeated else [0])
               for i in items for r in [runs[tuple(i.as_dict().values())]])
    assert [w[0] for w in workers] == [0, 0, 1, 1, 2, 2, 0, 0]  # compile last
    assert workers[2][1] == workers[1][1]  # every other repeat in the reverse order
    # Per layer and setting: one process per (case, precision, layout, benchmark) and repeat.
    strict = bench.schedule(items, repeats=1, isolate="setting")
    assert all(len({(i.case.name, i.precision, i.memory_format, i.cudnn_benchmark)
                    for i in g}) == 1 for _, _, g in strict)
    with pytest.raises(ValueError, match="isolate"):
        bench.schedule(items, isolate="case")
    with pytest.raises(ValueError, match="repeats"):
        bench.schedule(items, repeats=0)


def test_time_cap_stops_every_record_of_a_run(tmp_path):
    out = tmp_path / "r.json"
    start = time.perf_counter()
    res = bench.run("cpu", quick=True, out=out, formulations=["direct"], progress=False,
                    record_cap_s=0.001, profile=False, cold=False)
    assert time.perf_counter() - start < 60
    assert res["complete"] and {r["status"] for r in res["results"]} == {"skipped"}
    assert all("time cap" in r["reason"] for r in res["results"])
    # Complete, yet nothing was timed: completeness does not hide skipped records.
    assert bench_report.run_status(res)["skipped"] == len(res["results"]) > 0
    assert [p["returncode"] for p in res["processes"]] == [0]
    validate(res)


def test_budget_stops_new_measurements_and_leaves_valid_json(tmp_path):
    out = tmp_path / "r.json"
    res = bench.run("cpu", quick=True, out=out, budget_s=0, formulations=["direct"],
                    progress=False)
    assert res["complete"] and all(r["status"] == "skipped" for r in res["results"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    validate(res)


def test_run_in_process_measures_every_planned_setting(tmp_path):
    out = tmp_path / "r.json"
    threads = torch.get_num_threads()
    try:
        res = bench.run("cpu", quick=True, formulations=["direct", "numpy"], min_run_time=0.002,
                        threads=1, progress=False, out=out, notes=" a note ", profile=False,
                        cold=False)
    finally:
        torch.set_num_threads(threads)
    validate(res)
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    assert res["complete"] and res["notes"] == "a note" and res["elapsed_s"] > 0
    cases = {c.name: c for c in bench.default_cases("cpu", quick=True)}
    planned = bench.plan("cpu", list(cases.values()), ["default"], ["direct", "numpy"])
    assert [(r["case"], r["formulation"]) for r in res["results"]] == [
        (i.case.name, i.formulation) for i in planned]
    # The device's ceilings, within what any CPU does: 0.1 GFLOP/s to 100 TFLOP/s, 0.1 GB/s to
    # 10 TB/s.
    assert 1e8 < res["limits"]["matmul"]["fp32"]["flops_per_s"] < 1e14
    assert 1e8 < res["limits"]["copy"]["bytes_per_s"] < 1e13
    env = res["environment"]
    assert env["device_type"] == "cpu" and env["torch_threads"] == 1 and env["name"] == env["cpu"]
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert datetime.datetime.fromisoformat(env["date"]).utcoffset() == datetime.timedelta(0)
    for r in res["results"]:
        assert r["status"] == "ok" and r["max_rel_error"] <= bench.TOLERANCE["fp32"], r
        factor = 1 if r["mode"] == "fwd" else 3
        assert r["flops"] == factor * cases[r["case"]].work()["useful_flops"]
        assert r["roofline_fraction"] == pytest.approx(r["roofline_bound_s"] / r["median_s"])
        assert r["achieved_tflops"] == pytest.approx(r["flops"] / r["median_s"] / 1e12)
        assert (r["peak_memory_method"] == "tracemalloc") == (r["formulation"] == "numpy")


def test_main_hands_its_arguments_to_run(tmp_path, capsys):
    out = tmp_path / "r.json"
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--quick", "--budget-s", "0", "--formulations", "direct, subpixel",
                           "--threads", "1", "--min-run-time", "0.005", "--notes", "hello",
                           "--no-progress", "--no-profile", "--no-cold", "--out", str(out)]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    res = json.loads(out.read_text())
    validate(res)
    n = len(res["results"])
    assert n > 0 and {r["status"] for r in res["results"]} == {"skipped"}
    assert capsys.readouterr().out.startswith(f"wrote {out}: {n} records")
    assert {r["formulation"] for r in res["results"]} == {"direct", "subpixel"}
    assert res["settings"]["quick"] and res["settings"]["threads"]["torch"] == 1
    assert res["settings"]["min_run_time_s"] == 0.005 and res["notes"] == "hello"
    with pytest.raises(SystemExit) as info:  # the CPU has no TF32: argparse's error, status 2
        bench.main(["--precision", "tf32", "--quick", "--budget-s", "0", "--no-progress",
                    "--out", str(out)])
    assert info.value.code == 2
    assert "tf32" in capsys.readouterr().err


def test_committed_results_were_measured_on_the_harness_cases():
    # The chapter reads these files: their layers must be the ones the harness defines.
    for name, res in bench_report.load_results().items():
        device = res["environment"]["device_type"]
        cases = [c.as_dict() for c in bench.default_cases(device, res["settings"]["quick"])]
        for recorded, defined in zip(res["cases"], cases, strict=True):
            if device == "cuda" and defined["name"] == "large":  # batch sized to free memory
                assert 8 <= recorded["batch"] <= 256
                recorded = {**recorded, **{k: defined[k] for k in ("batch", "out_shape",
                                                                   "useful_flops", "bytes")}}
            assert {k: recorded[k] for k in defined} == defined, name


def test_large_gpu_batch_follows_free_memory():
    def batch(free):
        return {c.name: c for c in bench.default_cases("cuda", free_bytes=free)}["large"].batch
    assert batch(1) == 8 and batch(10 ** 13) == 256
    assert 8 < batch(40 << 30) < batch(80 << 30) < 256


@pytest.mark.parametrize("dtype, flops, nbytes, median_s, bound_by, bound_s, tflops, gbps", [
    # 2e10 FLOPs at 1e13 FLOP/s take 2 ms; 1e8 bytes at 1e12 B/s take 0.1 ms: compute bound.
    ("fp32", 2e10, 1e8, 4e-3, "compute", 2e-3, 5.0, 25.0),
    # The same FLOPs in bf16 (4e13 FLOP/s: 0.5 ms) against 4e9 bytes (4 ms): memory bound.
    ("bf16", 2e10, 4e9, 5e-3, "memory", 4e-3, 4.0, 800.0),
], ids=["compute-bound", "memory-bound"])
def test_roofline_of_a_hand_computed_record(dtype, flops, nbytes, median_s, bound_by, bound_s,
                                            tflops, gbps):
    limits = {"matmul": {"fp32": {"flops_per_s": 1e13}, "bf16": {"flops_per_s": 4e13}},
              "copy": {"bytes_per_s": 1e12}}
    rec = {"flops": flops, "bytes": nbytes, "median_s": median_s}
    bench._rates(rec, limits, dtype)
    assert rec["bound_by"] == bound_by
    assert (rec["roofline_bound_s"], rec["roofline_fraction"], rec["achieved_tflops"],
            rec["achieved_gbps"]) == pytest.approx((bound_s, bound_s / median_s, tflops, gbps))
    # Without the dtype's roof (or any limits) only the achieved rates are recorded.
    for no_roof, name in [(limits, "fp16"), (None, dtype), ({**limits, "copy": None}, dtype)]:
        bare = {"flops": flops, "bytes": nbytes, "median_s": median_s}
        bench._rates(bare, no_roof, name)
        assert bare["achieved_tflops"] == pytest.approx(tflops) and "bound_by" not in bare


def test_set_threads_refuses_zero():
    with pytest.raises(ValueError, match="threads must be >= 1"):
        bench.set_threads(0)


def test_peak_memory_is_measured_where_it_can_be():
    nbytes, method = bench._peak_memory(lambda: np.ones(1 << 20), "cpu", "numpy")
    assert method == "tracemalloc" and nbytes >= 8 << 20
    assert bench._peak_memory(lambda: torch.ones(1 << 20), "cpu", "direct") == (None, None)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """The command-line --quick run on the CPU, profiler and flushed-cache timing included."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    start = time.perf_counter()
    # Keras is left out (its import costs more than the rest; test_keras_* check its records).
    proc = subprocess.run([sys.executable, "-m", "tconv_utils.bench", "--device", "cpu",
                           "--quick", "--threads", "1", "--no-progress", "--repeats", "2",
                           "--formulations", "direct,zero_insertion,gemm_col2im,subpixel,numpy",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), elapsed, proc.stdout


def test_quick_run_writes_valid_json_with_every_formulation(quick_results):
    res, elapsed, stdout = quick_results
    validate(res)
    assert res["complete"] and res["environment"]["device_type"] == "cpu"
    assert res["schema_version"] == bench.SCHEMA_VERSION
    assert len(res["environment"]["loadavg"]) == 3 and res["environment"]["loadavg_end"]
    # Two worker processes, whose pids differ from each other's: the direct forward records
    # were measured in both, the others in the first.
    procs = res["processes"]
    assert [p["repeat"] for p in procs] == [0, 1] and procs[0]["pid"] != procs[1]["pid"]
    assert all(p["returncode"] == 0 for p in procs)
    for r in res["results"]:
        assert r["process"] == r["repeat"]
    again = {(r["case"], r["memory_format"]) for r in res["results"] if r["repeat"] == 1}
    assert {r["formulation"] for r in res["results"] if r["repeat"] == 1} == {"direct"}
    assert len(again) == 2 * len(res["cases"])
    spread = bench_report.run_spread(bench_report.records({"q": res}))
    assert (spread["n"] == 2).sum() == len(again) and (spread["spread"] >= 0).all()
    ok = [r for r in res["results"] if r["status"] == "ok"]
    for case in res["cases"]:
        timed = {r["formulation"] for r in ok if r["case"] == case["name"]}
        assert set(fm.FORMULATIONS) | {"numpy"} <= timed, (case["name"], timed)
    for r in ok:
        assert r["precision"] == "default"
        assert r["max_rel_error"] <= bench.TOLERANCE["fp32"]
        assert r["roofline_fraction"] == pytest.approx(r["roofline_bound_s"] / r["median_s"])
        assert r["cold_median_s"] > 0 and r["cold_clock"] == "host", r
        assert r["blocks"] >= 5, r
        assert bool(r.get("kernels")) == (r["formulation"] not in ("numpy", "keras")), r
    assert not [r for r in res["results"] if r["status"] in ("failed", "mismatch")]
    # The roof is the best of several kernels, each recorded.
    roof = res["limits"]["matmul"]["fp32"]
    assert set(roof["kernels"]) >= {"torch.mm 512", "numpy.matmul 512", "conv2d 1x1"}
    assert roof["flops_per_s"] == max(roof["kernels"].values())
    assert stdout.startswith("wrote ") and "\n- " in stdout  # the findings follow


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_quick_run_times_every_setting_in_fresh_processes(tmp_path):
    # The pre-flight of a GPU run: every precision, both compile modes, two repeats.
    out = tmp_path / "gpu-quick.json"
    proc = subprocess.run([sys.executable, "-m", "tconv_utils.bench", "--device", "cuda",
                           "--quick", "--repeats", "2", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    validate(res)
    bad = [r for r in res["results"] if r["status"] in ("failed", "mismatch", "skipped")]
    assert not bad, bad[:3]
    ok = [r for r in res["results"] if r["status"] == "ok"]
    assert {r["formulation"] for r in ok} >= set(bench.ALL_FORMULATIONS) - {"numpy", "keras"}
    assert {r["precision"] for r in ok} >= {"default", "bf16", "amp_bf16", "amp_fp16"}
    for r in ok:
        assert r["event_median_s"] > 0 and r["cold_median_s"] > 0 and r["kernels"], r
        assert r["event_host_hidden"] >= 0.8 and r["cold_clock"] == "cuda events", r
    assert all(p["returncode"] == 0 for p in res["processes"])
    assert len({p["pid"] for p in res["processes"]}) == len(res["processes"])
