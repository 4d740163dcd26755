"""Tests of tconv_utils.bench_report: the committed results as package data, the schema-1 reader,
the DataFrames and ratios (on hand-made records with known answers), findings and figures."""
import copy
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tconv_utils import bench
from tconv_utils import bench_report as br

ROOT = Path(__file__).resolve().parents[1]


def validate(results):
    jsonschema.validate(results, br.schema(), format_checker=jsonschema.FormatChecker())


def record(case, ms, formulation="direct", precision="default", memory_format="nchw",
           mode="fwd", cudnn_benchmark=False, **extra):
    """A timed schema-2 record: 1 GFLOP and 1 MB of compulsory traffic in ``ms``."""
    r = {"case": case, "formulation": formulation, "precision": precision,
         "memory_format": memory_format, "mode": mode, "cudnn_benchmark": cudnn_benchmark,
         "status": "ok", "reason": None, "max_abs_error": 0.0, "max_rel_error": 3e-4,
         "median_s": ms / 1e3, "iqr_s": 0.0, "flops": 10 ** 9, "bytes": 10 ** 6,
         "formulation_flops": 10 ** 9, "extra_bytes": 0, **extra}
    bench._rates(r, LIMITS, bench.roof_key(precision, (9, 0)))
    return r


LIMITS = {"matmul": {"tf32": {"n": 8, "median_s": 1.0, "iqr_s": 0.0, "flops_per_s": 1e12},
                     "bf16": {"n": 8, "median_s": 1.0, "iqr_s": 0.0, "flops_per_s": 2e12}},
          "copy": {"bytes": 8, "median_s": 1.0, "iqr_s": 0.0, "bytes_per_s": 1e9}}


def gpu_results(name="Test GPU", recs=()):
    """A schema-2 CUDA results dict holding ``recs``."""
    cases = [{"name": c, "family": "t", "batch": 1, "c_in": 1, "c_out": 1, "h": 1, "w": 1,
              "kernel": 1, "stride": 1, "padding": 0, "output_padding": 0, "dilation": 1,
              "groups": 1, "out_shape": [1, 1, 1, 1], "useful_flops": 10 ** 9, "bytes": 10 ** 6}
             for c in dict.fromkeys(r["case"] for r in recs)]
    return {"schema_version": 2, "environment": {
        "device_type": "cuda", "name": name, "driver": "1", "cuda": "13.0", "cudnn": 91900,
        "torch": "2.13.0", "numpy": "2.4.6", "python": "3.11", "date": "2026-01-01T00:00:00+00:00",
        "git_commit": None, "compute_capability": "9.0"},
        "settings": {"quick": False, "precisions": list(bench.PRECISIONS),
                     "formulations": list(bench.TORCH_FORMULATIONS), "min_run_time_s": 0.05,
                     "timer": "t"},
        "notes": "", "complete": True, "stopped_by": None, "elapsed_s": 1.0, "cases": cases,
        "limits": LIMITS, "results": list(recs)}


@pytest.fixture
def hand_made():
    # dcgan: tuned 4x faster than the default; benchmark helps 1.25x, channels-last hurts 0.5x.
    # small: tuned 2x slower. Every other setting is absent.
    recs = [record("dcgan", 1.0), record("dcgan", 0.25, precision="bf16",
                                         memory_format="channels_last", cudnn_benchmark=True),
            record("dcgan", 0.8, cudnn_benchmark=True),
            record("dcgan", 2.0, memory_format="channels_last"),
            record("dcgan", 3.0, formulation="subpixel", cudnn_benchmark=True),
            record("small", 0.1), record("small", 0.2, precision="bf16",
                                         memory_format="channels_last", cudnn_benchmark=True)]
    res = gpu_results(recs=recs)
    validate(res)
    return {"gpu": res}


