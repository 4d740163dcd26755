"""The Explorer page's widget (book/_static/explorer.js) against tconv_utils, in headless Chromium.

The widget is a JavaScript port of the library's rules. Each configuration below is set through
the page's address (or its controls); every number the widget computes is read from its data-
attributes, and the same value is computed here by calling tconv_utils. So are the sentences that
carry a verdict (errors, why no Keras layer fits, which porting branch applies), the formulas it
prints (evaluated here), and the cells it marks kept or cropped. The rules themselves are never
restated here: what this file knows of the widget is its address format (which argument takes
which text, one value or one per dimension), its own limits, read from the page, and its words.
The page's layout (at a phone's width and a desktop's), the contrast of its marks and the
framework switch are tested at the end.
"""
import html
import os
import random
import re
import shutil
import time
import urllib.parse

import numpy as np
import pytest

from tconv_utils import checkerboard, porting, reference, shapes

if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
    if os.environ.get("CI", "").lower() == "true":  # as tests/test_browser.py: CI needs Chromium
        raise RuntimeError("CI needs Chromium for the browser test: apt-get install -y chromium")
    pytest.skip("browser test skipped: no Chromium (install it with: sudo apt-get install -y chromium)",
                allow_module_level=True)

PAGE = "book/explorer.html"
KEYS = ("n", "k", "s", "d", "p", "op")
NAMES = {"n": "n", "k": "kernel", "s": "stride", "d": "dilation", "p": "padding",
         "op": "output_padding"}
INT = re.compile(r"-?\d+", re.ASCII)  # JavaScript's \d: '٤' is text to the widget, not 4
# The one page error of every Jupyter Book 1 page (sphinx-thebe's script included twice); see
# tests/test_browser.py.
KNOWN_PAGE_ERROR = "Identifier 'THEBE_JS_URL' has already been declared"

# --------------------------------------------------------------------------------------------
# Configurations: the address text of each argument, as a reader would type it.
# --------------------------------------------------------------------------------------------


def config(fw, n, k, s, p, op=None, d="1", dim=1, kind=()):
    """One configuration. Values are strings or ints; a pair (h, w) for 2-D. `op=None` in Keras is
    Keras' default output_padding (the address has no op); in PyTorch it means 0."""
    text = lambda v: ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
    if op is None and fw == "torch":
        op = "0"
    return {"fw": fw, "dim": str(dim), "n": text(n), "k": text(k), "s": text(s), "d": text(d),
            "p": text(p), "op": None if op is None else text(op), "kind": set(kind)}


def edge_configs():
    """The edge cases, each tagged with what it exercises."""
    out = []
    add = lambda *a, **kw: out.append(config(*a, **kw))
    for fw, pads in (("torch", (0, 1, 2)), ("keras", ("valid", "same"))):
        for k, s in ((1, 2), (2, 3), (1, 4), (3, 5)):                        # kernel below stride
            for p in pads:
                add(fw, 5, k, s, p, kind={"k < s"})
        for k, s in ((3, 2), (5, 2), (4, 1), (6, 3), (7, 4)):                # k - s odd
            for p in pads:
                add(fw, 4, k, s, p, kind={"k - s odd"})
        for k, s in ((4, 2), (5, 3), (3, 1), (2, 2), (6, 2)):                # k - s even
            for p in pads:
                add(fw, 4, k, s, p, kind={"k - s even"})
        for d, s in ((2, 1), (3, 1), (3, 2), (4, 3)):                        # dilation > stride
            add(fw, 4, 3, s, pads[-1], d=d, kind={"dilation > stride"})
        add(fw, 1, 3, 2, pads[0], kind={"n = 1"})
    for s, d in ((2, 1), (3, 1), (1, 3), (2, 3), (4, 2)):                    # PyTorch op at its limit
        limit = max(s, d)
        add("torch", 4, 3, s, 1, limit - 1, d=d, kind={"output_padding at its limit"})
        add("torch", 4, 3, s, 1, limit, d=d, kind={"output_padding past its limit"})
    for s in (2, 3, 4):                                                      # Keras op at its limit
        for mode in ("valid", "same"):
            add("keras", 4, 3, s, mode, s - 1, kind={"output_padding at its limit"})
            add("keras", 4, 3, s, mode, s, kind={"output_padding past its limit"})
    for k in (2, 4, 6):                                                      # TensorFlow's own refusal
        add("keras", 3, k, 2, "same", 0, kind={"size TensorFlow refuses"})
        add("keras", 3, k, 2, "same", kind={"Keras 'same', even kernel"})
    for n, k, s, p in ((1, 1, 1, 1), (2, 3, 1, 3), (1, 2, 2, 2)):            # padding eats everything
        add("torch", n, k, s, p, kind={"padding crops the whole output"})
    for s, d in ((2, 2), (3, 2), (2, 3)):                                    # Keras refuses
        add("keras", 4, 3, s, "same", d=d, kind={"stride > 1 with dilation > 1 in Keras"})
        add("torch", 4, 3, s, 1, d=d, kind={"stride > 1 with dilation > 1 in Keras"})
    for key, bad in (("n", "2.5"), ("k", "abc"), ("s", ""), ("d", "1e3"), ("p", "x"), ("op", "0.5"),
                     ("n", "4,5")):                                          # not integers
        cfg = config("torch", 4, 3, 2, 1)
        cfg[key] = bad
        cfg["kind"] = {"not an integer"}
        out.append(cfg)
    out.append(config("keras", 4, 3, 2, "full", kind={"not a Keras padding"}))
    out.append(config("keras", 4, 3, 2, "1", kind={"not a Keras padding"}))
    out.append(config("keras", 4, 3, 2, "SAME", kind={"not a Keras padding"}))
    for key, low in (("n", 0), ("k", 0), ("s", 0), ("d", 0), ("p", -1), ("op", -1), ("n", -5),
                     ("s", -1000)):
        cfg = config("torch", 4, 3, 2, 1)                                    # below the minimum
        cfg[key] = str(low)
        cfg["kind"] = {"below the minimum"}
        out.append(cfg)
    for key, big in (("n", 65), ("k", 17), ("s", 99), ("p", 65), ("op", 17),
                     ("n", 10 ** 20), ("d", -10 ** 20)):                     # beyond the explorer
        cfg = config("torch", 4, 3, 2, 1)
        cfg[key] = str(big)
        cfg["kind"] = {"beyond the explorer's range"}
        out.append(cfg)
    for fw, p, op in (("torch", (1, 0), (1, 0)), ("keras", "same", None), ("keras", "valid", (1, 0)),
                      ("torch", (2, 1), (0, 0))):                            # 2-D, unequal dims
        add(fw, (6, 4), (3, 2), (2, 3), p, op, dim=2, kind={"2-D, unequal dimensions"})
    add("torch", (6, 4), (3, 2), (2, 3), (1, 1), (0, 5), dim=2, kind={"2-D, one dimension refused"})
    add("torch", (0, 4), 3, 2, 1, dim=2, kind={"2-D, one dimension refused"})
    add("torch", 30, 3, 2, 1, 1, dim=2, kind={"2-D, too large to draw"})
    add("keras", (64, 2), 3, 2, "same", dim=2, kind={"2-D, too large to draw"})
    add("torch", "1,2,3", 3, 2, 1, dim=2, kind={"not an integer"})
    add("keras", 4, 3, 2, "same", "none", kind={"not an integer"})           # None is not typed
    add("keras", (4, 6), 3, 2, "valid", "1%2C0", dim=2, kind={"comma inside one box"})
    add("torch", 5, 3, 2, "1", "%2C", kind={"comma inside one box"})
    for s, d, p, op in ((1, 3, 0, 2), (1, 3, 1, 2), (1, 2, 0, 1), (2, 4, 1, 3)):  # op >= stride
        add("torch", 4, 3, s, p, op, d=d, kind={"output_padding >= stride"})
    for n, k, s in ((5, 2, 3), (4, 3, 2), (7, 1, 4)):                       # 'same' rounds up
        add("keras", n, k, s, "same", kind={"'same' rounds up"})
    for k, s in ((5, 2), (3, 1), (2, 4), (4, 3)):                            # TF's n = 1 exception
        add("keras", 1, k, s, "valid", kind={"n = 1, 'valid'"})
    add("torch", 4, 3, 2, 1, 1, d=str(-10 ** 30), kind={"below the minimum"})
    add("torch", "%D9%A4", 3, 2, 1, kind={"not an integer"})                # an Arabic-Indic 4
    return out


