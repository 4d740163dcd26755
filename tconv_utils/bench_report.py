"""Reading timing results: the committed files, tables as pandas DataFrames, findings, figures.

The results of ``python -m tconv_utils.bench`` that ship with the book are package data
(``tconv_utils/bench_results/*.json``), read with ``importlib.resources``, so they load wherever
the package is installed (on Colab too). :func:`load_results` returns them as schema-2 dicts;
files written by the first version of the harness (schema 1) are read through :func:`upgrade`,
and :func:`run_status` says how each run ended (records planned, timed, skipped).

The DataFrame of :func:`records` has one row per timed record (one per run where a record was
measured in several processes: :func:`run_spread` gives their median and range, and every
table below takes the median over runs); the functions after it answer one question each:
what PyTorch's defaults cost against a tuned setting (:func:`default_vs_tuned`),
what each setting buys on its own (:func:`speedups`), how a ratio varies over every matching pair
(:func:`ratios`), which formulation wins (:func:`formulation_times`), and where a record sits on
the roofline (:func:`plot_roofline`). pandas and matplotlib are imported inside the functions.
"""
from __future__ import annotations

import copy
import importlib.resources
import json
import re
from pathlib import Path

import numpy as np

from .bench import ALL_FORMULATIONS, CUDNN_ONLY, roof_key, roofline

RESULTS_FOLDER = "bench_results"
# A record is one setting of these fields on one machine.
KEY = ("machine", "case", "formulation", "precision", "channels_last", "cudnn_benchmark", "mode")
# PyTorch's defaults, and the tuned setting: bf16, channels-last, cudnn.benchmark.
DEFAULT = {"formulation": "direct", "precision": "default", "channels_last": False,
           "cudnn_benchmark": False, "mode": "fwd"}
TUNED = {**DEFAULT, "precision": "bf16", "channels_last": True, "cudnn_benchmark": True}
# One change at a time from DEFAULT, named as a reader knows it.
CHANGES = {"strict fp32": {"precision": "fp32"},
           "channels-last": {"channels_last": True},
           "cudnn.benchmark": {"cudnn_benchmark": True},
           "fp16": {"precision": "fp16"},
           "bf16": {"precision": "bf16"},
           "tuned": {k: v for k, v in TUNED.items() if DEFAULT[k] != v},
           "tuned, no benchmark": {"precision": "bf16", "channels_last": True},
           "tuned, autocast": {"precision": "amp_bf16", "channels_last": True,
                               "cudnn_benchmark": True},
           "torch.compile": {"formulation": "compile"},
           "compile, reduce-overhead": {"formulation": "compile_reduce_overhead"}}
# cuDNN's kernels that only copy a tensor between NCHW and NHWC ("folded" variants included).
LAYOUT_CONVERSION = re.compile(r"(nchw|nhwc)to(folded)?(nchw|nhwc)", re.IGNORECASE)


# ---------------------------------------------------------------------------- the files

def results_dir():
    """The folder of committed results inside the installed package (a ``Traversable``)."""
    return importlib.resources.files("tconv_utils") / RESULTS_FOLDER


def committed_files():
    """The committed results files, sorted by name (``schema.json`` left out)."""
    return sorted((p for p in results_dir().iterdir()
                   if p.name.endswith(".json") and p.name != "schema.json"), key=lambda p: p.name)


def schema():
    """The JSON schema every results file follows."""
    return json.loads((results_dir() / "schema.json").read_text())


def upgrade(results):
    """A results dict in schema 2 (a copy; schema-2 dicts are returned as they are).

    Schema 1 named each record's ``dtype`` where schema 2 names its ``precision``. The first
    harness had no ``default``: its CPU ``fp32`` is PyTorch's CPU default, and on a GPU its
    ``tf32`` turned on TF32 for cuDNN (PyTorch's default) and for matmuls. Formulations whose
    only arithmetic is cuDNN convolutions (``bench.CUDNN_ONLY``) ran exactly as with the default
    flags, so those records read as ``default`` (marked ``read_as_default``).
    """
    if results.get("schema_version", 1) >= 2:
        return results
    res = copy.deepcopy(results)
    cuda = res["environment"]["device_type"] == "cuda"
    for r in res["results"]:
        p = r.pop("dtype")
        if (not cuda and p == "fp32") or (cuda and p == "tf32" and r["formulation"] in CUDNN_ONLY):
            r["read_as_default"] = p
            p = "default"
        r["precision"] = p
    settings = res["settings"]
    settings["precisions"] = list(dict.fromkeys(r["precision"] for r in res["results"]))
    settings.pop("dtypes", None)
    res.setdefault("stopped_by", None)
    res["upgraded_from_schema"] = res.get("schema_version", 1)
    res["schema_version"] = 2
    return res