def test_default_vs_tuned_and_each_change(hand_made):
    df = br.records(hand_made)
    dvt = br.default_vs_tuned(df).set_index("case")
    assert dvt.loc["dcgan", "speedup"] == pytest.approx(4.0)
    assert dvt.loc["small", "speedup"] == pytest.approx(0.5)
    assert set(dvt["tuned_precision"]) == {"bf16"}
    sp = br.speedups(df).set_index(["case", "change"])["speedup"]
    assert sp[("dcgan", "cudnn.benchmark")] == pytest.approx(1.25)
    assert sp[("dcgan", "channels-last")] == pytest.approx(0.5)
    assert ("dcgan", "fp16") not in sp.index  # not measured, not invented
    ratio = br.ratios(df, "cudnn_benchmark", False, True, formulation="direct")
    assert br.summary(ratio) == {"median": pytest.approx(1.25), "min": pytest.approx(1.25),
                                 "max": pytest.approx(1.25), "n": 1}
    table = br.formulation_times(df, cudnn_benchmark=True)
    assert table.loc[("Test GPU", "dcgan"), "subpixel"] == pytest.approx(3.0)
    assert table.loc[("Test GPU", "dcgan"), "direct"] == pytest.approx(0.8)


def test_runs_of_one_record_give_its_median_and_range():
    # The tuned record measured in three processes: 0.2, 0.25 and 0.5 ms; the default in two.
    recs = [record("a", 1.0, repeat=0), record("a", 1.2, repeat=1)]
    recs += [record("a", ms, precision="bf16", memory_format="channels_last",
                    cudnn_benchmark=True, repeat=i) for i, ms in enumerate((0.2, 0.25, 0.5))]
    df = br.records({"gpu": gpu_results(recs=recs)})
    spread = br.run_spread(df).reset_index().set_index("precision")
    assert spread.loc["bf16", "n"] == 3 and spread.loc["bf16", "median"] == pytest.approx(0.25)
    assert spread.loc["bf16", "spread"] == pytest.approx((0.5 - 0.2) / 0.25)
    one = br.one_per_key(df).set_index("precision")  # a table per layer: one row a key
    assert one.loc["bf16", "median_ms"] == pytest.approx(0.25) and one.loc["bf16", "runs"] == 3
    assert one.loc["default", "median_ms"] == pytest.approx(1.1) and len(one) == 2
    dvt = br.default_vs_tuned(df).iloc[0]
    assert dvt["speedup"] == pytest.approx(1.1 / 0.25) and dvt["runs"] == 2
    assert dvt["speedup_lo"] == pytest.approx(1.0 / 0.5)
    assert dvt["speedup_hi"] == pytest.approx(1.2 / 0.2)


def test_run_status_counts_skipped_records_of_a_complete_run():
    res = gpu_results(recs=[record("a", 1.0)])
    res["results"].append({"case": "a", "formulation": "direct", "precision": "bf16",
                           "memory_format": "nchw", "mode": "fwd", "cudnn_benchmark": False,
                           "status": "skipped", "reason": "time budget of 1 s spent"})
    st = br.run_status(res)
    assert st["complete"] and not st["cut_off"] and (st["ok"], st["skipped"]) == (1, 1)
    assert br.findings(res)[0].endswith("1 of 2 records timed, 1 skipped, 0 failed")
    res["complete"] = False
    assert br.run_status(res)["cut_off"]


def test_roof_follows_the_math_type_a_record_ran_in():
    # A default record with float32's error ran a float32 kernel: its roof is fp32's, which
    # this file lacks and its machine's other file measured (1e11 FLOP/s).
    limits = {**LIMITS, "matmul": {**LIMITS["matmul"], "fp32": {
        "n": 8, "median_s": 1.0, "iqr_s": 0.0, "flops_per_s": 1e11}}}
    other = gpu_results(recs=[record("b", 1.0, precision="fp32")])
    other["limits"] = limits
    other["environment"]["date"] = "2025-01-01T00:00:00+00:00"
    recs = [record("a", 20.0, max_rel_error=9e-8), record("a", 20.0, max_rel_error=3e-4,
                                                           memory_format="channels_last")]
    df = br.records({"old": other, "new": gpu_results(recs=recs)}).set_index("file")
    new = df.loc["new"].set_index("channels_last")
    assert new.loc[False, "math"] == "fp32" and new.loc[True, "math"] == "tf32"
    assert new.loc[False, "roofline_fraction"] == pytest.approx(1e9 / 1e11 / 20e-3)
    assert new.loc[True, "roofline_fraction"] == pytest.approx(1e9 / 1e12 / 20e-3)