def random_configs(count, seed=15):
    """Seeded random configurations across both frameworks, 1-D and 2-D, mostly legal."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        dim = rng.choice((1, 1, 2))
        fw = rng.choice(("torch", "keras"))
        pick = lambda lo, hi: tuple(rng.randint(lo, hi) for _ in range(dim)) if dim == 2 else rng.randint(lo, hi)
        d = pick(1, 3) if rng.random() < 0.3 else 1
        if fw == "torch":
            p, op = pick(0, 3), pick(0, 3)
        else:
            p = rng.choice(("valid", "same"))
            op = None if rng.random() < 0.5 else pick(0, 3)  # None: Keras' default
        out.append(config(fw, pick(1, 8), pick(1, 7), pick(1, 5), p, op, d=d, dim=dim))
    return out


def hash_of(cfg, keys=("fw", "dim") + KEYS):
    """The address of `cfg`; its texts are written as given (a test writes %2C for a comma that
    belongs inside one box)."""
    return "#" + "&".join(f"{key}={urllib.parse.quote(cfg[key], safe=',%')}" for key in keys
                          if cfg.get(key) is not None)


def per_dim(cfg):
    """The text of each argument, one dict per dimension: in 2-D, a value with exactly one comma
    gives height and width, any other text applies to both; %2C is a comma inside one box."""
    dim = 2 if cfg["dim"] == "2" else 1
    split = lambda raw: ([urllib.parse.unquote(v) for v in raw.split(",")]
                         if raw.count(",") == dim - 1 else [urllib.parse.unquote(raw)] * dim)
    cols = {key: split(cfg[key]) for key in KEYS if cfg[key] is not None}
    cols["op"] = cols.get("op", [None] * dim)  # Keras' default
    if cfg["fw"] == "keras":
        cols["p"] = [urllib.parse.unquote(cfg["p"])] * dim  # one Keras padding for every dimension
    return [{key: cols[key][i] for key in KEYS} for i in range(dim)]


def config_from_link(fragment):
    """The configuration of an address written as the widget writes it: the keys it leaves out
    are d=1, 1-D, Keras' default output_padding (PyTorch's 0), and the framework its padding
    names ('valid'/'same': Keras)."""
    q = dict(urllib.parse.parse_qsl(fragment, keep_blank_values=True))
    fw = q.get("fw") or ("keras" if q["p"].lower() in shapes.PADDING_MODES else "torch")
    return {"fw": fw, "dim": q.get("dim", "1"), "n": q["n"], "k": q["k"], "s": q["s"],
            "d": q.get("d", "1"), "p": q["p"], "op": q.get("op", None if fw == "keras" else "0"),
            "kind": set()}


def typed(raw):
    """A field's text as the widget reads it: an integer when it is one, else the text itself."""
    return int(raw) if INT.fullmatch(raw) else raw


# --------------------------------------------------------------------------------------------
# What the library says, in the widget's data- attribute formats.
# --------------------------------------------------------------------------------------------

def as_shown(message):
    """A library message as the widget shows it: without Python's type name, since what the
    reader typed is always text ("n must be an integer, got '4.0'")."""
    return re.sub(r" \(str\)$", "", message)


def attempt(fn, fmt=str):
    try:
        return fmt(fn())
    except (ValueError, TypeError) as err:
        return "error:" + as_shown(str(err))


def window_text(w):
    return f"{w[0]},{w[1]}"


def args_text(a):
    op = "none" if a.output_padding is None else a.output_padding
    return f"{a.padding},{op},{a.crop_before},{a.crop_after}"


def explorer_limit(cfg, ceilings):
    """The explorer's own range rule (not the library's): the first value above it, or ''."""
    for args in per_dim(cfg):
        for key in KEYS:
            if (key == "p" and cfg["fw"] == "keras") or args[key] is None:
                continue
            if INT.fullmatch(args[key]) and int(args[key]) > ceilings[key]:
                return (f"{NAMES[key]} must be at most {ceilings[key]} in the explorer, got "
                        f"{int(args[key])}")
    return ""


def crop_words(a):
    """How the widget words the crop that follows an equivalent layer."""
    return "exact, no crop" if a.exact else f"then crop {a.crop_before} before and {a.crop_after} after"


def strip_marks(width, full, window, crop=(0, 0)):
    """The marks of one window strip: k kept, p appended zero (kept), t cut by the crop after the
    layer, c cropped by the layer, . nothing."""
    if window is None:
        return "." * width
    start, size = window
    marks = ""
    for j in range(width):
        if not start <= j < start + size:
            marks += "c" if j < full else "."
        elif j < start + crop[0] or j >= start + size - crop[1]:
            marks += "t"
        else:
            marks += "p" if j >= full else "k"
    return marks