def load_results(paths=None):
    """Results files as ``{stem: schema-2 dict}``, in order of file name; by default the
    committed ones (:func:`committed_files`). ``paths`` may be paths or ``Traversable``s."""
    paths = committed_files() if paths is None else [Path(p) if isinstance(p, str) else p
                                                      for p in paths]
    out = {}
    for p in sorted(paths, key=lambda p: p.name):
        out[p.name.rsplit(".", 1)[0]] = upgrade(json.loads(p.read_text()))
    return out


def run_status(results):
    """How one run ended, from its own fields: records planned, timed (``ok``), ``skipped``
    (not started before the budget ran out, or stopped at a time cap), ``unsupported``,
    ``failed`` and ``mismatch``; ``complete`` (the plan was gone through, possibly skipping
    records) and ``cut_off`` (stopped from outside before the end of its plan: the records it
    never reached are absent, not skipped)."""
    counts = {s: 0 for s in ("ok", "skipped", "unsupported", "failed", "mismatch")}
    for r in results["results"]:
        counts[r["status"]] += 1
    return {"records": len(results["results"]), **counts, "complete": bool(results["complete"]),
            "cut_off": not results["complete"], "stopped_by": results.get("stopped_by"),
            "elapsed_s": results["elapsed_s"], "budget_s": results["settings"].get("budget_s")}


# PyTorch's flags in a fresh process: TF32 for cuDNN convolutions only, no cudnn.benchmark, in
# the names of either API (torch 2.9 added fp32_precision; a file records the one it used).
PYTORCH_DEFAULT_FLAGS = ({"cudnn.allow_tf32": True, "cuda.matmul.allow_tf32": False,
                          "cudnn.benchmark": False},
                         {"cudnn.conv.fp32_precision": "tf32",
                          "cuda.matmul.fp32_precision": "none", "cudnn.benchmark": False})


def capability_of(results):
    """A results file's compute capability as a tuple; None on the CPU. Schema-1 GPU files
    record none: their runs were on H100s (9.0), whose default records ran in TF32."""
    env = results["environment"]
    cap = env.get("compute_capability")
    if cap:
        return tuple(int(v) for v in cap.split("."))
    return (9, 0) if env["device_type"] == "cuda" else None


def roofs_by_file(results):
    """Per file of ``results`` (``{name: dict}``), its roofs and copy rate as a ``limits``
    dict; a math type the file did not measure takes the roof the newest other file of the
    same machine measured."""
    per_machine = {}
    for res in sorted(results.values(), key=lambda r: r["environment"]["date"]):
        per_machine.setdefault(res["environment"]["name"], {}).update(res["limits"]["matmul"])
    return {name: {"matmul": {**per_machine[res["environment"]["name"]],
                              **res["limits"]["matmul"]}, "copy": res["limits"]["copy"]}
            for name, res in results.items()}


def _cudnn_key(r):
    """The part of PyTorch's cuDNN plan-cache key a record's convolution is told by (its shapes
    follow from the case): the convolution it calls, the tensors' dtype, the TF32 flag and the
    layout. None for records whose convolution is not PyTorch's cuDNN call with the record's
    own layout (GEMM + col2im, torch.compile, NumPy, Keras)."""
    family = {"direct": "conv_transpose2d", "zero_insertion": "zero_insertion",
              "subpixel": "subpixel"}.get(r["formulation"])
    if family is None:
        return None
    p = r["precision"]
    dtype = p[4:] if p.startswith("amp_") else (p if p in ("bf16", "fp16") else "fp32")
    return (r["case"], family, dtype, p != "fp32", r["memory_format"])