def test_tuned_falls_back_to_fp16_where_bf16_is_absent():
    recs = [record("t4", 2.0), record("t4", 0.5, precision="fp16", memory_format="channels_last",
                                      cudnn_benchmark=True)]
    dvt = br.default_vs_tuned(br.records({"t4": gpu_results("Tesla T4", recs)}))
    assert dvt.iloc[0]["tuned_precision"] == "fp16" and dvt.iloc[0]["speedup"] == 4.0


def test_fractions_above_one_mark_an_invalid_roof(hand_made):
    df = br.records(hand_made)
    # 1 GFLOP at 1e12 FLOP/s (TF32 roof) takes 1 ms at best: 0.8 ms beats the roof.
    fast = df[df["median_ms"] == 0.8].iloc[0]
    assert fast["roofline_fraction"] == pytest.approx(1.25) and not fast["roof_valid"]
    assert df[df["median_ms"] == 2.0].iloc[0]["roof_valid"]


def test_ratio_and_findings_on_a_known_two_fold_ratio():
    recs = [record("a", 2.0, precision="fp32", cudnn_benchmark=True),
            record("a", 1.0, precision="default", cudnn_benchmark=True)]
    res = gpu_results(recs=recs)
    assert br._ratio(res, "precision", "fp32", "default") == (2.0, 1)
    assert br._ratio(res, "precision", "fp16", "default") == (None, 0)
    lines = br.findings(res)
    assert any("default time / fp32 time = 0.50" in line for line in lines), lines


def test_schema_1_files_are_read_with_pytorch_default_names():
    v1 = {"schema_version": 1, "environment": {"device_type": "cuda"}, "settings": {
        "dtypes": ["fp32", "tf32"]}, "results": [
        {"formulation": "direct", "dtype": "tf32"}, {"formulation": "gemm_col2im", "dtype": "tf32"},
        {"formulation": "direct", "dtype": "fp32"}]}
    up = br.upgrade(v1)
    assert [r["precision"] for r in up["results"]] == ["default", "tf32", "fp32"]
    assert up["results"][0]["read_as_default"] == "tf32" and up["schema_version"] == 2
    assert v1["results"][0]["dtype"] == "tf32"  # the input is left as it was
    cpu = copy.deepcopy(v1)
    cpu["environment"]["device_type"] = "cpu"
    assert {r["precision"] for r in br.upgrade(cpu)["results"]} == {"default", "tf32"}


def test_committed_results_load_from_the_package_and_are_valid():
    files = br.committed_files()
    assert "cpu.json" in [p.name for p in files]
    for p in files:
        validate(json.loads(p.read_text()))
    results = br.load_results()
    assert list(results) == [p.name[:-5] for p in files]
    assert all(r["schema_version"] == 2 for r in results.values())
    df = br.records(results)
    assert set(df["file"]) == set(results)


