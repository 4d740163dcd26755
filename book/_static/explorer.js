/* The transposed-convolution explorer of the book's Explorer page (book/explorer.md).
 *
 * Plain JavaScript, no dependencies, no network. Part 1 ports the rules of tconv_utils (shapes,
 * checkerboard, porting) function by function: same names, same order of checks, same error
 * messages. Part 2 draws them. Every number drawn carries a data- attribute, and
 * tests/test_explorer.py drives the widget through hundreds of configurations and compares them,
 * its verdicts and its marks with the library, so a rule changed there and not here fails.
 */
(function () {
  "use strict";

  // ============================== Part 1: the library's rules ==============================

  class RuleError extends Error {
    constructor(type, message) { super(message); this.type = type; }
  }
  const valueError = (m) => new RuleError("ValueError", m);
  const typeError = (m) => new RuleError("TypeError", m);
  const floorDiv = (a, b) => Math.floor(a / b);
  const ceilDiv = (a, b) => -Math.floor(-a / b);
  const range = (n) => Array.from({ length: Math.max(n, 0) }, (_, i) => i);

  // Values are numbers (integers), strings (anything else the reader typed) or null (None).
  function repr(v) {
    if (v === null) return "None";
    if (typeof v !== "string") return String(v);
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const esc = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    let out = "";
    for (const ch of v) {
      if (esc[ch]) out += esc[ch];
      else if (ch === q) out += "\\" + ch;
      else if (ch < " " || ch === "\x7f") out += "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0");
      else out += ch;
    }
    return q + out + q;
  }
  // _checks.as_int. Python adds the type's name; here the value is always what the reader typed.
  // A BigInt: an integer below Number's range, which every rule refuses as below its minimum.
  function asInt(name, value, minimum) {
    if (typeof value !== "number" && typeof value !== "bigint") {
      throw typeError(`${name} must be an integer, got ${repr(value)}`);
    }
    if (minimum !== undefined && value < minimum) throw valueError(`${name} must be >= ${minimum}, got ${value}`);
    return value;
  }

  const MODES = ["valid", "same"];

  // --- shapes ---
  function effectiveKernel(kernel, dilation) {
    kernel = asInt("kernel", kernel, 1);
    dilation = asInt("dilation", dilation, 1);
    return dilation * (kernel - 1) + 1;
  }

  function fullSize(n, kernel, stride, dilation) {
    n = asInt("n", n, 1);
    stride = asInt("stride", stride, 1);
    return (n - 1) * stride + effectiveKernel(kernel, dilation);
  }

  function torchOutputSize(n, kernel, stride, padding, outputPadding, dilation) {
    stride = asInt("stride", stride, 1);
    dilation = asInt("dilation", dilation, 1);
    padding = asInt("padding", padding, 0);
    outputPadding = asInt("output_padding", outputPadding, 0);
    const limit = Math.max(stride, dilation);
    if (outputPadding >= limit) {
      throw valueError(`output_padding must be smaller than max(stride, dilation) = ${limit}, got ` +
        `output_padding=${outputPadding} with stride=${stride}, dilation=${dilation}`);
    }
    const out = fullSize(n, kernel, stride, dilation) - 2 * padding + outputPadding;
    if (out < 1) {
      throw valueError(`padding=${padding} crops away the whole output (size ${out}) for n=${n}, ` +
        `kernel=${kernel}, stride=${stride}, dilation=${dilation}; padding must leave at least 1`);
    }
    return out;
  }

  function mode(padding) {
    if (typeof padding !== "string") throw typeError(`padding must be 'valid' or 'same', got ${repr(padding)}`);
    const m = padding.toLowerCase();
    if (!MODES.includes(m)) throw valueError(`padding must be 'valid' or 'same', got ${repr(padding)}`);
    return m;
  }

  function kerasOutputSize(n, kernel, stride, padding, outputPadding, dilation) {
    const m = mode(padding);
    n = asInt("n", n, 1);
    stride = asInt("stride", stride, 1);
    const k = effectiveKernel(kernel, dilation);
    if (outputPadding === null) return m === "same" ? n * stride : n * stride + Math.max(k - stride, 0);
    outputPadding = asInt("output_padding", outputPadding, 0);
    if (outputPadding >= stride) {
      throw valueError(`output_padding must be smaller than stride in Keras, got output_padding=` +
        `${outputPadding} with stride=${stride}`);
    }
    const pad = m === "same" ? floorDiv(k, 2) : 0;
    const out = (n - 1) * stride + k - 2 * pad + outputPadding;
    if (out < 1) {
      throw valueError(`output size ${out} < 1 for n=${n}, kernel=${kernel}, stride=${stride}, ` +
        `padding=${repr(padding)}, output_padding=${outputPadding}`);
    }
    return out;
  }

  function kerasPlacement(n, kernel, stride, padding, outputPadding, dilation) {
    const m = mode(padding);
    const size = kerasOutputSize(n, kernel, stride, padding, outputPadding, dilation);
    const k = effectiveKernel(kernel, dilation);
    let start, back;
    if (m === "same") {
      start = floorDiv(Math.max((n - 1) * stride + k - size, 0), 2);
      back = ceilDiv(size, stride);
    } else {
      start = 0;
      back = size >= k ? ceilDiv(size - k + 1, stride) : 0;
    }
    if (back !== n) {
      throw valueError(`output_padding=${repr(outputPadding)} gives output size ${size}, but TensorFlow ` +
        `needs a size whose ${repr(m)} convolution with stride ${stride} gives back n=${n} (it gives ` +
        `${back}); choose another output_padding`);
    }
    return [start, size];
  }

  function numericPadding(padding) {
    const p = asInt("padding", padding, 0);
    return [p, p];
  }

  function convOutputSize(n, kernel, stride, padding, dilation) {
    n = asInt("n", n, 1);
    stride = asInt("stride", stride, 1);
    const k = effectiveKernel(kernel, dilation);
    let before = 0, after = 0;
    if (typeof padding === "string") {
      if (mode(padding) === "same") return ceilDiv(n, stride);
    } else [before, after] = numericPadding(padding);
    const room = n + before + after - k;
    if (room < 0) {
      throw valueError(`the dilated kernel (extent ${k}) is larger than the padded input ` +
        `${n + before + after} (n=${n}, padding=${repr(padding)}): kernel extent ${k} = dilation * ` +
        `(kernel - 1) + 1 must fit in it`);
    }
    return floorDiv(room, stride) + 1;
  }

  function convInputSizes(m, kernel, stride, padding, dilation) {
    m = asInt("m", m, 1);
    stride = asInt("stride", stride, 1);
    const k = effectiveKernel(kernel, dilation);
    let lowest;
    if (typeof padding === "string") {
      lowest = (m - 1) * stride + (mode(padding) === "same" ? 1 : k);
    } else {
      const [before, after] = numericPadding(padding);
      lowest = (m - 1) * stride + k - before - after;
    }
    return range(stride).map((i) => lowest + i).filter((x) => x >= 1);
  }

  // [[size, output_padding or null], ...] in the order of the library's dict
  function outputPaddingChoices(n, kernel, stride, padding, dilation) {
    const k = effectiveKernel(kernel, dilation);
    const sizes = convInputSizes(n, kernel, stride, padding, dilation);
    let crop;
    if (typeof padding === "string") crop = mode(padding) === "same" ? 2 * floorDiv(k, 2) : 0;
    else crop = 2 * numericPadding(padding)[0];
    const base = (n - 1) * stride + k - crop;
    const choices = [];
    for (const size of sizes) {
      const op = size - base;
      if (op >= 0 && op < stride) choices.push([size, op]);
      else if (typeof padding === "string" &&
               size === kerasOutputSize(n, kernel, stride, padding, null, dilation)) choices.push([size, null]);
    }
    return choices;
  }

  function tfOutputShapes(n, kernel, stride, padding, dilation) {
    mode(padding);
    return convInputSizes(n, kernel, stride, padding, dilation);
  }

  function torchWindow(n, kernel, stride, padding, outputPadding, dilation) {
    const size = torchOutputSize(n, kernel, stride, padding, outputPadding, dilation);
    return [padding, size];
  }

  function kerasRefusal(stride, dilation) {
    if (stride > 1 && dilation > 1) {
      throw valueError(`Keras refuses strides > 1 together with dilation_rate > 1, got stride=${stride}, ` +
        `dilation=${dilation}`);
    }
  }

  const torchArgs = (padding, outputPadding, before, after) =>
    ({ padding, output_padding: outputPadding, crop_before: before, crop_after: after });

  function torchArgsForKeras(n, kernel, stride, padding, outputPadding, dilation) {
    stride = asInt("stride", stride, 1);
    dilation = asInt("dilation", dilation, 1);
    kerasRefusal(stride, dilation);
    const [start, size] = kerasPlacement(n, kernel, stride, padding, outputPadding, dilation);
    const full = fullSize(n, kernel, stride, dilation);
    const limit = Math.max(stride, dilation);
    for (let p = start; p >= 0; p--) {
      const op = Math.max(0, start + size + p - full);
      if (op < limit) return torchArgs(p, op, start - p, full - p + op - start - size);
    }
    throw new Error("unreachable: p = 0 always fits");
  }

  function kerasArgsForTorch(n, kernel, stride, padding, outputPadding, dilation) {
    stride = asInt("stride", stride, 1);
    dilation = asInt("dilation", dilation, 1);
    const [tStart, tSize] = torchWindow(n, kernel, stride, padding, outputPadding, dilation);
    if (stride > 1 && dilation > 1) return null;
    let best = null;
    for (const m of MODES) {
      for (const op of [null, ...range(stride)]) {
        let start, size;
        try {
          [start, size] = kerasPlacement(n, kernel, stride, m, op, dilation);
        } catch (e) {
          if (e.type === "ValueError") continue; // TensorFlow refuses this output_padding for this n
          throw e;
        }
        const before = tStart - start, after = start + size - tStart - tSize;
        if (before < 0 || after < 0) continue;
        if (best === null || before + after < best.crop_before + best.crop_after) {
          best = { padding: m, output_padding: op, crop_before: before, crop_after: after };
        }
      }
    }
    return best;
  }

  function noKerasEquivalentReason(n, kernel, stride, padding, outputPadding, dilation) {
    if (kerasArgsForTorch(n, kernel, stride, padding, outputPadding, dilation) !== null) return null;
    if (stride > 1 && dilation > 1) {
      return `Keras refuses strides > 1 together with dilation_rate > 1 (stride=${stride}, dilation=${dilation})`;
    }
    const [start, size] = torchWindow(n, kernel, stride, padding, outputPadding, dilation);
    return `PyTorch appends ${start + size - fullSize(n, kernel, stride, dilation)} zero(s) after the ` +
      `full result; Keras appends at most stride - 1 = ${stride - 1}`;
  }

  // --- porting ---
  const PROBE_LENGTHS = [1, 2, 3, 4, 5, 8];
  const torchArgsRepr = (a) => `TorchArgs(padding=${a.padding}, output_padding=${a.output_padding}, ` +
    `crop_before=${a.crop_before}, crop_after=${a.crop_after})`;

  function kerasCropAsTorch(kernel, stride, padding, outputPadding, dilation) {
    const found = new Map(), refused = [];
    for (const n of PROBE_LENGTHS) {
      try {
        const a = torchArgsForKeras(n, kernel, stride, padding, outputPadding, dilation);
        found.set(torchArgsRepr(a), a);
      } catch (e) {
        if (e.type !== "ValueError") throw e;
        refused.push([n, e.message]);
      }
    }
    if (refused.length) {
      const [n, reason] = refused[0];
      if (!found.size && refused.every(([, r]) => r === reason)) throw valueError(reason);
      throw valueError(`a PyTorch module must work for every input length; at n=${n}: ${reason}`);
    }
    if (found.size !== 1) {
      throw valueError(`the PyTorch equivalent of Keras padding=${repr(padding)} with kernel=${kernel}, ` +
        `stride=${stride}, output_padding=${repr(outputPadding)}, dilation=${dilation} depends on the ` +
        `input length ([${[...found.keys()].sort().join(", ")}]), so no fixed PyTorch module can reproduce it`);
    }
    return found.values().next().value;
  }

  function kerasExpressiblePairs(kernel, stride, dilation) {
    const pairs = new Map();
    for (const m of MODES) {
      for (const op of [null, ...range(stride)]) {
        let a;
        try {
          a = kerasCropAsTorch(kernel, stride, m, op, dilation);
        } catch (e) {
          if (e.type === "ValueError") continue;
          throw e;
        }
        if (!(a.crop_before || a.crop_after)) pairs.set(`${a.padding},${a.output_padding}`, [a.padding, a.output_padding]);
      }
    }
    return [...pairs.values()].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  }

  // --- checkerboard (one dimension; in several the counts are the outer product) ---
  function overlapCounts(n, kernel, stride, dilation) {
    const counts = new Array(fullSize(n, kernel, stride, dilation)).fill(0);
    for (let i = 0; i < n; i++) for (let t = 0; t < kernel; t++) counts[i * stride + t * dilation] += 1;
    return counts;
  }

  function interiorSlice(n, kernel, stride, dilation) {
    n = asInt("n", n, 1); kernel = asInt("kernel", kernel, 1);
    stride = asInt("stride", stride, 1); dilation = asInt("dilation", dilation, 1);
    return [(kernel - 1) * dilation, (n - 1) * stride + 1];
  }

  const minInteriorN = (kernel, stride, dilation) => ceilDiv((kernel - 1) * dilation, stride) + 2;

  function interiorOverlap(kernel, stride, dilation) {
    const n = minInteriorN(kernel, stride, dilation);
    const [a, b] = interiorSlice(n, kernel, stride, dilation);
    return overlapCounts(n, kernel, stride, dilation).slice(a, b).slice(0, stride);
  }

  const gcd = (a, b) => (b ? gcd(b, a % b) : a);
  const evenOverlap = (kernel, stride, dilation) => kernel % stride === 0 && gcd(stride, dilation) === 1;

  // ============================== Part 2: state, URL and drawing ==============================

  const ARGS = [ // hash key, the library's name, what the reader sees, the explorer's upper limit
    { key: "n", name: "n", label: "input size n", max: 64 },
    { key: "k", name: "kernel", label: "kernel size k", max: 16 },
    { key: "s", name: "stride", label: "stride s", max: 16 },
    { key: "d", name: "dilation", label: "dilation d", max: 16 },
    { key: "p", name: "padding", label: "padding p", max: 64 },
    { key: "op", name: "output_padding", label: "output_padding", max: 16 },
  ];
  const HASH_KEYS = ["n", "k", "s", "d", "p", "op", "dim", "fw"];
  const MAX_2D_CELLS = 2500; // 2-D grids are drawn up to 50 x 50 cells
  const DIM_NAMES = [["length"], ["height", "width"]];
  const FW = { torch: "PyTorch", keras: "Keras" };
  const START = "#n=4&k=3&s=2&p=1&op=1"; // an empty address shows PyTorch's usual doubling

  const INT = /^-?\d+$/;
  // A typed value: an integer (a BigInt below Number's range), the text itself, or a range error.
  function parseValue(arg, raw) {
    if (!INT.test(raw)) return { v: raw };
    const big = BigInt(raw);
    if (big > BigInt(arg.max)) return { limit: `${arg.name} must be at most ${arg.max} in the explorer, got ${big}` };
    return { v: big < BigInt(Number.MIN_SAFE_INTEGER) ? big : Number(big) };
  }

  // The address: key=value pairs; in 2-D "h,w" gives one value per dimension, any other text
  // both. A comma typed in one box is written %2C, so each box reopens as it was.
  function readHash(hash) {
    const q = new Map();
    for (const part of hash.replace(/^#/, "").split("&")) {
      const i = part.indexOf("=");
      if (i > 0) q.set(part.slice(0, i), part.slice(i + 1));
    }
    return q;
  }
  const decode = (t) => { try { return decodeURIComponent(t.replace(/\+/g, " ")); } catch (e) { return t; } };
  const inferredFw = (p) => (p !== null && MODES.includes(p.toLowerCase()) ? "keras" : "torch");

  // The state: the raw text of each control, one per dimension. Keras' output_padding=None:
  // no op in the address (opNone), blank boxes.
  function stateFromHash(hash) {
    const q = readHash(hash);
    const dim = q.get("dim") === "2" ? 2 : 1;
    const split = (raw) => {
      const parts = raw.split(",");
      return parts.length === dim ? parts.map(decode) : Array(dim).fill(decode(raw));
    };
    const p = q.has("p") ? decode(q.get("p")) : null;
    const fw = FW[q.get("fw")] ? q.get("fw") : inferredFw(p);
    const st = { fw, dim };
    for (const [key, dflt] of [["n", "4"], ["k", "3"], ["s", "2"], ["d", "1"]]) st[key] = split(q.has(key) ? q.get(key) : dflt);
    st.p = fw === "keras" ? [p === null ? "valid" : p] : split(p === null ? "0" : q.get("p"));
    st.opNone = fw === "keras" && !q.has("op");
    st.op = st.opNone ? Array(dim).fill("") : split(q.has("op") ? q.get("op") : "0");
    return st;
  }

  function hashFromState(st) {
    const join = (vals) => (vals.every((v) => v === vals[0]) ? [vals[0]] : vals).map(encodeURIComponent).join(",");
    const parts = [];
    for (const key of ["n", "k", "s", "d"]) {
      const v = join(st[key]);
      if (key !== "d" || v !== "1") parts.push(`${key}=${v}`);
    }
    parts.push(`p=${join(st.p)}`);
    const op = join(st.op);
    if (!st.opNone && (st.fw === "keras" || op !== "0")) parts.push(`op=${op}`);
    if (st.dim === 2) parts.push("dim=2");
    if (st.fw !== inferredFw(st.p[0])) parts.push(`fw=${st.fw}`);
    return "#" + parts.join("&");
  }

  function attempt(fn) {
    try {
      return { ok: true, v: fn() };
    } catch (e) {
      if (e instanceof RuleError) return { ok: false, msg: e.message };
      throw e;
    }
  }

  // Everything the widget shows, computed from the state with the rules above.
  function analyse(st) {
    const torch = st.fw === "torch";
    const model = { st, torch, dims: [], limit: "" };
    const vals = [];
    for (let i = 0; i < st.dim; i++) {
      const raw = { n: st.n[i], k: st.k[i], s: st.s[i], d: st.d[i], p: torch ? st.p[i] : st.p[0],
                    op: st.opNone ? null : st.op[i] };
      const v = {};
      for (const arg of ARGS) {
        if (arg.key === "op" && raw.op === null) { v.op = null; continue; }
        if (arg.key === "p" && !torch) { v.p = raw.p; continue; } // Keras: the mode's text
        const parsed = parseValue(arg, raw[arg.key]);
        if (parsed.limit && !model.limit) model.limit = parsed.limit;
        v[arg.key] = parsed.v;
      }
      vals.push(v);
    }
    if (model.limit) return model;
    for (const { n, k, s, d, p, op } of vals) {
      const D = { n, k, s, d, p, op };
      const base = attempt(() => fullSize(n, k, s, d));
      D.window = attempt(() => {
        if (torch) return torchWindow(n, k, s, p, op, d);
        kerasRefusal(s, d);
        return kerasPlacement(n, k, s, p, op, d);
      });
      D.error = !base.ok ? base.msg : D.window.ok ? "" : D.window.msg;
      D.base = base.ok;
      if (base.ok) {
        D.full = base.v;
        D.counts = overlapCounts(n, k, s, d);
        D.interior = interiorSlice(n, k, s, d);
        D.pattern = interiorOverlap(k, s, d);
        D.even = evenOverlap(k, s, d);
        D.choices = attempt(() => outputPaddingChoices(n, k, s, p, d));
        if (torch) {
          D.equiv = attempt(() => kerasArgsForTorch(n, k, s, p, op, d));
          if (D.equiv.ok && D.equiv.v) {
            const e = D.equiv.v;
            D.otherWindow = kerasPlacement(n, k, s, e.padding, e.output_padding, d);
          } else if (D.equiv.ok) D.noKeras = noKerasEquivalentReason(n, k, s, p, op, d);
          D.pairs = kerasExpressiblePairs(k, s, d);
        } else {
          D.equiv = attempt(() => torchArgsForKeras(n, k, s, p, op, d));
          if (D.equiv.ok) D.otherWindow = torchWindow(n, k, s, D.equiv.v.padding, D.equiv.v.output_padding, d);
          D.module = attempt(() => kerasCropAsTorch(k, s, p, op, d));
          D.tfShapes = attempt(() => tfOutputShapes(n, k, s, p, d));
        }
        if (D.window.ok) {
          const [start, size] = D.window.v;
          D.output = range(size).map((j) => (start + j < D.full ? D.counts[start + j] : 0));
          if (D.choices.ok && !D.choices.v.some(([c]) => c === size)) D.outside = convOutputSize(size, k, s, p, d);
        }
      }
      model.dims.push(D);
    }
    model.ok = model.dims.every((D) => D.base);
    return model;
  }

  // The state in the other framework: [state, kind, words]; kind "exact" (same output), "crop"
  // (same after the crop in words) or "none" (its defaults; words: why).
  function translate(old, fw) {
    const M = analyse(old), torch = fw === "torch", dims = M.limit ? [] : M.dims;
    const st = { ...old, fw, p: torch ? Array(old.dim).fill("0") : ["valid"], op: Array(old.dim).fill(torch ? "0" : ""), opNone: !torch };
    const fail = M.limit || (dims.find((D) => D.error) || {}).error ||
      (dims.find((D) => !D.equiv.ok) || { equiv: {} }).equiv.msg || (dims.find((D) => D.noKeras) || {}).noKeras;
    if (fail) return [st, "none", fail];
    let args = dims.map((D) => D.equiv.v);
    let exact = args.every((a) => !a.crop_before && !a.crop_after);
    if (!torch) {
      // Every Keras (padding, output_padding) keeping PyTorch's window, per dimension: one fits all?
      const fits = dims.map((D) => MODES.flatMap((m) => [null, ...range(D.s)].map((o) => [m, o])).filter(([m, o]) => {
        const r = attempt(() => kerasPlacement(D.n, D.k, D.s, m, o, D.d));
        return r.ok && r.v[0] === D.window.v[0] && r.v[1] === D.window.v[1];
      }));
      const pick = (m, none) => fits.map((f) => f.find(([mode, op]) => mode === m && (op === null) === none));
      const found = MODES.map((m) => pick(m, true)).concat(MODES.map((m) => pick(m, false))).find((c) => c.every(Boolean));
      if (found) {
        args = found.map(([m, o]) => ({ padding: m, output_padding: o, crop_before: 0, crop_after: 0 }));
        exact = true;
      }
      const modes = new Set(args.map((a) => a.padding)), nones = new Set(args.map((a) => a.output_padding === null));
      if (modes.size > 1 || nones.size > 1) return [st, "none", KERAS_ONE];
      st.p = [args[0].padding];
      st.opNone = args[0].output_padding === null;
      st.op = args.map((a) => (st.opNone ? "" : String(a.output_padding)));
    } else {
      st.p = args.map((a) => String(a.padding));
      st.op = args.map((a) => String(a.output_padding));
    }
    const names = DIM_NAMES[old.dim - 1];
    const crops = args.map((a, i) => `${old.dim === 2 ? names[i] + ": " : ""}${a.crop_before} before and ${a.crop_after} after`).join("; ");
    return [st, exact ? "exact" : "crop", exact ? "" : crops];
  }

  // --- DOM helpers ---
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
    return e;
  }
  const code = (t) => el("code", {}, t);
  const para = (cls, ...kids) => el("p", { class: cls }, ...kids);
  const flag = (e, name, on) => (on ? e.setAttribute(name, "true") : e.removeAttribute(name));
  const cropText = (a) => (a && (a.crop_before || a.crop_after) ? `then crop ${a.crop_before} before and ${a.crop_after} after` : "");
  const KERAS_ONE = "Keras takes one padding for every dimension and output_padding either None for all or a number for each";
  const py = (v) => (v === null ? "None" : typeof v === "string" ? `'${v}'` : String(v));
  const fmtArgs = (a) => `${a.padding},${a.output_padding === null ? "none" : a.output_padding},${a.crop_before},${a.crop_after}`;
  // The arguments of a state as the reader writes them: one value, or one per dimension.
  const argText = (vals, quote) => {
    const q = (v) => (quote ? py(v) : v);
    return vals.every((v) => v === vals[0]) ? q(vals[0]) : `(${vals.map(q).join(", ")})`;
  };
  const stateArgs = (st) => `padding=${argText(st.p, st.fw === "keras")}, output_padding=${st.opNone ? "None" : argText(st.op)}`;

  // One displayed value: the text the reader sees; data-value, the canonical one for the test.
  const field = (dim, name, value, ...text) => el("span", { "data-field": name, "data-dim": dim, "data-value": value }, ...text);
  const errorText = (msg) => el("span", { class: "tx-rule" }, msg);
  const shown = (r, fmt, show) => (r.ok ? [fmt(r.v), show(r.v)] : ["error:" + r.msg, errorText(r.msg)]);
  // A formula as the reader reads it (the test evaluates it: · is *, − is -).
  const formula = (text) => el("span", { "data-formula": "" }, text);

  // A scrollable figure; keyboard users scroll it with the arrow keys once focused.
  const scroller = (label, ...kids) => el("div", { class: "tx-scroll", tabindex: 0, role: "group", "aria-label": label }, ...kids);

  // A grid of cells: cell(i, j) returns { v, cls }. The numbers shown are the data-v values.
  function grid(name, dim, rows, cols, cell, label) {
    const g = el("div", { class: "tx-grid", "data-grid": name, "data-dim": dim, "data-shape": rows > 1 || dim === "all" ? `${rows},${cols}` : `${cols}`,
      style: `--tx-cols:${cols}`, role: "img", "aria-label": label });
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const c = cell(i, j);
        g.append(c.v === undefined ? el("span", { class: "tx-c " + (c.cls || "") })
          : el("span", { class: "tx-c " + (c.cls || ""), "data-v": c.v }, String(c.v)));
      }
    }
    return g;
  }

  const heat = (v, max) => (v === 0 ? "tx-h0" : "tx-h" + Math.max(1, Math.round((4 * v) / max)));
  const listText = (vals) => (vals.length > 40 ? vals.slice(0, 40).join(", ") + ", ..." : vals.join(", "));

  // --- the explorer ---
  function Explorer(root) {
    this.root = root;
    this.step = null; // scatter step; null: all at once
    this.timer = null;
    this.renders = 0;
    this.memory = {};
    this.buildControls();
    window.addEventListener("hashchange", () => this.load(true));
    this.load(false);
  }

  Explorer.prototype.buildControls = function () {
    const inputs = (this.inputs = {});
    const form = (this.form = el("form", { class: "tx-controls", tabindex: -1, "aria-label": "Arguments of the transposed convolution", onsubmit: (e) => e.preventDefault() }));
    const radios = (legend, name, options) => el("fieldset", { class: "tx-radios" }, el("legend", {}, legend),
      options.map(([value, text]) => el("label", {}, (inputs[`${name}:${value}`] = el("input", { type: "radio", name: `tx-${name}`, value })), " ", text)));
    form.append(el("div", { class: "tx-toggles" },
      radios("Framework", "fw", [["torch", "PyTorch"], ["keras", "Keras"]]),
      radios("Dimensions", "dim", [["1", "1-D"], ["2", "2-D"]])));
    const table = el("div", { class: "tx-args" });
    table.append(el("span", { class: "tx-head" }), el("span", { class: "tx-head", id: "tx-h-0" }, "height"), el("span", { class: "tx-head", id: "tx-h-1" }, "width"));
    const row = (key, label, widget) => {
      const lab = el("label", { id: `tx-l-${key}`, for: `tx-${key}-0` }, label);
      table.append(el("div", { class: "tx-row", "data-row": key }, lab, widget));
    };
    const mode = (inputs.mode = el("select", { id: "tx-mode" }, MODES.map((m) => el("option", { value: m }, `'${m}'`))));
    this.badMode = el("option", {});
    for (const arg of ARGS) {
      const cells = [0, 1].map((i) => (inputs[`${arg.key}:${i}`] = el("input", {
        type: "text", inputmode: "numeric", id: `tx-${arg.key}-${i}`, autocomplete: "off", spellcheck: "false",
        "data-max": arg.max, size: 4 })));
      row(arg.key, arg.label, cells);
      // Keras' padding, one for every dimension, takes PyTorch's place in the list.
      if (arg.key === "p") row("mode", ["padding ", code("'valid'/'same'")], el("div", { class: "tx-one" }, mode));
    }
    inputs.opNone = el("input", { type: "checkbox", id: "tx-opnone" });
    table.append(el("div", { class: "tx-row", "data-row": "opnone" },
      el("label", { class: "tx-check" }, inputs.opNone, " ", code("output_padding=None"), " (Keras' default)")));
    table.querySelector("#tx-l-mode").htmlFor = "tx-mode";
    form.append(table);
    this.link = el("a", { href: "#" }, "Link to this configuration");
    form.append(el("p", { class: "tx-link" }, this.link));
    // Text boxes answer as the reader types; radios, checkbox and select once, as they change.
    form.addEventListener("input", (e) => e.target.type === "text" && this.fromControls(e.target));
    form.addEventListener("change", (e) => e.target.type !== "text" && this.fromControls(e.target));
    form.addEventListener("keydown", (e) => this.arrowKey(e));
    this.status = el("div", { class: "tx-status", role: "status", "aria-live": "polite" });
    this.out = el("div", { class: "tx-out" });
    this.root.replaceChildren(form, this.status, this.out);
  };

  // Up and down arrows step an integer field, as a number input would.
  Explorer.prototype.arrowKey = function (e) {
    const t = e.target;
    if (t.type !== "text" || (e.key !== "ArrowUp" && e.key !== "ArrowDown") || !INT.test(t.value)) return;
    e.preventDefault();
    t.value = String(Number(t.value) + (e.key === "ArrowUp" ? 1 : -1));
    this.fromControls(t);
  };

  Explorer.prototype.setControls = function (st) {
    const I = this.inputs;
    I[`fw:${st.fw}`].checked = true;
    I[`dim:${st.dim}`].checked = true;
    for (const arg of ARGS) {
      for (const i of [0, 1]) {
        const box = I[`${arg.key}:${i}`];
        const val = st[arg.key][Math.min(i, st.dim - 1)];
        if (!(arg.key === "p" && st.fw === "keras") && box.value !== val) box.value = val;
        box.disabled = arg.key === "op" && st.opNone;
        box.placeholder = box.disabled ? "None" : "";
        flag(box, "aria-invalid", !INT.test(box.value) && !box.disabled);
        box.hidden = i >= st.dim;
        box.setAttribute("aria-labelledby", `tx-l-${arg.key}` + (st.dim === 2 ? ` tx-h-${i}` : ""));
      }
    }
    // A Keras padding other than 'valid'/'same' shows as itself, marked invalid.
    const m = st.p[0].toLowerCase(), ok = st.fw === "torch" || MODES.includes(m);
    if (ok) this.badMode.remove();
    else I.mode.append(Object.assign(this.badMode, { value: st.p[0], textContent: `${repr(st.p[0])} (not a Keras padding)` }));
    if (st.fw === "keras") I.mode.value = ok ? m : st.p[0];
    flag(I.mode, "aria-invalid", !ok);
    I.opNone.checked = st.opNone;
    const show = { p: st.fw === "torch", mode: st.fw === "keras", opnone: st.fw === "keras" };
    for (const r of this.root.querySelectorAll(".tx-row")) r.hidden = show[r.dataset.row] === false;
    this.root.querySelector(".tx-args").classList.toggle("tx-2d", st.dim === 2);
  };

  Explorer.prototype.readControls = function () {
    const I = this.inputs;
    const fw = I["fw:keras"].checked ? "keras" : "torch";
    const dim = I["dim:2"].checked ? 2 : 1;
    const st = { fw, dim };
    for (const arg of ARGS) st[arg.key] = range(dim).map((i) => I[`${arg.key}:${i}`].value);
    if (fw === "keras") st.p = [I.mode.value];
    st.opNone = fw === "keras" && I.opNone.checked;
    if (st.opNone) st.op = st.op.map(() => "");
    else if (st.op.every((v) => v === "") && this.state.opNone) st.op = st.op.map(() => "0"); // None unticked
    return st;
  };

  // A control changed. A framework radio switches to the other's exact equivalent, else to the
  // nearest (with a note); switching back untouched restores the reader's setting.
  Explorer.prototype.fromControls = function (target) {
    let st = this.readControls(), note = null;
    if (target.name === "tx-fw" && this.state.fw !== st.fw) [st, note] = this.switchFramework(this.state, st.fw);
    if (target.name === "tx-dim" && st.dim === 2) {
      for (const arg of ARGS) st[arg.key] = [0, 1].map(() => this.state[arg.key][0]);
      if (st.fw === "keras") st.p = [this.state.p[0]];
    }
    history.replaceState(null, "", hashFromState(st));
    this.apply(st, note);
  };

  Explorer.prototype.switchFramework = function (old, fw) {
    const mem = this.memory, name = FW[fw], mine = FW[old.fw];
    const back = mem.arrived === hashFromState(old) && mem[fw];
    mem[old.fw] = old;
    if (back) return [back, ["back", `Back to your ${name} setting.`]];
    const [st, kind, words] = translate(old, fw);
    const text = kind === "exact" ? `The exact ${name} equivalent: ${stateArgs(st)}.`
      : kind === "crop" ? `No exact ${name} equivalent; showing ${stateArgs(st)}, whose output needs a crop of ${words} to match. Switch back to return to your ${mine} setting.`
        : `No ${name} equivalent (${words}); showing ${name}'s defaults. Switch back to return to your ${mine} setting.`;
    return [st, [kind, text]];
  };

  // An address without the explorer's keys (a heading's anchor) changes nothing; a link to a
  // configuration brings the explorer into view (and focus, when followed on the page).
  Explorer.prototype.load = function (followed) {
    const ours = [...readHash(location.hash).keys()].some((key) => HASH_KEYS.includes(key));
    if (!ours && this.state) return;
    this.memory = {};
    this.apply(stateFromHash(ours ? location.hash : START));
    if (ours && !this.revealing) {
      this.revealing = true;
      requestAnimationFrame(() => { // once, however many addresses were set before the frame
        this.revealing = false;
        const top = this.root.getBoundingClientRect().top;
        if (top < 0 || top > innerHeight / 2) this.root.scrollIntoView({ block: "start" });
        if (followed) this.form.focus({ preventScroll: true });
      });
    }
  };

  Explorer.prototype.apply = function (st, note) {
    this.state = st;
    this.note = note || null;
    if (note) this.memory.arrived = hashFromState(st);
    this.setControls(st);
    this.link.href = hashFromState(st);
    this.pause();
    this.model = analyse(st);
    this.step = null;
    this.render();
  };

  // ------------------------------------------------------------------ rendering
  Explorer.prototype.render = function () {
    const M = this.model;
    const st = M.st;
    const names = DIM_NAMES[st.dim - 1];
    this.root.dataset.state = hashFromState(st);
    this.root.dataset.framework = st.fw;
    this.root.dataset.dims = st.dim;
    // Messages: the first rule each dimension breaks, in the library's words.
    const msgs = M.limit ? [para("tx-error", field("all", "error", M.limit, M.limit))]
      : M.dims.map((D, i) => (D.error ? para("tx-error", st.dim === 2 ? `${names[i]}: ` : "", field(i, "error", D.error, D.error))
        : field(i, "error", "", "")));
    if (this.note) msgs.unshift(el("p", { class: "tx-switch" }, field("all", "switch", this.note[0], this.note[1])));
    this.status.replaceChildren(...msgs);
    if (!M.limit && !M.ok) {
      this.out.replaceChildren(para("tx-note", "Nothing to draw until every dimension has valid sizes."));
    } else if (M.limit) {
      this.out.replaceChildren(para("tx-note", "The explorer draws every cell, so it keeps sizes small; ",
        code("python -m tconv_utils.shapes"), " answers for any size."));
    } else {
      const section = (id, title, body) => el("section", { "aria-labelledby": id }, el("h2", { id }, title), body);
      this.out.replaceChildren(
        section("tx-s1", "The scatter, step by step", this.scatterParts()),
        section("tx-s2", "Overlap counts and the window each framework keeps", this.windows()),
        section("tx-s3", "Sizes and equivalent arguments", this.sizes()),
        section("tx-s4", "The many-to-one set", this.manyToOne()));
      this.renderScatter();
    }
    this.renders += 1;
    this.root.dataset.renders = this.renders;
    this.root.dispatchEvent(new CustomEvent("tconv-explorer-render"));
  };

  const tooBig = (M) => M.st.dim === 2 && M.dims[0].full * M.dims[1].full > MAX_2D_CELLS;
  const tooBigText = (M) => `The full output has ${M.dims[0].full} × ${M.dims[1].full} cells, too many to draw here (up to ${MAX_2D_CELLS})`;

  // --- the scatter ---
  Explorer.prototype.scatterParts = function () {
    this.buttons = {};
    this.caption = el("p", { class: "tx-caption", "aria-live": "polite" });
    this.scatterFig = el("div");
    if (tooBig(this.model)) {
      return para("tx-note", `${tooBigText(this.model)}; the interior pattern along each dimension is listed below.`);
    }
    // aria-disabled rather than disabled: a button at its end keeps the keyboard focus.
    const bar = el("div", { class: "tx-buttons", role: "group", "aria-label": "Scatter animation" },
      [["start", "Start", () => this.go(0)], ["back", "Step back", () => this.go(this.at() - 1)],
       ["play", "Play", () => this.toggle()], ["step", "Step", () => this.go(this.at() + 1)],
       ["all", "All at once", () => this.go(null)]].map(([id, text, fn]) =>
        (this.buttons[id] = el("button", { type: "button", "data-action": id,
          onclick: (e) => e.currentTarget.hasAttribute("aria-disabled") || fn() }, text))));
    return el("div", {}, bar, this.caption, this.scatterFig);
  };

  Explorer.prototype.cells = function () {
    const dims = this.model.dims;
    return this.model.st.dim === 2 ? dims[0].n * dims[1].n : dims[0].n;
  };
  Explorer.prototype.at = function () { return this.step === null ? this.cells() : this.step; };

  Explorer.prototype.renderScatter = function () {
    const M = this.model, dims = M.dims, two = M.st.dim === 2;
    if (tooBig(M)) return;
    const nCells = this.cells(), step = this.at(), B = this.buttons;
    B.play.textContent = this.timer ? "Pause" : "Play";
    for (const [id, off] of [["start", !step], ["back", !step], ["step", step === nCells], ["all", this.step === null]]) flag(B[id], "aria-disabled", off);
    this.caption.setAttribute("aria-live", this.timer ? "off" : "polite");
    // Input cell number c (row-major) scatters its kernel copy; cells < step are done.
    const cellOf = (c) => (two ? [Math.floor(c / dims[1].n), c % dims[1].n] : [0, c]);
    const taps = (D, i) => range(D.k).map((t) => i * D.s + t * D.d);
    const [rows, cols] = two ? [dims[0].full, dims[1].full] : [1, dims[0].full];
    const run = range(rows).map(() => new Array(cols).fill(0));
    const copy = new Set();
    for (let c = 0; c < step; c++) {
      const [i, j] = cellOf(c);
      const rs = two ? taps(dims[0], i) : [0], cs = taps(two ? dims[1] : dims[0], j);
      for (const r of rs) for (const q of cs) {
        run[r][q] += 1;
        if (c === step - 1 && this.step !== null) copy.add(r * cols + q);
      }
    }
    const max = Math.max(1, ...run.map((r) => Math.max(...r)));
    const cur = step > 0 ? cellOf(step - 1) : null;
    const inRows = two ? dims[0].n : 1, inCols = two ? dims[1].n : dims[0].n;
    const inGrid = grid("scatter-input", "all", inRows, inCols, (i, j) => {
      const c = i * inCols + j;
      return { v: 1, cls: c === step - 1 && this.step !== null ? "tx-cur" : c < step ? "tx-h2" : "" };
    }, `Input cells, ${step} of ${nCells} scattered`);
    const outGrid = grid("scatter", "all", rows, cols, (i, j) => ({ v: run[i][j],
      cls: heat(run[i][j], max) + (copy.has(i * cols + j) ? " tx-copy" : "") }),
    `Running sum of the scatter: ${listText(run.flat())}`);
    outGrid.dataset.step = step;
    outGrid.dataset.steps = nCells;
    let caption;
    if (step === 0) caption = "Start: the output is all zeros.";
    else if (this.step === null) caption = `All ${nCells} input cells have added their kernel copies: the numbers are the overlap counts.`;
    else {
      const where = two ? `(${cur[0]}, ${cur[1]})` : `${cur[1]}`;
      const offset = two ? `(${cur[0] * dims[0].s}, ${cur[1] * dims[1].s})` : `${cur[1] * dims[0].s}`;
      caption = `Step ${step} of ${nCells}: input cell ${where} adds its copy of the kernel (outlined) at offset ${offset}.`;
    }
    this.caption.textContent = caption;
    // Each grid scrolls in its own box, which is never wider than the page.
    this.scatterFig.replaceChildren(para("tx-label", "input (ones)"), scroller("Input cells", inGrid),
      para("tx-label", "output of ones times a kernel of ones: every copy adds 1"), scroller("Running sum", outGrid));
  };

  Explorer.prototype.go = function (step) {
    const n = this.cells();
    if (step !== null) step = Math.min(Math.max(step, 0), n);
    this.step = step;
    if (step === null || step === n) this.pause();
    this.renderScatter();
  };

  Explorer.prototype.toggle = function () {
    if (this.timer) { this.pause(); this.renderScatter(); return; }
    if (this.step === null || this.step === this.cells()) this.step = 0;
    this.timer = setInterval(() => this.go((this.step === null ? 0 : this.step) + 1), 800);
    this.renderScatter();
  };

  Explorer.prototype.pause = function () {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  };

  // --- overlap counts, windows, output ---
  Explorer.prototype.windows = function () {
    const M = this.model, dims = M.dims, torch = M.torch, two = M.st.dim === 2;
    const box = el("div");
    const names = DIM_NAMES[M.st.dim - 1];
    const dl = el("dl", { class: "tx-facts" });
    box.append(dl);
    dims.forEach((D, i) => {
      const pattern = D.pattern.join(", ");
      dl.append(el("dt", {}, two ? `Interior overlap along the ${names[i]}` : "Interior overlap"),
        el("dd", {}, D.interior[0] < D.interior[1]
          ? ["cells ", field(i, "interior", `${D.interior[0]}:${D.interior[1]}`, `${D.interior[0]} to ${D.interior[1] - 1}`), " repeat"]
          : [field(i, "interior", `${D.interior[0]}:${D.interior[1]}`, "none at this input size"), "; a longer input repeats"],
          " the counts ", field(i, "pattern", D.pattern.join(","), `[${pattern}]`), ": ",
          field(i, "even", D.even ? "yes" : "no", D.even ? "even, so the overlap adds no pattern"
            : `uneven, a pattern that repeats every ${D.s} cells${two ? " (with the other dimension's, a checkerboard)" : ""}`),
          ` (even exactly when the stride ${D.s} divides the kernel ${D.k} and shares no factor with the dilation ${D.d})`));
    });
    const fw = FW[M.st.fw];
    if (!two) {
      const D = dims[0];
      const other = torch ? "Keras" : "PyTorch";
      const mine = D.window.ok ? D.window.v : null, theirs = D.otherWindow || null;
      const width = Math.max(D.full, ...[mine, theirs].filter(Boolean).map(([a, b]) => a + b));
      const [ia, ib] = D.interior;
      const full = grid("overlap", 0, 1, width, (_, j) => (j < D.full ? { v: D.counts[j], cls: heat(D.counts[j], Math.max(...D.counts)) + (j >= ia && j < ib ? " tx-in" : "") } : { cls: "tx-void" }),
        `Overlap counts of the ${D.full} cells of the full scatter: ${listText(D.counts)}`);
      full.dataset.shape = D.full; // the strips are aligned to the widest; the values are these
      // A strip: the window w = [start, size] a layer keeps, less the crop a applied after it.
      const strip = (name, w, label, a) => {
        const [cb, ca] = a ? [a.crop_before, a.crop_after] : [0, 0];
        const g = grid(name, 0, 1, width, (_, j) => {
          if (!w) return { cls: "tx-void" };
          if (j < w[0] || j >= w[0] + w[1]) return { cls: j < D.full ? "tx-crop" : "tx-void" };
          if (j < w[0] + cb || j >= w[0] + w[1] - ca) return { cls: "tx-trim" };
          return { cls: j >= D.full ? "tx-kept tx-pad" : "tx-kept" };
        }, w ? `${label}: keeps cells ${w[0] + cb} to ${w[0] + w[1] - ca - 1}` : `${label}: no window`);
        if (w) g.dataset.window = `${w[0]},${w[1]}`;
        return g;
      };
      const equiv = D.equiv.ok ? D.equiv.v : null;
      const tArgs = torch ? { padding: D.p, output_padding: D.op } : equiv;
      const kArgs = torch ? equiv : { padding: D.p, output_padding: D.op };
      const tLabel = tArgs ? `PyTorch padding=${py(tArgs.padding)}, output_padding=${py(tArgs.output_padding)}` : "PyTorch: no equivalent";
      const kLabel = kArgs ? `Keras padding=${py(kArgs.padding)}, output_padding=${py(kArgs.output_padding)}` : "Keras: no equivalent";
      const [tw, kw] = torch ? [mine, theirs] : [theirs, mine];
      const crop = (a) => (cropText(a) ? ", " + cropText(a) : "");
      const rows = [
        [`full scatter, ${D.full} cells; numbers: overlap counts, underlined: interior`, full],
        [tLabel + (torch ? "" : crop(tArgs)), strip("window-torch", tw, tLabel, torch ? null : tArgs)],
        [kLabel + (torch ? crop(kArgs) : ""), strip("window-keras", kw, kLabel, torch ? kArgs : null)],
      ];
      if (D.output) {
        const out = grid("output", 0, 1, width, (_, j) => {
          const k = j - D.window.v[0];
          return k >= 0 && k < D.output.length ? { v: D.output[k], cls: D.window.v[0] + k >= D.full ? "tx-pad" : heat(D.output[k], Math.max(...D.counts)) } : { cls: "tx-void" };
        }, `The ${fw} output: ${listText(D.output)}`);
        out.dataset.shape = D.output.length;
        rows.push([`the ${fw} output, ${D.output.length} cells (hatched: cells past the end of the full scatter, zeros)`, out]);
      }
      box.append(scroller("Full scatter and windows", el("div", { class: "tx-fig" },
        rows.map(([label, g]) => [para("tx-label", label), g]))));
      const key = (cls, text) => [el("span", { class: "tx-key tx-c " + cls }), ` ${text} `];
      box.append(el("p", { class: "tx-legend" }, key("tx-kept", "kept"), key("tx-crop", "cropped by the layer"),
        key("tx-trim", "cropped after the layer"), key("tx-kept tx-pad", "appended zero."),
        ` The ${fw} row is your setting; the ${other} row is its equivalent, listed below.`));
    } else if (!tooBig(M)) {
      const [H, W] = dims;
      const maxC = Math.max(...H.counts) * Math.max(...W.counts);
      const marked = H.window.ok && W.window.ok; // no window along one dimension: nothing is kept
      const inWin = (D, x) => x >= D.window.v[0] && x < D.window.v[0] + D.window.v[1];
      const pat = grid("pattern2d", "all", H.pattern.length, W.pattern.length, (i, j) => ({ v: H.pattern[i] * W.pattern[j], cls: "tx-h2" }),
        "Interior pattern, one period");
      const ov = grid("overlap2d", "all", H.full, W.full, (i, j) => {
        const v = H.counts[i] * W.counts[j];
        const inside = i >= H.interior[0] && i < H.interior[1] && j >= W.interior[0] && j < W.interior[1];
        return { v, cls: heat(v, maxC) + (!marked ? "" : inWin(H, i) && inWin(W, j) ? " tx-kept" : " tx-crop") + (inside ? " tx-in" : "") };
      }, `Overlap counts, ${H.full} by ${W.full}`);
      const refused = dims.map((D, i) => (D.window.ok ? null : names[i])).filter(Boolean).join(" and ");
      const figs = [para("tx-label", "interior pattern (one period)"), pat,
        para("tx-label", `full scatter, ${H.full} × ${W.full}: overlap counts; ` +
          (marked ? `solid border: cells the ${fw} arguments keep, dashed: cells they crop` : `no window: the ${refused} is refused`) + "; underlined: interior"), ov];
      if (H.output && W.output) {
        const out = grid("output2d", "all", H.output.length, W.output.length, (i, j) => {
          const past = H.window.v[0] + i >= H.full || W.window.v[0] + j >= W.full;
          const v = H.output[i] * W.output[j];
          return { v, cls: past ? "tx-pad" : heat(v, maxC) };
        }, `Output, ${H.output.length} by ${W.output.length}`);
        figs.push(para("tx-label", `output, ${H.output.length} × ${W.output.length} (hatched: appended zeros)`), out);
      }
      box.append(scroller("Overlap counts and output", el("div", { class: "tx-fig" }, figs)));
    } else {
      box.append(para("tx-note", `${tooBigText(M)}.`));
    }
    return box;
  };

  // --- sizes and equivalents ---
  Explorer.prototype.sizes = function () {
    const M = this.model, torch = M.torch;
    const names = DIM_NAMES[M.st.dim - 1];
    const box = el("div");
    const done = (e) => "; " + (cropText(e) || "exact, no crop");
    M.dims.forEach((D, i) => {
      const dl = el("dl", { class: "tx-facts" });
      const add = (dt, ...dd) => dl.append(el("dt", {}, dt), el("dd", {}, ...dd));
      const cells = (rule) => (w) => [String(w[1]), " cells = ", formula(rule), `: full cells ${w[0]} to ${w[0] + w[1] - 1}`,
        w[0] + w[1] > D.full ? " with zeros past its end" : ""];
      if (M.st.dim === 2) box.append(el("h3", {}, `Along the ${names[i]}`));
      add("Full scatter", field(i, "full", D.full, String(D.full), " cells = ", formula(`(${D.n} − 1) · ${D.s} + ${D.d} · (${D.k} − 1) + 1`)));
      if (torch) {
        const [v, show] = shown(D.window, (w) => `${w[0]},${w[1]}`,
          cells(`(${D.n} − 1) · ${D.s} − 2 · ${D.p} + ${D.d} · (${D.k} − 1) + ${D.op} + 1`));
        add("PyTorch output size", field(i, "torch-window", v, show));
        let ev, es;
        if (!D.equiv.ok) [ev, es] = ["error:" + D.equiv.msg, errorText(D.equiv.msg)];
        else if (D.equiv.v === null) [ev, es] = ["none", "none: " + D.noKeras];
        else {
          const e = D.equiv.v;
          [ev, es] = [fmtArgs(e), [code(`padding=${py(e.padding)}, output_padding=${py(e.output_padding)}`), " gives ",
            field(i, "keras-equiv-size", D.otherWindow[1], String(D.otherWindow[1])), done(e)]];
        }
        add(`Keras equivalent for n = ${D.n}`, field(i, "keras-equiv", ev, es));
        const pairs = D.pairs.map(([p, op]) => `(${p}, ${op})`).join(", ");
        const pv = D.pairs.map(([p, op]) => `${p}:${op}`).join(" ");
        const inPairs = D.window.ok && D.pairs.some(([p, op]) => p === D.p && op === D.op);
        const branch = inPairs ? "yes" : D.equiv.ok && D.equiv.v ? "crop" : "none";
        add("Keras layer, any input length",
          D.pairs.length ? ["the PyTorch (padding, output_padding) pairs a Keras layer reproduces exactly: ", field(i, "keras-pairs", pv, pairs)]
            : [field(i, "keras-pairs", "", "none: "), D.s > 1 && D.d > 1 ? "Keras refuses stride > 1 with dilation > 1" : "no Keras padding reproduces any"],
          D.window.ok ? ["; yours ", field(i, "keras-layer", branch, { yes: "is one of them", crop: "is not, so a ported layer needs a crop after it",
            none: `cannot be ported to Keras: ${D.noKeras}` }[branch])] : "");
      } else {
        const m = D.p.toLowerCase(), ke = D.d * (D.k - 1) + 1;
        const rule = D.op === null ? (m === "same" ? `${D.n} · ${D.s}` : `${D.n} · ${D.s} + max(${ke} − ${D.s}, 0)`)
          : `(${D.n} − 1) · ${D.s} + ${ke} − 2 · ${m === "same" ? Math.floor(ke / 2) : 0} + ${D.op}`;
        const [v, show] = shown(D.window, (w) => `${w[0]},${w[1]}`, cells(rule));
        add("Keras output size", field(i, "keras-window", v, show));
        const [tv, ts] = shown(D.equiv, fmtArgs, (e) => [code(`padding=${e.padding}, output_padding=${e.output_padding}`), " gives ",
          field(i, "torch-equiv-size", D.otherWindow[1], String(D.otherWindow[1])), done(e)]);
        add(`PyTorch equivalent for n = ${D.n}`, field(i, "torch-equiv", tv, ts));
        const [mv, ms] = shown(D.module, fmtArgs, (e) => [code(`ConvTranspose(padding=${e.padding}, output_padding=${e.output_padding})`),
          e.crop_before || e.crop_after ? ` followed by a crop of ${e.crop_before} before and ${e.crop_after} after` : ", no crop"]);
        add("PyTorch module, any input length", field(i, "torch-module", mv, ms));
        const [fv, fs] = shown(D.tfShapes, (s) => s.join(","), (s) => s.join(", "));
        // As tf_output_shapes' docstring says.
        const low = Math.max(ke - D.s, 0);
        const extra = D.n === 1 && D.tfShapes.ok && m === "valid" && ke - low > 1
          ? ["; for n = 1, TensorFlow's default CPU kernels (oneDNN) also accept the sizes strictly between ",
            field(i, "tf-onednn", `${low}:${ke}`, `max(${ke} − ${D.s}, 0) = ${low} and ${ke}`), " (TensorFlow 2.21)"] : "";
        add([code("tf.nn.conv_transpose"), "'s ", code("output_shape")],
          `sizes whose convolution gives back n = ${D.n} (TensorFlow's check): `, field(i, "tf-shapes", fv, fs), extra);
      }
      box.append(dl);
    });
    if (M.st.dim === 2 && !torch) box.append(para("tx-note", KERAS_ONE + "."));
    return box;
  };

  // --- the many-to-one set ---
  Explorer.prototype.manyToOne = function () {
    const M = this.model, torch = M.torch;
    const names = DIM_NAMES[M.st.dim - 1];
    const box = el("div");
    box.append(el("p", {}, "A convolution with stride s maps s consecutive input sizes to one output size: it divides by " +
      "the stride and rounds down (numeric padding, 'valid') or up ('same'). A transposed convolution must be told which " +
      "of them to produce; output_padding picks it."));
    M.dims.forEach((D, i) => {
      const head = M.st.dim === 2 ? `${names[i]}: ` : "";
      if (!D.choices.ok) {
        box.append(el("p", {}, head, field(i, "choices", "error:" + D.choices.msg, errorText(D.choices.msg))));
        return;
      }
      const chosen = D.window.ok ? D.window.v[1] : null;
      const items = D.choices.v.map(([size, op]) => el("li", { "aria-current": size === chosen ? "true" : null },
        `size ${size}: `, op === null ? [code("output_padding=None"), " (Keras' default only)"] : code(`output_padding=${op}`),
        size === chosen ? " (this configuration)" : ""));
      const value = D.choices.v.map(([size, op]) => `${size}:${op === null ? "none" : op}`).join(" ");
      const conv = torch ? `padding ${D.p}` : `padding '${D.p.toLowerCase()}'`;
      const lead = D.s === 1 ? "With stride 1 only one size maps" : "Each of these sizes maps";
      box.append(el("p", {}, head, `${lead} to ${D.n} cells under a convolution with kernel ${D.k}, stride ${D.s}, ${conv}, dilation ${D.d}:`),
        field(i, "choices", value, el("ul", { class: "tx-choices" }, items)));
      if (D.outside !== undefined) {
        box.append(el("p", {}, `Yours, ${chosen} cells, is not among them (output_padding=${D.op} ≥ stride ${D.s}, which PyTorch ` +
          `allows when the dilation is larger): the convolution maps it to `, field(i, "outside", D.outside, String(D.outside)), ` cells, not ${D.n}.`));
      }
      if (!torch && D.s > 1 && D.d > 1) {
        box.append(para("tx-note", `Keras refuses stride ${D.s} with dilation ${D.d}: no Keras layer produces these sizes.`));
      }
    });
    return box;
  };

  function start() {
    const root = document.getElementById("tconv-explorer");
    if (root && !root.dataset.ready) {
      root.dataset.ready = "1";
      root.dataset.maxCells = MAX_2D_CELLS;
      root.explorer = new Explorer(root);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