def plan_sources(results):
    """For each record of one CUDA results dict (in the order they were measured): where its
    cuDNN plan came from, ``"heuristic"`` or ``"benchmark"``; None where that cannot be told.

    PyTorch keeps the plan it chose for a convolution in a per-thread cache and looks there
    before it reads ``cudnn.benchmark``; the cache key (shapes, dtype, layout, the TF32 and
    deterministic flags, alignments) does not include the flag. So in one process every record
    with a given key runs the plan chosen for the first record with that key: cuDNN's
    heuristic if that record had ``cudnn.benchmark`` off, the fastest of a timed search if on.
    Records of one process are those with the same ``process`` field (all records of a file
    written before the harness ran workers)."""
    first, out = {}, []
    for r in results["results"]:
        key = _cudnn_key(r)
        if results["environment"]["device_type"] != "cuda" or key is None or r["status"] != "ok":
            out.append(None)
            continue
        key = (r.get("process"), *key)
        first.setdefault(key, "benchmark" if r["cudnn_benchmark"] else "heuristic")
        out.append(first[key])
    return out


# ---------------------------------------------------------------------------- DataFrames

def records(results):
    """One row per timed record of every file in ``results`` (``{name: dict}``; one row per run
    where a record was measured in several processes, ``run`` numbering them), with times in
    ms, rates in TFLOP/s, the error against strict float32 (``max_rel_error``), the math type
    the call ran in (``math``, :func:`tconv_utils.bench.roof_key`: a float32 call whose error is
    that of full float32 ran a float32 kernel, whatever TF32 flag was set), the roofline
    fraction against that math type's roof (a roof a file did not measure is taken from another
    file of the same machine) and ``roof_valid`` (False where a record beats its roof: that roof
    is not a ceiling). Also the cold-cache time, on a GPU the device's time per call by CUDA
    events (``event_ms``, host hidden) and, where the profiler ran, the kernels' device time
    (``kernel_ms``), the top kernel's full name (``kernel``), the short name of the top kernel
    that is not a layout conversion (``main_kernel``, see :func:`short_kernel`), every recorded
    kernel's name (``kernel_names``) and the time of the layout conversions among them
    (``conversion_ms``; the harness records the top three). ``plan`` says where a CUDA
    record's cuDNN plan came from (:func:`plan_sources`): with ``cudnn.benchmark`` as the
    column says only where ``plan`` agrees."""
    import pandas as pd
    results = {name: upgrade(res) for name, res in results.items()}
    roofs = roofs_by_file(results)
    rows = []
    for name, res in results.items():
        env, cap = res["environment"], capability_of(res)
        for r, plan in zip(res["results"], plan_sources(res)):
            if r["status"] != "ok" or "median_s" not in r:
                continue
            kernels = r.get("kernels") or []
            compute = [k for k in kernels if not is_layout_conversion(k["name"])]
            math = roof_key(r["precision"], cap, r.get("max_rel_error"))
            bound = roofline(r["flops"], r["bytes"], r["median_s"], roofs[name], math)

            def ms(field, r=r):
                return 1e3 * r[field] if r.get(field) is not None else np.nan
            rows.append({
                "file": name, "machine": env["name"], "device_type": env["device_type"],
                "date": env["date"], "case": r["case"], "formulation": r["formulation"],
                "precision": r["precision"], "channels_last": r["memory_format"] == "channels_last",
                "cudnn_benchmark": bool(r["cudnn_benchmark"]), "mode": r["mode"],
                "run": r.get("repeat", 0), "plan": plan,
                "median_ms": ms("median_s"), "iqr_ms": ms("iqr_s"),
                "blocks": r.get("blocks", np.nan), "cold_ms": ms("cold_median_s"),
                "event_ms": ms("event_median_s"), "kernel_ms": ms("kernel_time_s"),
                "max_rel_error": r.get("max_rel_error", np.nan), "math": math,
                "kernel": kernels[0]["name"] if kernels else None,
                "main_kernel": short_kernel(compute[0]["name"]) if compute else None,
                "kernel_names": tuple(k["name"] for k in kernels),
                "conversion_ms": (1e3 * sum(k["time_s"] for k in kernels
                                            if is_layout_conversion(k["name"]))
                                  if kernels else np.nan),
                "compile_s": r.get("compile_s", np.nan),
                "bytes": r["bytes"], "tflops": r["achieved_tflops"],
                "counted_tflops": r["formulation_flops"] / r["median_s"] / 1e12,
                "roofline_fraction": bound[1] if bound else np.nan,
                "bound_by": bound[2] if bound else None})
    columns = ["file", "machine", "device_type", "date", *KEY[1:], "run", "plan", "median_ms",
               "iqr_ms",
               "blocks", "cold_ms", "event_ms", "kernel_ms", "max_rel_error", "math", "kernel",
               "main_kernel", "kernel_names", "conversion_ms", "compile_s", "bytes", "tflops",
               "counted_tflops", "roofline_fraction", "bound_by"]
    df = pd.DataFrame(rows, columns=columns)
    df["roof_valid"] = ~(df["roofline_fraction"] > 1)
    return df