def test_results_ship_in_the_wheel(tmp_path):
    # Colab installs the package from the repository: the results must be package data.
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("tconv_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in br.committed_files() + [br.results_dir() / "schema.json"]:
        assert f"tconv_utils/{br.RESULTS_FOLDER}/{p.name}" in names


def test_figures_draw_from_records(hand_made):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    df = br.records(hand_made)
    dvt = br.default_vs_tuned(df)
    ax = br.plot_speedups(dvt)
    assert len(ax.patches) == len(dvt)
    axes = br.plot_changes(br.speedups(df))
    assert len(axes) == 1 and len(axes[0].collections) == 2  # one point set per case
    table = br.formulation_times(df, cudnn_benchmark=True)
    ax = br.plot_formulations(table)
    assert len(ax.patches) == len(table) * (len(table.columns) - 1)
    ax = br.plot_roofline(hand_made["gpu"])
    assert len(ax.lines) == len(LIMITS["matmul"])
    n_direct = sum(r["formulation"] == "direct" for r in hand_made["gpu"]["results"])
    assert len(ax.collections) == n_direct
    plt.close("all")
    assert np.isfinite(df["roofline_fraction"]).all()


def test_short_kernel_names_keep_the_kernel_and_its_type():
    assert br.short_kernel(
        "sm90_xmma_dgrad_implicit_gemm_indexed_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize256x128x64"
        "_warpgroupsize2x1x1_g1_strided_execute_kernel__5x_cudnn") == (
        "sm90_xmma_dgrad_implicit_gemm_indexed_bf16bf16_bf16f32_f32")
    assert br.short_kernel("void cudnn::detail::dgrad_engine<float, 512, 6, 5, 3, 3, 3, false>"
                           "(int, int, int, float const*)") == "cudnn::detail::dgrad_engine<float>"
    assert br.short_kernel("void cutlass__5x_cudnn::Kernel<cutlass_tensorop_s1688dgrad_optimized_"
                           "tf32_128x128_16x5_nhwc_unity_stride_align4>(cutlass_tensorop_s1688"
                           "dgrad_optimized_tf32_128x128_16x5_nhwc_unity_stride_align4::Params)"
                           ) == "cutlass_tensorop_s1688dgrad_optimized_tf32"
    assert br.short_kernel("void at::native::(anonymous namespace)::conv_depthwise2d_forward_"
                           "kernel_generic<float, int>(torch::GenericPackedTensorAccessor)") == (
        "at::native::conv_depthwise2d_forward_kernel_generic<float>")
    assert br.short_kernel("void fft2d_r2c_32x32<float, false, 1u, false>(float2*)") == (
        "fft2d_r2c<float>")
    assert br.short_kernel("dgrad2d_c1_k1_nhwc") == "dgrad2d_c1_k1_nhwc"


def test_layout_conversions_are_told_from_kernels_that_read_nhwc():
    conversions = ["void cudnn::engines_precompiled::nchwToNhwcKernel<float, float>(int)",
                   "void foldedNhwcToNchwKernel<float, float>(int)",
                   "void nchwToFoldedNhwcKernel<float>(int)", "void foldedNhwcToNhwcKernel<f>()"]
    others = ["dgrad2d_c1_k1_nhwc", "void nhwcAddPaddingKernel<__half>(int)",
              "sm90_xmma_dgrad_implicit_gemm_indexed_f32f32_tf32f32_f32_nhwckrsc_nhwc_t"]
    assert all(br.is_layout_conversion(n) for n in conversions)
    assert not any(br.is_layout_conversion(n) for n in others)


def test_records_carry_the_profiled_kernels_and_ratios_of_device_time():
    kernels = lambda main, conv_ms: [  # noqa: E731 - a two-kernel profile
        {"name": main, "calls": 1, "time_s": 1e-3},
        {"name": "void nchwToNhwcKernel<float>(int)", "calls": 2, "time_s": conv_ms / 1e3}]
    recs = [record("a", 2.0, kernels=kernels("dgrad_engine<float, 1>(int)", 0.5),
                   kernel_time_s=1.5e-3),
            record("a", 1.0, precision="bf16", kernels=kernels("k_bf16", 0.0),
                   kernel_time_s=1.0e-3)]
    res = gpu_results(recs=recs)
    validate(res)
    df = br.records({"gpu": res})
    first = df.iloc[0]
    assert first["main_kernel"] == "dgrad_engine<float>" and first["conversion_ms"] == 0.5
    assert len(first["kernel_names"]) == 2 and first["kernel_ms"] == pytest.approx(1.5)
    by_device = br.ratios(df, "precision", "default", "bf16", value="kernel_ms")
    assert by_device.iloc[0] == pytest.approx(1.5)  # the device's time, not the 2x per call
    assert br.ratios(df, "precision", "default", "bf16").iloc[0] == pytest.approx(2.0)


def test_machines_are_listed_newest_run_first_and_gpus_before_cpus():
    old = gpu_results("Old GPU", [record("a", 1.0)])
    new = gpu_results("New GPU", [record("a", 2.0)])
    new["environment"]["date"] = "2026-06-01T00:00:00+00:00"
    cpu = copy.deepcopy(old)
    cpu["environment"].update(device_type="cpu", name="A CPU",
                              date="2027-01-01T00:00:00+00:00")
    df = br.records({"a_old": old, "b_new": new, "c_cpu": cpu})
    assert br.machines(df) == ["New GPU", "Old GPU"] and br.machines(df, "cpu") == ["A CPU"]
    ordered = br.newest_first(df[["machine", "case"]], df)
    assert list(ordered["machine"]) == ["New GPU", "Old GPU", "A CPU"]
    assert list(br.formulation_times(df).index.get_level_values("machine")) == [
        "New GPU", "Old GPU", "A CPU"]