def library_values(cfg, ceilings, max_cells):
    """What the widget should display for `cfg`, computed with tconv_utils: the data- values of
    its fields, its grids and windows; the words some fields must contain; the marks of its
    window strips and 2-D grid; the many-to-one size it marks as this configuration."""
    want = {"fields": {}, "grids": {}, "windows": {}, "texts": {}, "marks": {}, "current": {}}
    limit = explorer_limit(cfg, ceilings)
    if limit:
        want["fields"] = {"all:error": limit}
        want["texts"] = {"all:error": [limit]}
        return want
    torch = cfg["fw"] == "torch"
    fields, grids, windows, texts = want["fields"], want["grids"], want["windows"], want["texts"]
    dims = []
    for i, raw in enumerate(per_dim(cfg)):
        n, k, s, d = (typed(raw[key]) for key in "nksd")
        p = typed(raw["p"]) if torch else raw["p"]
        op = None if raw["op"] is None else typed(raw["op"])
        f, t = {}, {}
        base = attempt(lambda: shapes.full_size(n, k, s, d))
        if torch:
            window = attempt(lambda: shapes.torch_window(n, k, s, p, op, d), window_text)
        else:
            window = attempt(lambda: (shapes.keras_refusal(s, d),
                                      shapes.keras_placement(n, k, s, p, op, d))[1], window_text)
        f["error"] = (base[6:] if base.startswith("error:")
                      else window[6:] if window.startswith("error:") else "")
        if f["error"]:
            t["error"] = [f["error"]]
        ok_window = None if window.startswith("error:") else tuple(map(int, window.split(",")))
        D = dict(n=n, k=k, s=s, d=d, p=p, op=op, ok=not base.startswith("error:"),
                 window=ok_window, equiv_window=None, crop=(0, 0))
        dims.append(D)
        if base.startswith("error:"):
            fields.update({f"{i}:{key}": v for key, v in f.items()})
            texts.update({f"{i}:{key}": v for key, v in t.items()})
            continue
        f["full"] = base
        inner = checkerboard.interior_slice(n, k, s, d)
        f["interior"] = f"{inner.start}:{inner.stop}"
        f["pattern"] = ",".join(map(str, checkerboard.interior_overlap(k, s, d)))
        f["even"] = "yes" if checkerboard.even_overlap(k, s, d) else "no"
        choices = attempt(lambda: shapes.output_padding_choices(n, k, s, p, d), lambda c: c)
        f["choices"] = choices if isinstance(choices, str) else " ".join(
            f"{size}:{'none' if o is None else o}" for size, o in choices.items())
        if choices and not isinstance(choices, str):
            size = ok_window[1] if ok_window else None
            want["current"][f"{i}:choices"] = [size] if size in choices else []
            if ok_window and size not in choices:
                f["outside"] = str(shapes.conv_output_size(size, k, s, p, d))
        if ok_window:
            start, size = ok_window
            t[f"{'torch' if torch else 'keras'}-window"] = [f"full cells {start} to {start + size - 1}"]
        if torch:
            f["torch-window"] = window
            found = attempt(lambda: shapes.keras_args_for_torch(n, k, s, p, op, d), lambda a: a)
            if isinstance(found, str):
                f["keras-equiv"] = found
            elif found is None:
                reason = shapes.no_keras_equivalent_reason(n, k, s, p, op, d)
                f["keras-equiv"] = "none"
                t["keras-equiv"] = [f"none: {reason}"]
            else:
                f["keras-equiv"] = args_text(found)
                t["keras-equiv"] = [crop_words(found)]
                other = shapes.keras_placement(n, k, s, found.padding, found.output_padding, d)
                f["keras-equiv-size"] = str(other[1])
                D["equiv_window"], D["crop"] = other, (found.crop_before, found.crop_after)
            pairs = porting.keras_expressible_pairs(k, s, d)
            f["keras-pairs"] = " ".join(f"{a}:{b}" for a, b in pairs)
            if ok_window:
                if (p, op) in pairs:
                    f["keras-layer"], t["keras-layer"] = "yes", ["is one of them"]
                elif found is not None:
                    f["keras-layer"], t["keras-layer"] = "crop", ["needs a crop"]
                else:
                    f["keras-layer"] = "none"
                    t["keras-layer"] = [f"cannot be ported to Keras: {reason}"]
                windows[f"{i}:window-torch"] = window
            if D["equiv_window"]:
                windows[f"{i}:window-keras"] = window_text(D["equiv_window"])
        else:
            f["keras-window"] = window
            found = attempt(lambda: shapes.torch_args_for_keras(n, k, s, p, op, d), lambda a: a)
            f["torch-equiv"] = found if isinstance(found, str) else args_text(found)
            if not isinstance(found, str):
                t["torch-equiv"] = [crop_words(found)]
                other = shapes.torch_window(n, k, s, found.padding, found.output_padding, d)
                f["torch-equiv-size"] = str(other[1])
                windows[f"{i}:window-torch"] = window_text(other)
                D["equiv_window"], D["crop"] = other, (found.crop_before, found.crop_after)
            module = attempt(lambda: porting.keras_crop_as_torch(k, s, p, op, d), lambda a: a)
            f["torch-module"] = module if isinstance(module, str) else args_text(module)
            if isinstance(module, str):
                t["torch-module"] = [module[6:]]
            f["tf-shapes"] = attempt(lambda: shapes.tf_output_shapes(n, k, s, p, d),
                                     lambda v: ",".join(map(str, v)))
            # tf_output_shapes' docstring: for n = 1 with 'valid', TensorFlow's oneDNN kernels
            # also accept the sizes strictly between max(k - stride, 0) and k.
            extent = shapes.effective_kernel(k, d)
            low = max(extent - s, 0)
            if (n == 1 and str(p).lower() == "valid" and not f["tf-shapes"].startswith("error:")
                    and extent - low > 1):
                f["tf-onednn"] = f"{low}:{extent}"
            if ok_window:
                windows[f"{i}:window-keras"] = window
        fields.update({f"{i}:{key}": v for key, v in f.items()})
        texts.update({f"{i}:{key}": v for key, v in t.items()})

    if not all(D["ok"] for D in dims):  # nothing is drawn until every dimension is valid
        want["fields"] = {key: v for key, v in fields.items() if key.endswith(":error")}
        want["texts"] = {key: v for key, v in texts.items() if key.endswith(":error")}
        want["current"] = {}
        want["windows"] = {}
        return want
    ns, ks, ss, ds = ([D[key] for D in dims] for key in "nksd")
    counts = checkerboard.overlap_counts(ns, ks, ss, ds)
    two = len(dims) == 2
    if two and counts.size > max_cells:
        want["windows"] = {}
        return want
    grids["all:scatter"] = counts.reshape(-1 if two else 1, counts.shape[-1])
    grids["all:scatter-input"] = np.ones((ns[0], ns[1]) if two else (1, ns[0]), dtype=int)
    if not two:
        D = dims[0]
        grids["0:overlap"] = counts
        if D["window"] is not None:
            grids["0:output"] = output_of_ones(dims, torch)
        full = counts.size
        width = max([full] + [w[0] + w[1] for w in (D["window"], D["equiv_window"]) if w])
        mine, theirs = ("torch", "keras") if torch else ("keras", "torch")
        want["marks"][f"0:window-{mine}"] = strip_marks(width, full, D["window"])
        want["marks"][f"0:window-{theirs}"] = strip_marks(width, full, D["equiv_window"], D["crop"])
    else:
        grids["all:overlap2d"] = counts
        lengths = [checkerboard.min_interior_n(k, s, d) for k, s, d in zip(ks, ss, ds)]
        inner = [checkerboard.interior_slice(m, k, s, d) for m, k, s, d in zip(lengths, ks, ss, ds)]
        period = checkerboard.overlap_counts(lengths, ks, ss, ds)[inner[0], inner[1]]
        grids["all:pattern2d"] = period[:ss[0], :ss[1]]
        if all(D["window"] is not None for D in dims):
            grids["all:output2d"] = output_of_ones(dims, torch)
            (a, h), (b, w) = dims[0]["window"], dims[1]["window"]
            want["marks"]["all:overlap2d"] = "".join(
                "k" if a <= i < a + h and b <= j < b + w else "c"
                for i in range(counts.shape[0]) for j in range(counts.shape[1]))
        else:  # a dimension without a window: no cell is marked kept or cropped
            want["marks"]["all:overlap2d"] = "." * counts.size
        want["windows"] = {}  # 2-D marks the kept window inside the overlap grid, not as strips
    return want