def run_spread(df, value="median_ms"):
    """Per record key: ``value``'s median over the runs that measured it, its min and max, the
    number of runs ``n`` and ``spread = (max - min) / median``; a key measured once has n = 1
    and spread 0 (no spread known)."""
    out = df.groupby(list(KEY), sort=False)[value].agg(["median", "min", "max", "count"])
    out = out.rename(columns={"count": "n"})
    out["spread"] = (out["max"] - out["min"]) / out["median"]
    return out


def one_per_key(df):
    """One row per record key (:data:`KEY`), for tables indexed by machine and case: numeric
    columns are their median over the runs that measured the key, the others come from its first
    run (kernel names, plan, math type: the same in every run of a key)."""
    if df.empty:
        return df
    numeric = [c for c in df.columns if c not in KEY and df[c].dtype.kind in "fi"
               and c != "run"]
    grouped = df.groupby(list(KEY), sort=False, dropna=False)
    out = grouped.first()
    out[numeric] = grouped[numeric].median()
    out["runs"] = grouped.size()
    return out.reset_index()[[*df.columns, "runs"]]


def select(df, **match):
    """Rows of ``df`` whose columns equal ``match``."""
    mask = np.ones(len(df), dtype=bool)
    for k, v in match.items():
        mask &= (df[k] == v).to_numpy()
    return df[mask]


def is_layout_conversion(name):
    """True for a kernel that only converts a tensor between NCHW and NHWC (cuDNN's
    ``nchwToNhwcKernel``, ``foldedNhwcToNchwKernel``...)."""
    return bool(LAYOUT_CONVERSION.search(name))


def short_kernel(name):
    """A profiled kernel's name without what varies from build to build: no ``void``, no
    arguments, only the first template argument (the data type), no tile sizes; for cuDNN's and
    CUTLASS's wrappers (``Kernel<...>``), the name of the kernel they wrap."""
    name = re.sub(r"^void ", "", name.strip()).replace("(anonymous namespace)::", "")
    wrapped = re.match(r"^[\w:]*Kernel2?<(\w+)>", name)
    if wrapped:
        name = wrapped.group(1)
    base, first = re.match(r"([\w:]*)(?:<\s*([^,<>()]+))?", name).groups()
    base = re.split(r"_(?:nhwckrsc|nchwkcrs|tilesize|\d+x\d+)", base, maxsplit=1)[0]
    return (base + (f"<{first.strip()}>" if first else ""))[:80]


def machines(df, device_type="cuda"):
    """The machines of ``df`` of one device type, newest run first (the date of each machine's
    latest file): the order tables and figures list them in."""
    sub = df[df["device_type"] == device_type]
    return list(sub.groupby("machine")["date"].max().sort_values(ascending=False).index)


def newest_first(table, df):
    """``table`` (a column ``machine``, or an index level of that name) with its machines in the
    order of :func:`machines`, GPUs before CPUs, each machine's rows kept in their order."""
    order = {m: i for i, m in enumerate(machines(df, "cuda") + machines(df, "cpu"))}
    names = (table["machine"] if "machine" in table.columns
             else table.index.get_level_values("machine"))
    rank = np.array([order.get(m, len(order)) for m in names])
    return table.iloc[np.argsort(rank, kind="stable")]


def _times(df, value="median_ms", how="median", **match):
    """``value`` per record key: its median over the runs that measured the key (``how``:
    ``min`` or ``max`` for the extremes)."""
    sub = select(df, **match)
    return sub.groupby(list(KEY), sort=False)[value].agg(how)


