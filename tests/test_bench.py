"""Tests of tconv_utils.formulations and tconv_utils.bench (the GPU-timing chapter's harness)."""
import copy
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
from hypothesis import assume, given, settings, strategies as st

from tconv_utils import bench, conv_transpose2d
from tconv_utils import formulations as fm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data" / "bench"
SCHEMA = json.loads((DATA / "schema.json").read_text())


def validate(results):
    jsonschema.validate(results, SCHEMA, format_checker=jsonschema.FormatChecker())


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


@settings(max_examples=150, deadline=None)
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


@settings(max_examples=40, deadline=None)
@given(layer())
def test_numpy_formulation_equals_conv_transpose2d(case):
    x, w, bias, kwargs = case
    ref = F.conv_transpose2d(x, w, bias, **kwargs).numpy()
    got = conv_transpose2d(x.numpy(), w.numpy(), bias.numpy(), **kwargs)
    assert np.allclose(got, ref, rtol=0, atol=1e-10)


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
    with pytest.raises(ValueError, match="formulation"):
        fm.work(x_shape, w_shape, formulation="fft")


def test_time_callable_reports_median_and_iqr():
    t = bench.time_callable(lambda: time.sleep(0.002), min_run_time=0.05)
    assert t["median_s"] >= 0.002 and t["iqr_s"] >= 0
    assert t["blocks"] >= 1 and t["calls_per_block"] >= 1


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


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="tf32"):
        bench.run("cpu", ["tf32"], quick=True, progress=False)
    with pytest.raises(ValueError, match="device"):
        bench.run("tpu", quick=True, progress=False)


def test_budget_stops_new_measurements_and_leaves_valid_json(tmp_path):
    out = tmp_path / "r.json"
    res = bench.run("cpu", quick=True, out=out, budget_s=0, formulations=["direct"],
                    progress=False)
    assert res["complete"] and all(r["status"] == "skipped" for r in res["results"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    validate(res)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """The command-line --quick run on the CPU: must finish in under 60 s."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tconv_utils.bench", "--device", "cpu",
                           "--quick", "--threads", "1", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), elapsed


def test_quick_run_is_fast_and_writes_valid_json(quick_results):
    res, elapsed = quick_results
    assert elapsed < 60, f"--quick took {elapsed:.1f} s"
    validate(res)
    assert res["complete"] and res["environment"]["device_type"] == "cpu"
    ok = [r for r in res["results"] if r["status"] == "ok"]
    for case in res["cases"]:
        timed = {r["formulation"] for r in ok if r["case"] == case["name"]}
        assert set(fm.FORMULATIONS) | {"numpy"} <= timed, (case["name"], timed)
    for r in ok:
        assert r["max_rel_error"] <= bench.TOLERANCE[r["dtype"]]
        assert r["roofline_fraction"] == pytest.approx(r["roofline_bound_s"] / r["median_s"])
    assert not [r for r in res["results"] if r["status"] in ("failed", "mismatch")]


def test_committed_results_are_valid():
    files = sorted(p for p in DATA.glob("*.json") if p.name != "schema.json")
    assert any(p.name == "cpu.json" for p in files)
    for path in files:
        validate(json.loads(path.read_text()))


def fake_cuda(res):
    """A CUDA-shaped results dict built from a CPU one: four dtypes, cudnn.benchmark set."""
    fake = copy.deepcopy(res)
    fake["environment"].update(device_type="cuda", name="Fake GPU", cudnn=90000)
    fake["settings"]["dtypes"] = list(bench.DTYPES)
    recs = []
    for i, dtype in enumerate(bench.DTYPES):
        fake["limits"]["matmul"][dtype] = dict(res["limits"]["matmul"]["fp32"])
        for r in res["results"]:
            r = dict(r, dtype=dtype, cudnn_benchmark=True)
            if "median_s" in r:
                r["median_s"] /= i + 1
                bench._roofline(r, fake["limits"], dtype)
            recs.append(r)
    fake["results"] = recs
    return fake


def test_plots_and_tables_work_from_results_files(quick_results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res, _ = quick_results
    fake = fake_cuda(res)
    validate(fake)
    for r in (res, fake):
        rows = bench.table(r)
        assert len(rows) >= len(r["cases"]) * 4
        text = bench.format_table(rows)
        assert text.count("\n") == len(rows)
        ax = bench.plot_times(r)
        assert len(ax.patches) == len(rows)
        ax = bench.plot_roofline(r)
        assert len(ax.lines) == len(r["limits"]["matmul"])
        assert len(ax.collections) == len(bench.ok_results(r, formulation="direct"))
        best = bench.fastest(r)
        assert set(best) == {c["name"] for c in r["cases"]}
        for case, (f, ms) in best.items():
            assert ms == min(row[2] for row in rows if row[0] == case)
        plt.close("all")
    # The fake GPU's bf16 rows are twice as fast as its fp32 rows, by construction.
    fp32 = bench.table(fake, {"dtype": "fp32", "memory_format": "nchw", "mode": "fwd"})
    bf16 = bench.table(fake, {"dtype": "tf32", "memory_format": "nchw", "mode": "fwd"})
    assert [round(a[2] / b[2], 6) for a, b in zip(fp32, bf16)] == [2.0] * len(fp32)