def output_of_ones(dims, torch):
    """The transposed convolution of an input of ones with a kernel of ones (library's reference)."""
    ns = [D["n"] for D in dims]
    ks = [D["k"] for D in dims]
    x = np.ones((1, 1, *ns))
    w = np.ones((1, 1, *ks))
    kwargs = dict(stride=[D["s"] for D in dims], dilation=[D["d"] for D in dims])
    if torch:
        y = reference.conv_transpose(x, w, padding=[D["p"] for D in dims],
                                     output_padding=[D["op"] for D in dims], **kwargs)
    else:
        ops = [D["op"] for D in dims]
        y = reference.conv_transpose(x, w, padding=dims[0]["p"].lower(),
                                     output_padding=None if ops[0] is None else ops, **kwargs)
    return np.rint(y[0, 0]).astype(int)


# --------------------------------------------------------------------------------------------
# The page, and reading it.
# --------------------------------------------------------------------------------------------

# Reads every displayed value of the widget in one call. Also returns the cells whose shown text
# is not their data-v, and any NaN/undefined text, which must never appear.
COLLECT = """(root) => {
  const r = {fields: {}, texts: {}, formulas: {}, current: {}, grids: {}, windows: {}, marks: {},
             bad: [], state: root.dataset.state, fw: root.dataset.framework, dims: root.dataset.dims};
  for (const e of root.querySelectorAll('[data-field]')) {
    const key = e.dataset.dim + ':' + e.dataset.field;
    r.fields[key] = e.dataset.value;
    r.texts[key] = e.textContent;
    const f = e.querySelector('[data-formula]');
    if (f) r.formulas[key] = f.textContent;
    if (e.dataset.field === 'choices' && e.querySelector('li'))
      r.current[key] = [...e.querySelectorAll('li[aria-current=true]')].map(li => li.textContent);
  }
  const mark = (c) => { const l = c.classList; return l.contains('tx-trim') ? 't' : l.contains('tx-pad') ? 'p'
    : l.contains('tx-kept') ? 'k' : l.contains('tx-crop') ? 'c' : '.'; };
  for (const g of root.querySelectorAll('[data-grid^=window-], [data-grid=overlap2d]'))
    r.marks[g.dataset.dim + ':' + g.dataset.grid] = [...g.children].map(mark).join('');
  for (const g of root.querySelectorAll('[data-grid]')) {
    if (g.dataset.window) r.windows[g.dataset.dim + ':' + g.dataset.grid] = g.dataset.window;
    if (g.dataset.grid.startsWith('window-')) continue;  // strips without values: their window is above
    const cells = [...g.querySelectorAll('[data-v]')];
    for (const c of cells) if (c.textContent !== c.dataset.v) r.bad.push(g.dataset.grid + ': ' + c.textContent);
    r.grids[g.dataset.dim + ':' + g.dataset.grid] = {shape: g.dataset.shape.split(',').map(Number),
      v: cells.map(c => Number(c.dataset.v))};
  }
  const text = root.textContent;  // not innerText: that would lay the page out for every config
  const odd = text.match(/.{0,40}(NaN|undefined|\\[object).{0,40}/);
  if (odd) r.bad.push('text: ' + odd[0]);
  return r;
}"""

# Sets each address in turn and reads the widget: one call for many configurations. The address
# changes as a link would change it, and the widget hears the same `hashchange` event, but the
# event is sent at once, so that the browser does not lay out and paint the page between two
# configurations (the real, asynchronous event is exercised by test_short_links).
VISIT = """(hashes) => {
  const root = document.getElementById('tconv-explorer');
  const collect = %s;
  return hashes.map(h => {
    const renders = root.dataset.renders;
    history.replaceState(null, '', h);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    if (root.dataset.renders === renders) throw new Error('no render for ' + h);
    return collect(root);
  });
}""" % COLLECT

# The same through the browser's own navigation: the event arrives later, as it does for a reader.
NAVIGATE = """async (hashes) => {
  const root = document.getElementById('tconv-explorer');
  const collect = %s;
  const out = [];
  for (const h of hashes) {
    const done = new Promise(res => root.addEventListener('tconv-explorer-render', res, {once: true}));
    location.hash = h;
    await done;
    out.push(collect(root));
  }
  return out;
}""" % COLLECT