def ratios(df, field, slow, fast, value="median_ms", **match):
    """``time(field=slow) / time(field=fast)`` for every pair of records that differ only in
    ``field``, as a Series indexed by the other key fields (> 1: ``fast`` is faster). ``value``
    names the time: ``median_ms`` (warm, per call), ``kernel_ms`` (the profiler's device time)
    or ``cold_ms``; pairs where either is missing are left out."""
    sub = select(df, **match)
    keys = [k for k in KEY if k != field]
    a = _times(sub[sub[field] == slow], value).droplevel(field)
    b = _times(sub[sub[field] == fast], value).droplevel(field)
    a.index, b.index = a.index.reorder_levels(keys), b.index.reorder_levels(keys)
    return (a / b).dropna()


def summary(series):
    """Median, min, max and count of a Series of ratios, as a dict (NaNs when empty)."""
    return {"median": float(series.median()) if len(series) else np.nan,
            "min": float(series.min()) if len(series) else np.nan,
            "max": float(series.max()) if len(series) else np.nan, "n": int(len(series))}


def speedups(df, changes=None):
    """Per machine and case: PyTorch's defaults against each change of :data:`CHANGES` (or
    ``changes``) applied alone, ``speedup = default time / changed time`` (> 1: the change
    helps), for ``F.conv_transpose2d`` forward, from the median over runs of each. ``runs`` is
    the fewer of the two records' runs; ``speedup_lo`` and ``speedup_hi`` the speedup's range
    over them (slowest default against fastest change and back; equal to ``speedup`` where
    each was measured once). ``device_speedup`` is the same ratio of the profiler's device
    time (``kernel_ms``; NaN where not profiled): the device's own gain, without the host's
    time per call. Machines come newest first (:func:`machines`), cases in the order the files
    list them."""
    import pandas as pd
    hows = ("median", "min", "max", "count")
    base = {how: _times(df, how=how, **DEFAULT) for how in hows}
    base_dev = _times(df, "kernel_ms", **DEFAULT)
    rows = []
    for label, change in (changes or CHANGES).items():
        setting = {**DEFAULT, **change}
        times = {how: _times(df, how=how, **setting) for how in hows}
        dev = _times(df, "kernel_ms", **setting)
        for key, ms in times["median"].items():
            d = dict(zip(KEY, key))
            b = tuple(DEFAULT.get(k, d[k]) for k in KEY)
            if b in base["median"].index:
                rows.append({"machine": d["machine"], "case": d["case"], "change": label,
                             "default_ms": base["median"][b], "changed_ms": ms,
                             "speedup": base["median"][b] / ms,
                             "runs": int(min(base["count"][b], times["count"][key])),
                             "speedup_lo": base["min"][b] / times["max"][key],
                             "speedup_hi": base["max"][b] / times["min"][key],
                             "device_speedup": base_dev[b] / dev[key]})
    out = pd.DataFrame(rows, columns=["machine", "case", "change", "default_ms", "changed_ms",
                                      "speedup", "runs", "speedup_lo", "speedup_hi",
                                      "device_speedup"])
    return newest_first(out, df).reset_index(drop=True)


def default_vs_tuned(df):
    """Per machine and case: PyTorch's defaults against the tuned setting (bf16, or fp16 where a
    file has no bf16 record, with channels-last and cudnn.benchmark), ``F.conv_transpose2d``
    forward, as :func:`speedups` gives them (``speedup = default ms / tuned ms``)."""
    import pandas as pd
    bf16 = speedups(df, {"bf16": CHANGES["tuned"]})
    fp16 = speedups(df, {"fp16": {**CHANGES["tuned"], "precision": "fp16"}})
    fp16 = fp16[~fp16.set_index(["machine", "case"]).index.isin(
        bf16.set_index(["machine", "case"]).index)]
    out = pd.concat([bf16, fp16], ignore_index=True)
    out = out.rename(columns={"change": "tuned_precision", "changed_ms": "tuned_ms"})
    out = newest_first(out, df).reset_index(drop=True)
    return out[["machine", "case", "default_ms", "tuned_ms", "tuned_precision", "speedup",
                "runs", "speedup_lo", "speedup_hi", "device_speedup"]]


def formulation_times(df, fp16_where_no_bf16=False, **setting):
    """Median ms per (machine, case) row and formulation column at one setting (default:
    PyTorch's defaults, forward), for the exact formulations timed there (Keras at NHWC).
    With ``fp16_where_no_bf16``, a machine with no record at a bf16 ``setting`` (a GPU below
    compute capability 8.0, such as a T4) gets its records at fp16 instead."""
    import pandas as pd
    if fp16_where_no_bf16 and setting.get("precision") == "bf16":
        bf16 = formulation_times(df, **setting)
        fp16 = formulation_times(df[~df["machine"].isin(bf16.index.get_level_values(0))],
                                 **{**setting, "precision": "fp16"})
        return newest_first(pd.concat([bf16, fp16]), df)
    setting = {k: v for k, v in {**DEFAULT, **setting}.items() if k != "formulation"}
    sub = select(df, **setting)
    if not setting["channels_last"]:  # Keras is timed only in its own layout, channels-last
        keras = select(df[df["formulation"] == "keras"], **{**setting, "channels_last": True})
        sub = pd.concat([sub, keras])
    sub = sub[sub["formulation"].isin([f for f in ALL_FORMULATIONS if not f.startswith("compile")])]
    table = sub.pivot_table(index=["machine", "case"], columns="formulation",
                            values="median_ms", aggfunc="median", sort=False)
    return newest_first(table[[f for f in ALL_FORMULATIONS if f in table.columns]], df)


def roof_kernels(results):
    """Per file and math type: the rate of each kernel the roof was taken from (TFLOP/s)."""
    import pandas as pd
    rows = []
    for name, res in results.items():
        for math_type, lim in res["limits"]["matmul"].items():
            kernels = lim.get("kernels") or {f"torch.mm {lim['n']}": lim["flops_per_s"]}
            for kernel, rate in kernels.items():
                rows.append({"file": name, "math": math_type, "kernel": kernel,
                             "tflops": rate / 1e12, "roof": rate == lim["flops_per_s"]})
    return pd.DataFrame(rows, columns=["file", "math", "kernel", "tflops", "roof"])


# ---------------------------------------------------------------------------- findings

def _precision(r):
    return r.get("precision", r.get("dtype"))


def _rows(results, setting=None):
    """``(case, formulation, ms)`` of the timed records at one setting (default: the file's
    first precision, NCHW, forward, cudnn.benchmark on for CUDA; Keras at NHWC), ms the median
    over the runs that measured it."""
    setting = dict(setting or default_setting(results))
    want_p = setting.pop("precision")
    times = {}
    for case in results["cases"]:
        for r in results["results"]:
            if r["case"] != case["name"] or r["status"] != "ok" or "median_s" not in r:
                continue
            want = dict(setting, memory_format="channels_last" if r["formulation"] == "keras"
                        else setting["memory_format"])
            if _precision(r) == want_p and all(r.get(k) == v for k, v in want.items()):
                times.setdefault((case["name"], r["formulation"]), []).append(r["median_s"])
    return [(c, f, 1e3 * float(np.median(t))) for (c, f), t in times.items()]


def default_setting(results):
    """The setting :func:`findings` compares formulations at: first precision, NCHW, forward."""
    settings = results["settings"]
    s = {"precision": (settings.get("precisions") or settings["dtypes"])[0],
         "memory_format": "nchw", "mode": "fwd"}
    if results["environment"]["device_type"] == "cuda":
        s["cudnn_benchmark"] = True
    return s


def fastest(results, setting=None):
    """Per case, the fastest exact formulation at ``setting``: ``{case: (formulation, ms)}``."""
    best = {}
    for case, f, ms in _rows(results, setting):
        if case not in best or ms < best[case][1]:
            best[case] = (f, ms)
    return best


def _ratio(results, field, slow, fast, **match):
    """Median over matching (case, other settings) of time(field=slow) / time(field=fast) (each
    time the median over its runs), and the number of pairs; ``(None, 0)`` when there is none.
    Works on records of every schema."""
    times = {}
    for r in results["results"]:
        if r["status"] != "ok" or "median_s" not in r:
            continue
        if not all(r.get(k) == v for k, v in match.items()):
            continue
        key = tuple((k, r.get(k)) for k in ("case", "formulation", "dtype", "precision",
                                            "memory_format", "mode", "cudnn_benchmark")
                    if k != field)
        times.setdefault(key, {}).setdefault(r[field], []).append(r["median_s"])
    pairs = [np.median(t[slow]) / np.median(t[fast]) for t in times.values()
             if slow in t and fast in t]
    return (float(np.median(pairs)), len(pairs)) if pairs else (None, 0)