@pytest.fixture(scope="module")
def explorer(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors, requests = [], []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("request", lambda req: requests.append(req.url))
    tab.goto(f"{site_url}/{PAGE}", wait_until="load")
    tab.wait_for_selector("#tconv-explorer[data-renders]")
    yield tab, errors, requests
    context.close()


def ceilings_of(tab):
    return tab.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#tconv-explorer input[data-max]')]
        .map(i => [i.id.split('-')[1], Number(i.dataset.max)]))""")


FORMULA = re.compile(r"[0-9 ()+*,-]|max", re.ASCII)


def evaluate(formula):
    """A formula as the widget prints it ("(4 − 1) · 2 + 1 · (3 − 1) + 1"), evaluated."""
    text = formula.replace("−", "-").replace("·", "*")
    assert not FORMULA.sub("", text), f"not a formula: {formula!r}"
    return eval(text, {"__builtins__": {}, "max": max})  # digits, + - * ( ) and max only


def compare(cfg, seen, ceilings, max_cells):
    """Every mismatch between what the widget shows for `cfg` and what the library says."""
    want = library_values(cfg, ceilings, max_cells)
    fields, grids, windows = want["fields"], want["grids"], want["windows"]
    where = hash_of(cfg)
    problems = [f"{where}: {b}" for b in seen["bad"]]
    for key, words in want["texts"].items():
        text = " ".join(seen["texts"].get(key, "").split())
        problems += [f"{where}: {key} says {text!r}, not {w!r}" for w in words if w not in text]
    for key, formula in seen["formulas"].items():
        value = fields.get(key, "").split(",")[-1]  # "full": the size; windows: "start,size"
        if str(evaluate(formula)) != value:
            problems.append(f"{where}: {key}: {formula} is not {value}")
    if seen["marks"] != want["marks"]:
        problems.append(f"{where}: marks {seen['marks']}, library {want['marks']}")
    current = {key: [int(re.match(r"size (\d+)", li).group(1)) for li in lis
                     if "(this configuration)" in li] for key, lis in seen["current"].items()}
    if current != want["current"]:
        problems.append(f"{where}: marked as this configuration {current}, library {want['current']}")
    if seen["fields"] != fields:
        keys = sorted(set(seen["fields"]) | set(fields))
        problems += [f"{where}: {key}: widget {seen['fields'].get(key)!r}, library {fields.get(key)!r}"
                     for key in keys if seen["fields"].get(key) != fields.get(key)]
    if set(seen["grids"]) != set(grids):
        problems.append(f"{where}: grids {sorted(seen['grids'])}, expected {sorted(grids)}")
    for name, want in grids.items():
        got = seen["grids"].get(name)
        if got is not None and (got["shape"] != list(want.shape) or got["v"] != want.ravel().tolist()):
            problems.append(f"{where}: grid {name}: widget {got['v']} {got['shape']}, "
                            f"library {want.ravel().tolist()} {list(want.shape)}")
    if seen["windows"] != windows:
        problems.append(f"{where}: windows {seen['windows']}, library {windows}")
    return problems


# --------------------------------------------------------------------------------------------
# The tests.
# --------------------------------------------------------------------------------------------

def test_explorer_matches_the_library(explorer, record_property):
    """>= 300 configurations set through the address; every displayed value equals the library's."""
    tab, errors, requests = explorer
    started = time.perf_counter()
    ceilings = ceilings_of(tab)
    max_cells = int(tab.evaluate("document.getElementById('tconv-explorer').dataset.maxCells"))
    configs = edge_configs() + random_configs(240)
    unique = list({hash_of(c): c for c in configs}.values())
    assert len(unique) >= 300, len(unique)
    browser_started = time.perf_counter()
    seen = tab.evaluate(VISIT, [hash_of(c) for c in unique])  # one call sets and reads them all
    browser_seconds = time.perf_counter() - browser_started
    problems = [p for cfg, s in zip(unique, seen) for p in compare(cfg, s, ceilings, max_cells)]
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:40])

    # Every edge kind is exercised, and the random ones add more of the common kinds.
    kinds = {}
    for cfg in unique:
        for kind in cfg["kind"]:
            kinds[kind] = kinds.get(kind, 0) + 1
    assert len(kinds) >= 15, sorted(kinds)
    assert all(count >= 1 for count in kinds.values())
    shown_errors = sum(1 for s in seen for key, v in s["fields"].items() if key.endswith(":error") and v)
    assert shown_errors >= 60, shown_errors  # the refusals really were refusals
    frameworks = {s["fw"] for s in seen}
    assert frameworks == {"torch", "keras"} and {s["dims"] for s in seen} == {"1", "2"}
    assert not [e for e in errors if KNOWN_PAGE_ERROR not in e], errors
    origin = urllib.parse.urlparse(tab.url).netloc
    assert all(urllib.parse.urlparse(u).netloc == origin for u in requests), "a request left the site"
    record_property("configurations", len(unique))
    record_property("edge_kinds", len(kinds))
    record_property("seconds", round(time.perf_counter() - started, 1))
    print(f"explorer: {len(unique)} configurations, {len(kinds)} edge kinds, "
          f"{time.perf_counter() - started:.1f} s ({browser_seconds:.1f} s in the browser)")


def test_short_links(explorer):
    """A short link (`#n=4&k=3&s=2&p=same`) means Keras with its default output_padding; it is
    followed as a reader's browser follows it."""
    tab, _, _ = explorer
    ceilings = ceilings_of(tab)
    cases = [("#n=4&k=3&s=2&p=same", config("keras", 4, 3, 2, "same")),
             ("#n=4&k=3&s=2&p=1", config("torch", 4, 3, 2, 1, 0)),
             ("#n=5&k=2&s=3&p=valid&op=1", config("keras", 5, 2, 3, "valid", 1)),
             ("#n=6,4&k=3&s=2&p=1&op=1,0&dim=2", config("torch", (6, 4), 3, 2, 1, (1, 0), dim=2))]
    seen = tab.evaluate(NAVIGATE, [h for h, _ in cases])
    for (h, cfg), s in zip(cases, seen):
        assert compare(cfg, s, ceilings, 2500) == [], h
        assert s["state"] == h  # the widget's own link for it is the same short text
    # A heading's anchor (the page's table of contents) leaves the configuration as it was.
    tab.evaluate("location.hash = '#how-to-read-it'")
    tab.wait_for_function("location.hash === '#how-to-read-it'")
    tab.evaluate("new Promise(r => setTimeout(r, 50))")
    assert tab.evaluate(COLLECT.join(("(", ")(document.getElementById('tconv-explorer'))"))) == seen[-1]