def findings(results):
    """Measured statements about one results dict (any schema), as strings."""
    env, out = results["environment"], []
    name = f"{env['name']} ({env['device_type']})"
    st = run_status(results)
    out.append(f"{name}: {st['ok']} of {st['records']} records timed, {st['skipped']} skipped, "
               f"{st['failed'] + st['mismatch']} failed"
               + ("" if st["complete"] else "; the run was stopped before the end of its plan"))
    field = "precision" if any("precision" in r for r in results["results"]) else "dtype"
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
        settings = results["settings"]
        base = "fp32" if field == "dtype" else "default"
        for p in settings.get("precisions") or settings["dtypes"]:
            if p != base:
                r, n = _ratio(results, field, base, p, formulation="direct")
                if r:
                    out.append(f"{name}: {base} time / {p} time = {r:.2f} (median of {n})")
        r, n = _ratio(results, "formulation", "direct", "compile", mode="fwd")
        if r:
            out.append(f"{name}: F.conv_transpose2d time / torch.compile time = {r:.2f} "
                       f"(median of {n}; > 1 means compile is faster)")
    largest = max(results["cases"], key=lambda c: c["useful_flops"])["name"]
    recs = [r for r in results["results"] if r["status"] == "ok" and r["case"] == largest
            and r.get("roofline_fraction")]
    if recs:
        top = max(recs, key=lambda r: r["roofline_fraction"])
        frac = top["roofline_fraction"]
        out.append(f"{name}: on the largest case ({largest}) the best record reaches "
                   f"{frac:.0%} of the roofline bound: {top['formulation']}, {_precision(top)}, "
                   f"{top['memory_format']}, {top['mode']}, cudnn.benchmark="
                   f"{top['cudnn_benchmark']}"
                   + (" (above 1: this roof is not a ceiling, take a faster kernel's rate)"
                      if frac > 1 else ""))
    return out


# ---------------------------------------------------------------------------- figures

def _plain_log(axis):
    """Log scale labelled 0.5, 1, 2, 5, 10 ... instead of powers of ten."""
    import matplotlib.ticker as mticker
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1, 2, 5)))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def _color(formulation):
    """One colour per formulation in every figure."""
    return f"C{ALL_FORMULATIONS.index(formulation)}"


def plot_speedups(table, ax=None, title=None):
    """Horizontal bars: ``speedup`` per (machine, case) row of ``table`` (from
    :func:`default_vs_tuned`), log scale, a line at 1 (no change); a black line across a bar
    is its range over runs, where there was more than one, and a black diamond the speedup of
    the device's own time, where the profiler measured it."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.3 * len(table) + 1.2), dpi=90)
    machines = list(dict.fromkeys(table["machine"]))
    labels, colors = [], []
    for _, row in table.iterrows():
        labels.append(f"{row['case']}")
        colors.append(f"C{machines.index(row['machine'])}")
    y = np.arange(len(table))[::-1]
    ax.barh(y, table["speedup"], color=colors, height=0.7)
    if "speedup_lo" in table:  # the range over runs, where a record was measured more than once
        ranged = (table["runs"] > 1).to_numpy()
        ax.hlines(y[ranged], table["speedup_lo"][ranged], table["speedup_hi"][ranged],
                  color="k", lw=1.2)
    for yi, s in zip(y, table["speedup"]):
        ax.text(s, yi, f" {s:.2f}x", va="center", fontsize=7)
    ax.axvline(1, color="k", lw=0.8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{i}") for i in range(len(machines))]
    labels_legend = list(machines)
    if "device_speedup" in table and table["device_speedup"].notna().any():
        dev = table["device_speedup"].to_numpy()
        handles.append(ax.scatter(dev, y, marker="D", s=22, color="k", zorder=3))
        labels_legend.append("device time only (profiler)")
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("speedup = default time / tuned time (log scale; > 1: tuned is faster)")
    ax.legend(handles, labels_legend, fontsize=7, loc="lower right")
    ax.set_title(title or "F.conv_transpose2d, forward: PyTorch's defaults vs bf16 + "
                 "channels-last + cudnn.benchmark", fontsize=9)
    ax.set_xlim(right=ax.get_xlim()[1] * 1.6)
    return ax


def plot_changes(table, axes=None):
    """One panel per machine: for each change (x) the speedup of every case (points), log scale."""
    import matplotlib.pyplot as plt
    machines = list(dict.fromkeys(table["machine"]))
    if axes is None:
        _, axes = plt.subplots(1, len(machines), figsize=(4.6 * len(machines), 3.4), dpi=90,
                               squeeze=False, sharey=True)
        axes = axes[0]
    cases = list(dict.fromkeys(table["case"]))
    for ax, machine in zip(axes, machines):
        sub = table[table["machine"] == machine]
        changes = [c for c in CHANGES if c in set(sub["change"])]
        for j, case in enumerate(cases):
            pts = sub[sub["case"] == case]
            xs = [changes.index(c) + (j - len(cases) / 2) * 0.06 for c in pts["change"]]
            ax.scatter(xs, pts["speedup"], s=16, color=f"C{j}", label=case)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        ax.set_xticks(range(len(changes)))
        ax.set_xticklabels(changes, rotation=30, ha="right", fontsize=8)
        ax.set_title(machine[:40], fontsize=9)
    axes[0].set_ylabel("default time / changed time")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return axes


def plot_formulations(table, ax=None, title=None):
    """Bars: each formulation's time relative to ``direct`` per (machine, case) row of
    ``table`` (from :func:`formulation_times`), log scale; each machine's layers grouped, its
    name under them, the legend right of the axes."""
    import matplotlib.pyplot as plt
    import matplotlib.transforms as mtransforms
    rel = table.div(table["direct"], axis=0)
    forms = [f for f in rel.columns if f != "direct"]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2), dpi=90)
    machines = list(dict.fromkeys(m for m, _ in rel.index))
    # One slot per layer, one empty slot between machines.
    x = np.array([i + machines.index(m) for i, (m, _) in enumerate(rel.index)], dtype=float)
    width = 0.8 / max(len(forms), 1)
    for j, f in enumerate(forms):
        ax.bar(x + (j - (len(forms) - 1) / 2) * width, rel[f], width, label=f, color=_color(f))
    ax.axhline(1, color="k", lw=0.8, label="direct")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xticks(x)
    ax.set_xticklabels([c for _, c in rel.index], fontsize=7)
    below = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for m in machines:
        xs = x[[mm == m for mm, _ in rel.index]]
        ax.text(xs.mean(), -0.16, m[:32], transform=below, ha="center", va="top", fontsize=7)
    ax.set_ylabel("time / F.conv_transpose2d", fontsize=8)
    ax.set_title(title or "exact formulations against F.conv_transpose2d", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_roofline(results, ax=None, formulation="direct", title=None, limits=None):
    """The roofline of one results file (its measured FLOP roofs and copy rate, or ``limits``,
    e.g. from :func:`roofs_by_file`) with every timed record of ``formulation`` as a point,
    drawn against the roof of the math type it ran in (``math`` of :func:`records`): x = useful
    FLOPs per compulsory byte, y = achieved FLOP/s; filled markers NCHW, hollow channels-last.
    A math type with no record is left out."""
    import matplotlib.pyplot as plt
    res = upgrade(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    lim = limits or res["limits"]
    bw = lim["copy"]["bytes_per_s"]
    xs = np.logspace(-1, 4, 200)
    cap = capability_of(res)
    points = {}
    for r in res["results"]:
        if r["status"] == "ok" and r["formulation"] == formulation and "median_s" in r:
            math = roof_key(r["precision"], cap, r.get("max_rel_error"))
            points.setdefault(math, []).append(r)
    markers = {"fp32": "o", "tf32": "s", "bf16": "^", "fp16": "v"}
    for i, math_type in enumerate(m for m in lim["matmul"] if m in points):
        ax.plot(xs, np.minimum(lim["matmul"][math_type]["flops_per_s"], bw * xs) / 1e12,
                color=f"C{i}", lw=1, label=f"roof {math_type}")
        for r in points[math_type]:
            filled = r["memory_format"] == "nchw"
            ax.scatter(r["flops"] / r["bytes"], r["achieved_tflops"], marker=markers[math_type],
                       s=18, color=f"C{i}" if filled else "none", edgecolors=f"C{i}",
                       linewidths=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs per compulsory byte")
    ax.set_ylabel("achieved TFLOP/s")
    ax.set_title(title or f"{res['environment']['name'][:40]}: {formulation}", fontsize=9)
    ax.legend(fontsize=7)
    return ax