def test_links_into_the_explorer(explorer, built_site):
    """Every link to the Explorer on any page of the book, and every example on the Explorer page,
    opens the Explorer, is written as the Explorer writes its own links, and shows the library's
    values. Chapters link with inline HTML, which MyST passes through unchecked:
    <a href="../book/explorer.html#n=4&amp;k=3&amp;s=2&amp;p=same">...</a>."""
    tab, _, _ = explorer
    ceilings = ceilings_of(tab)
    explorer_page = (built_site / PAGE).resolve()
    fragments = []
    for page in sorted(built_site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for href in map(html.unescape, re.findall(r'href="([^"#]*explorer\.html#[^"]+)"', text)):
            path, fragment = href.split("#", 1)
            assert (page.parent / path).resolve() == explorer_page, f"{page}: {href} is not the Explorer"
            fragments.append(fragment)
    examples = re.findall(r'href="#(n=[^"]+)"', explorer_page.read_text(encoding="utf-8"))
    assert len(examples) >= 5
    fragments += [html.unescape(e) for e in examples]
    seen = tab.evaluate(VISIT, ["#" + f for f in fragments])
    for fragment, s in zip(fragments, seen):
        assert s["state"] == "#" + fragment, f"write the link as the Explorer does: {s['state']}"
        assert compare(config_from_link(fragment), s, ceilings, 2500) == [], fragment


def test_controls_drive_the_widget_and_the_address(explorer, site_url):
    """Typing in the controls gives the library's values, and the address they write reloads them."""
    tab, errors, _ = explorer
    ceilings = ceilings_of(tab)
    configs = random_configs(8, seed=150) + [config("torch", 4, 3, 2, "2.5"), config("keras", 4, 4, 2, "same", 0),
                                             config("torch", ("4%2C5", 6), 3, 2, 1, dim=2)]
    set_controls = """([configs, collect]) => configs.map(cfg => {
      const root = document.getElementById('tconv-explorer');
      const q = (s) => root.querySelector(s);
      const fire = (e, type) => e.dispatchEvent(new Event(type, {bubbles: true}));
      q(`input[name=tx-dim][value="${cfg.dim}"]`).click();
      q(`input[name=tx-fw][value="${cfg.fw}"]`).click();
      const dims = Number(cfg.dim);
      if (cfg.fw === 'keras') {  // output_padding's boxes are blank and disabled while None is ticked
        const none = q('#tx-opnone');
        if (none.checked !== (cfg.op === null)) none.click();
        q('#tx-mode').value = cfg.p; fire(q('#tx-mode'), 'change');
      }
      for (const key of ['n', 'k', 's', 'd', 'p', 'op']) {
        if (cfg.fw === 'keras' && key === 'p') continue;
        if (cfg.fw === 'keras' && key === 'op' && cfg.op === null) continue;
        const vals = (dims === 2 && cfg[key].split(',').length === 2 ? cfg[key].split(',') : [cfg[key], cfg[key]])
          .map(decodeURIComponent);  // %2C: a comma typed inside one box
        for (let i = 0; i < dims; i++) { const box = q(`#tx-${key}-${i}`); box.value = vals[i]; fire(box, 'input'); }
      }
      return [location.hash, eval(collect)(root)];
    })"""
    plain = [{key: v for key, v in cfg.items() if key != "kind"} for cfg in configs]
    results = tab.evaluate(set_controls, [plain, COLLECT])  # one call types them all
    for cfg, (address, seen) in zip(configs, results):
        assert compare(cfg, seen, ceilings, 2500) == [], (cfg, seen["fields"])
    # The address the controls wrote shows the same thing when the page is opened with it.
    tab.goto(f"{site_url}/{PAGE}{results[0][0]}")
    tab.wait_for_selector("#tconv-explorer[data-renders]")
    again = [tab.evaluate(COLLECT.join(("(", ")(document.getElementById('tconv-explorer'))")))]
    again += tab.evaluate(VISIT, [address for address, _ in results[1:]])
    for (address, seen), other in zip(results, again):
        assert other["fields"] == seen["fields"] and other["grids"] == seen["grids"], address
    # A comma typed inside one box of a 2-D field comes back inside that box.
    assert results[-1][0].startswith("#n=4%2C5,6&"), results[-1][0]
    assert tab.evaluate("[document.querySelector('#tx-n-0').value, document.querySelector('#tx-n-1').value]") \
        == ["4,5", "6"]
    assert not [e for e in errors if KNOWN_PAGE_ERROR not in e], errors


SWITCH = """async ([h, fws]) => {
  const root = document.getElementById('tconv-explorer');
  const done = new Promise(res => root.addEventListener('tconv-explorer-render', res, {once: true}));
  location.hash = h; await done;
  const read = () => {
    const note = root.querySelector('[data-field=switch]');
    return {state: root.dataset.state, kind: note && note.dataset.value, note: note && note.textContent,
            output: [...root.querySelectorAll('[data-grid=output] [data-v]')].map(c => Number(c.dataset.v))};
  };
  const seen = [read()];
  for (const fw of fws) { root.querySelector(`input[name=tx-fw][value=${fw}]`).click(); seen.push(read()); }
  return seen;
}"""


def expected_switch(cfg):
    """What switching `cfg` (1-D) to the other framework shows, by the library: the kind of
    equivalent, the words its note must contain, and the crop that turns the new output into
    the old one."""
    n, k, s, d, p, op = (typed(cfg[key]) if cfg[key] is not None else None
                         for key in ("n", "k", "s", "d", "p", "op"))
    try:
        if cfg["fw"] == "torch":
            found = shapes.keras_args_for_torch(n, k, s, p, op, d)
            if found is None:
                return "none", shapes.no_keras_equivalent_reason(n, k, s, p, op, d), None
        else:
            shapes.keras_refusal(s, d)
            found = shapes.torch_args_for_keras(n, k, s, cfg["p"], op, d)
    except (ValueError, TypeError) as err:
        return "none", as_shown(str(err)), None
    if found.exact:
        return "exact", "exact", (0, 0)
    return "crop", f"crop of {found.crop_before} before and {found.crop_after} after", \
        (found.crop_before, found.crop_after)


def test_switching_framework_shows_the_equivalent_and_comes_back(explorer):
    """The other framework's exact equivalent where one exists (the same output), otherwise the
    nearest with a note of the crop it needs (the same output after that crop), otherwise its
    defaults with the reason; switching back restores the reader's setting exactly."""
    tab, _, _ = explorer
    cases = [config("torch", n, k, s, p, op, d=d) for n, k, s, d, p, op in (
        (4, 3, 2, 1, 1, 1), (4, 3, 2, 1, 1, 0), (4, 4, 2, 1, 1, 0), (5, 2, 3, 1, 0, 2),
        (3, 2, 3, 1, 0, 1), (4, 5, 1, 1, 2, 0), (6, 3, 3, 1, 1, 2), (4, 3, 1, 3, 0, 2),
        (4, 3, 2, 2, 1, 0), (4, 3, 2, 1, 1, 5), (4, 3, 2, 1, 4, 0))]
    cases += [config("keras", n, k, s, p, op, d=d) for n, k, s, d, p, op in (
        (4, 3, 2, 1, "same", None), (4, 4, 2, 1, "same", None), (5, 2, 3, 1, "same", None),
        (4, 3, 2, 1, "valid", 1), (4, 3, 1, 2, "same", None), (3, 4, 2, 1, "same", 0),
        (4, 3, 2, 2, "valid", None))]
    kinds = set()
    for cfg in cases:
        other = "keras" if cfg["fw"] == "torch" else "torch"
        h = hash_of(cfg, KEYS)
        before, after, back = tab.evaluate(SWITCH, [h, [other, cfg["fw"]]])
        kind, words, crop = expected_switch(cfg)
        kinds.add(kind)
        assert after["kind"] == kind and words in after["note"], (h, after)
        if crop is not None:
            cut = after["output"][crop[0]:len(after["output"]) - crop[1]]
            assert cut == before["output"], (h, after)
        else:  # the other framework's defaults, the sizes carried over
            defaults = "p=valid" if other == "keras" else "p=0"
            assert after["state"] == before["state"].split("&p=")[0] + "&" + defaults, (h, after)
        assert back["kind"] == "back" and back["state"] == before["state"], (h, back)
    assert kinds == {"exact", "crop", "none"}

    # 2-D, and a change made after the switch: then switching back carries the new setting over.
    before, after, back = tab.evaluate(SWITCH, ["#n=4,6&k=3&s=2&p=1&op=1&dim=2", ["keras", "torch"]])
    assert after["kind"] == "crop" and "height: 1 before and 0 after; width: 1 before" in after["note"]
    assert back["state"] == before["state"] == "#n=4,6&k=3&s=2&p=1&op=1&dim=2"
    tab.evaluate("""() => { const root = document.getElementById('tconv-explorer');
      root.querySelector('input[name=tx-fw][value=keras]').click();
      const box = root.querySelector('#tx-n-0'); box.value = '5';
      box.dispatchEvent(new Event('input', {bubbles: true}));
      root.querySelector('input[name=tx-fw][value=torch]').click(); }""")
    assert tab.evaluate("document.getElementById('tconv-explorer').dataset.state") \
        == "#n=5,6&k=3&s=2&p=0&dim=2"  # Keras 'valid' is exactly PyTorch's padding 0

    # The arrow keys move through the radio group, switching at each step, and back.
    tab.evaluate(SWITCH, ["#n=4&k=3&s=2&p=1&op=1", []])
    tab.focus("input[name=tx-fw][value=torch]")
    tab.keyboard.press("ArrowRight")
    assert tab.evaluate("document.getElementById('tconv-explorer').dataset.state") == "#n=4&k=3&s=2&p=valid"
    tab.keyboard.press("ArrowLeft")
    assert tab.evaluate("location.hash") == "#n=4&k=3&s=2&p=1&op=1"


def test_addresses_reopen_as_they_were(explorer):
    """The address the widget writes for a configuration reopens it with the same controls and
    values, whatever was typed: Keras' default output_padding has no op (its boxes blank and
    disabled), a typed 'none' is text, a Keras padding that is neither 'valid' nor 'same' shows
    in the select, marked invalid."""
    tab, _, _ = explorer
    controls = """() => [...document.querySelectorAll('#tconv-explorer input, #tconv-explorer select')]
      .filter(e => !e.hidden && e.offsetParent !== null)
      .map(e => `${e.id || e.name}=${e.type === 'radio' || e.type === 'checkbox' ? e.checked : e.value}`
                + (e.disabled ? ' disabled' : '') + (e.getAttribute('aria-invalid') ? ' invalid' : ''))"""
    addresses = ["#fw=keras", "#n=4&k=3&s=2&p=same&op=none", "#n=4&k=3&s=2&p=same&op=0",
                 "#n=4%2C5,4&k=3&s=2&p=1&dim=2", "#n=4&k=3&s=2&p=1&fw=keras", "#n=4&k=3&s=2&p=SAME",
                 "#n=6,4&k=3&s=2&p=same&op=1,2&dim=2", "#n=4&k=3&s=2&p=%20&op=%2C"]
    for address in addresses:
        first = tab.evaluate(VISIT, [address])[0]
        seen = tab.evaluate(controls)
        again = tab.evaluate(VISIT, [first["state"]])[0]
        assert again["state"] == first["state"] and again["fields"] == first["fields"], address
        assert tab.evaluate(controls) == seen, address
    tab.evaluate(VISIT, ["#fw=keras"])
    assert tab.evaluate(controls)[-3:] == ["tx-mode=valid", "tx-op-0= disabled", "tx-opnone=true"]
    tab.evaluate(VISIT, ["#n=4&k=3&s=2&p=1&fw=keras"])
    assert "tx-mode=1 invalid" in tab.evaluate(controls)
    assert tab.inner_text("#tx-mode option:checked") == "'1' (not a Keras padding)"
    state = tab.evaluate(VISIT, ["#n=4&k=3&s=2&p=same&op=none"])[0]["state"]
    assert state == "#n=4&k=3&s=2&p=same&op=none"


def test_scatter_step_by_step(explorer):
    """Each step adds one input cell's kernel copy: the running sum is the library's transposed
    convolution of the cells scattered so far, and the outlined cells are the last one's copy."""
    tab, _, _ = explorer
    steps = """async (h) => {
      const root = document.getElementById('tconv-explorer');
      const done = new Promise(res => root.addEventListener('tconv-explorer-render', res, {once: true}));
      location.hash = h; await done;
      const click = (a) => root.querySelector(`[data-action=${a}]`).click();
      const read = () => { const g = root.querySelector('[data-grid=scatter]');
        const cells = [...g.querySelectorAll('[data-v]')];
        return {step: Number(g.dataset.step), v: cells.map(c => Number(c.dataset.v)),
                copy: cells.map(c => c.classList.contains('tx-copy')),
                off: ['start', 'back', 'step', 'all'].filter(a =>
                  root.querySelector(`[data-action=${a}]`).hasAttribute('aria-disabled')).join(' ')}; };
      click('start');
      const out = [read()];
      const total = Number(root.querySelector('[data-grid=scatter]').dataset.steps);
      for (let t = 0; t < total; t++) { click('step'); out.push(read()); }
      click('step'); out.push(read());  // at the end Step does nothing
      click('back'); out.push(read());
      click('all'); out.push(read());
      click('step'); out.push(read());  // nor from "All at once"
      return out;
    }"""
    for n, k, s, d in (((4,), (3,), (2,), (1,)), ((5,), (2,), (3,), (1,)), ((3,), (2,), (1,), (3,)),
                       ((3, 2), (3, 2), (2, 3), (1, 1)), ((2, 3), (2, 3), (1, 2), (2, 1))):
        two = len(n) == 2
        h = "#" + "&".join(f"{key}={','.join(map(str, v))}" for key, v in zip("nksd", (n, k, s, d)))
        h += "&p=0&fw=torch" + ("&dim=2" if two else "")
        seen = tab.evaluate(steps, h)
        cells = int(np.prod(n))
        kernel = np.ones((1, 1, *k))
        run = lambda x: np.rint(reference.conv_transpose(x.reshape(1, 1, *n), kernel, stride=list(s),
                                                         dilation=list(d))).astype(int).ravel().tolist()
        for t in range(cells + 1):
            mask = (np.arange(cells) < t).astype(float)
            assert seen[t]["step"] == t and seen[t]["v"] == run(mask), (h, t)
            onehot = (np.arange(cells) == t - 1).astype(float)
            copy = [v > 0 for v in run(onehot)] if t else [False] * len(seen[t]["v"])
            assert seen[t]["copy"] == copy, (h, t)
            assert seen[t]["off"] == ("start back" if t == 0 else "step" if t == cells else ""), (h, t)
        assert seen[cells + 1]["step"] == cells and seen[cells + 1]["copy"] == seen[cells]["copy"]
        assert seen[cells + 2]["step"] == cells - 1
        full = checkerboard.overlap_counts(list(n), list(k), list(s), list(d)).ravel().tolist()
        for last in seen[-2:]:
            assert last["v"] == full and not any(last["copy"]) and last["off"] == "step all"
    # A 2-D output too large to draw has no scatter to play, and says where its counts are.
    tab.evaluate(VISIT, ["#n=30&k=3&s=2&p=1&op=1&dim=2"])
    assert tab.locator("#tconv-explorer [data-action]").count() == 0
    assert "interior pattern along each dimension is listed below" in tab.inner_text("#tx-s1 + *")


def test_play_advances_and_pauses(explorer):
    tab, _, _ = explorer
    tab.evaluate("location.hash = '#n=3&k=2&s=2&p=0&play'")
    tab.wait_for_function("document.getElementById('tconv-explorer').dataset.state.startsWith('#n=3&k=2')")
    tab.click("[data-action=play]")
    assert tab.inner_text("[data-action=play]") == "Pause"
    tab.wait_for_function("document.querySelector('[data-grid=scatter]').dataset.step === '1'", timeout=5000)
    tab.click("[data-action=play]")
    assert tab.inner_text("[data-action=play]") == "Play"


def test_keyboard_only(explorer):
    """Every control is reachable with Tab; arrow keys step a size; the result follows."""
    tab, _, _ = explorer
    tab.evaluate("location.hash = '#n=4&k=3&s=2&p=1&op=1&kbd'")
    tab.wait_for_function("document.getElementById('tconv-explorer').dataset.state === '#n=4&k=3&s=2&p=1&op=1'")
    tab.focus("#tx-n-0")
    tab.keyboard.press("ArrowUp")
    assert tab.input_value("#tx-n-0") == "5"
    size = tab.get_attribute("[data-field=torch-window]", "data-value")
    assert size == ",".join(map(str, shapes.torch_window(5, 3, 2, 1, 1, 1)))
    labelled = tab.evaluate("""() => [...document.querySelectorAll(
        '#tconv-explorer input, #tconv-explorer select, #tconv-explorer button')].filter(e => e.offsetParent !== null)
        .every(e => e.labels && e.labels.length || e.getAttribute('aria-labelledby') || e.textContent.trim())""")
    assert labelled
    # Tab from the first radio reaches the scatter's buttons without a mouse.
    tab.focus("input[name=tx-fw]:checked")
    for _ in range(40):
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.dataset.action === 'step'"):
            break
    else:
        raise AssertionError("Tab never reached the Step button")
    tab.keyboard.press("Shift+Tab")
    tab.keyboard.press("Shift+Tab")
    tab.keyboard.press("Shift+Tab")
    assert tab.evaluate("document.activeElement.dataset.action") == "start"
    tab.keyboard.press("Enter")
    assert tab.get_attribute("[data-grid=scatter]", "data-step") == "0"


# Wide configurations: long 1-D and 2-D grids, Keras' controls (its None checkbox), the widest
# texts. Each must fit the column it sits in; the grids scroll inside their own boxes.
WIDE = ["#n=64&k=3&s=2&p=1&op=1", "#n=40&k=3&s=2&p=1&op=1", "#n=8,30&k=3&s=2&p=1&dim=2",
        "#n=4&k=3&s=2&p=same", "#n=6,4&k=3&s=2&p=same&op=1,2&dim=2", "#n=4&k=3&s=1&d=3&p=0&op=2",
        "#n=64&k=16&s=16&p=valid&op=15", "#n=30&k=3&s=2&p=1&op=1&dim=2", "#s=" + "9" * 40]
MEASURE = """() => {
  const root = document.getElementById('tconv-explorer');
  const column = (root.closest('.bd-article') || root.parentElement).getBoundingClientRect();
  const box = root.getBoundingClientRect();
  return {page: document.documentElement.scrollWidth, view: window.innerWidth,
          widget: root.scrollWidth, inside: root.clientWidth, right: box.right, column: column.right,
          scrolls: [...root.querySelectorAll('.tx-scroll')].some(s => s.scrollWidth > s.clientWidth + 1)};
}"""


@pytest.mark.parametrize("width", [375, 1280])
def test_the_page_fits_the_screen(browser, site_url, width):
    """At a phone's width and a desktop's the page does not scroll sideways and the widget stays
    in its column (on a desktop the right sidebar is next to it); wide grids scroll in their box.
    The layout viewport is the window itself: with is_mobile, Chromium would widen it to fit."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    tab = context.new_page()
    tab.goto(f"{site_url}/{PAGE}")
    tab.wait_for_selector("#tconv-explorer[data-renders]")
    problems = []
    for address in WIDE:
        tab.evaluate(VISIT, [address])
        m = tab.evaluate(MEASURE)
        if m["page"] > m["view"] or m["widget"] > m["inside"] + 1 or m["right"] > m["column"] + 1:
            problems.append(f"{address}: {m}")
        if address.startswith(("#n=64&k=3", "#n=40", "#n=8,30")) and not m["scrolls"]:
            problems.append(f"{address}: its grids are wider than the screen and must scroll: {m}")
    context.close()
    assert not problems, "\n".join(problems)


def test_a_link_on_the_page_brings_the_explorer_into_view(explorer):
    """An example link (or any link to a configuration) followed from anywhere on the page
    scrolls the widget into view and puts the keyboard focus on its controls."""
    tab, _, _ = explorer
    in_view = """() => { const r = document.getElementById('tconv-explorer').getBoundingClientRect();
      return r.top >= 0 && r.top <= innerHeight / 2
        && document.getElementById('tconv-explorer').contains(document.activeElement); }"""
    tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    tab.evaluate("location.hash = '#n=5&k=2&s=3&p=same'")
    tab.wait_for_function(in_view, timeout=5000)
    example = 'a[href="#n=4&k=4&s=2&p=1"]'
    tab.focus(example)
    tab.keyboard.press("Enter")
    tab.wait_for_function("document.getElementById('tconv-explorer').dataset.state === '#n=4&k=4&s=2&p=1'")
    tab.wait_for_function(in_view, timeout=5000)


def luminance(rgb):
    def channel(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = map(channel, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# The colours of the marks that carry meaning, from the computed styles of cells that have them.
CUES = """() => {
  const root = document.getElementById('tconv-explorer');
  const style = (sel, prop) => { const e = root.querySelector(sel); return e ? getComputedStyle(e)[prop] : null; };
  return {page: getComputedStyle(document.body).backgroundColor,
          kept: style('[data-grid^=window-] .tx-kept', 'borderTopColor'),
          cropped: style('[data-grid^=window-] .tx-crop', 'borderTopColor'),
          'cropped after the layer': style('[data-grid^=window-] .tx-trim', 'borderTopColor'),
          'appended zero': style('[data-grid^=window-] .tx-pad', 'backgroundImage'),
          interior: style('.tx-in', 'boxShadow'),
          'current copy': style('.tx-copy', 'outlineColor')};
}"""
OPAQUE = re.compile(r"rgb\((\d+), (\d+), (\d+)\)")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_accessibility_scan_and_contrast(browser, site_url, axe, theme):
    """axe-core finds no serious or critical violation, in the theme's light and dark modes; the
    marks for kept, cropped and appended cells, the interior and the current kernel copy have at
    least 3:1 contrast against the page (WCAG 1.4.11, which axe does not check)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # The theme's own switch stores the reader's choice; the theme applies it as the page loads.
    context.add_init_script(f"try {{ localStorage.setItem('mode', '{theme}'); "
                            f"localStorage.setItem('theme', '{theme}'); }} catch (e) {{}}")
    tab = context.new_page()
    found, cues = [], {}
    tab.goto(f"{site_url}/{PAGE}")
    tab.wait_for_selector("#tconv-explorer[data-renders]")
    assert tab.evaluate("document.documentElement.dataset.theme") == theme
    # 1-D PyTorch with appended zeros; a Keras crop after the layer; 2-D Keras with one
    # dimension refused (message and grids); a switch note.
    for address in ("#n=5&k=2&s=3&p=0&op=2", "#n=4&k=3&s=2&p=1&op=1", "#n=6,4&k=3&s=2&p=same&op=1,2&dim=2"):
        tab.evaluate(VISIT, [address])
        tab.click("[data-action=start]")
        tab.click("[data-action=step]")
        if address.startswith("#n=4&"):
            tab.click("input[name=tx-fw][value=keras]")
            tab.click("input[name=tx-fw][value=torch]")
        found += [f"{address}: {v['id']} ({v['impact']}): {len(v['nodes'])} nodes, e.g. "
                  f"{v['nodes'][0]['html'][:120]}"
                  for v in axe(tab) if v["impact"] in ("serious", "critical")]
        cues.update({k: v for k, v in tab.evaluate(CUES).items() if v})
    context.close()
    assert not found, "\n".join(found)
    page = tuple(map(int, OPAQUE.search(cues.pop("page")).groups()))
    assert len(cues) == 6, sorted(cues)
    ratios = {name: round(min(contrast(tuple(map(int, rgb)), page) for rgb in OPAQUE.findall(value)), 2)
              for name, value in cues.items()}
    print(f"contrast against the page ({theme}):", ratios)
    assert all(ratio >= 3 for ratio in ratios.values()), ratios
