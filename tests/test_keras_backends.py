"""Keras 3's Conv2DTranspose on TensorFlow, JAX and PyTorch, each in its own worker process
(tconv_utils.keras_backends). The chapter on porting to JAX, Flax and ONNX compares a grid of
kernels, strides and paddings; here the machinery is checked on a few fixed cases, and the three
backends against the NumPy reference on drawn ones, each worker started once per module."""
import contextlib

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis_budget import examples

from bridge_helpers import tf_onednn_on
from tconv_utils import conv_transpose
from tconv_utils.frameworks import tf_refused_dilation
from tconv_utils.keras_backends import BACKENDS, BackendError, KerasBackend, compare_backends

TOL = dict(rtol=1e-5, atol=1e-5)


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 3)).astype(np.float32)
    found = []
    for kernel, stride, padding, dilation in [(3, 2, "same", 1), (4, 3, "valid", 1),
                                              (2, 1, "same", 2), (1, 3, "same", 1),
                                              (3, 2, "same", 2)]:  # the last: Keras refuses
        w = rng.standard_normal((2, 3, kernel, kernel)).astype(np.float32)
        found.append(dict(x=x, w=w, bias=rng.standard_normal(3).astype(np.float32),
                          stride=stride, padding=padding, dilation=dilation))
    return found


def test_three_backends_agree_with_the_reference_and_refuse_alike():
    result = compare_backends(cases())
    versions = result["versions"]
    assert [v["backend"] for v in versions.values()] == list(BACKENDS)
    assert len({v["keras"] for v in versions.values()}) == 1  # one Keras, three backends
    assert all(backend in v for backend, v in versions.items())  # each names its framework
    for case_index, case in enumerate(cases()):
        outputs = [result["outputs"][b][case_index] for b in BACKENDS]
        if case["stride"] > 1 and case["dilation"] > 1:
            assert all(isinstance(o, BackendError) and o.kind == "ValueError" for o in outputs)
            assert all("dilation" in o.message for o in outputs)
            continue
        expected = conv_transpose(case["x"], case["w"], case["bias"], stride=case["stride"],
                                  padding=case["padding"], dilation=case["dilation"])
        for backend, got in zip(BACKENDS, outputs):
            if backend == "tensorflow" and case["dilation"] > 1 and not tf_onednn_on():
                # Only TensorFlow's oneDNN kernels compute a dilation above 1; the worker runs
                # the kernels this machine and TF_ENABLE_ONEDNN_OPTS choose, as this process.
                assert isinstance(got, BackendError) and tf_refused_dilation(got), got
                continue
            assert not isinstance(got, BackendError), got
            assert got.shape == expected.shape, backend
            np.testing.assert_allclose(got, expected, **TOL, err_msg=backend)


def test_misuse_is_named():
    with pytest.raises(ValueError, match="backend must be one of"):
        KerasBackend("mxnet")
    with pytest.raises(RuntimeError, match="not started"):
        KerasBackend("jax").versions()
    error = BackendError("torch", "ValueError", "no")
    assert str(error) == "torch: ValueError: no"
    import pickle
    assert pickle.loads(pickle.dumps(error)).message == "no"


@pytest.fixture(scope="module")
def workers():
    with contextlib.ExitStack() as stack:
        yield {b: stack.enter_context(KerasBackend(b)) for b in BACKENDS}


@st.composite
def keras_configs(draw):
    kernel, stride = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    dilation = draw(st.sampled_from([1, 1, 2]))
    output_padding = draw(st.sampled_from([None] + list(range(stride))))
    spatial = draw(st.lists(st.integers(1, 5), min_size=2, max_size=2))
    c_in, c_out, batch = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(x=rng.standard_normal((batch, c_in, *spatial)).astype(np.float32),
                w=rng.standard_normal((c_in, c_out, kernel, kernel)).astype(np.float32),
                bias=rng.standard_normal(c_out).astype(np.float32) if draw(st.booleans()) else None,
                stride=stride, padding=draw(st.sampled_from(["valid", "same"])),
                output_padding=output_padding, dilation=dilation)


def run_or_refusal(worker, case):
    try:
        return worker.conv_transpose(**case)
    except BackendError as err:
        return err


@examples(200)
@given(case=keras_configs())
# One input cell, 'same', an even kernel: PyTorch's window for padding = k // 2 is empty.
@example(case=dict(x=np.full((1, 1, 1, 1), 0.5, np.float32), w=np.ones((1, 1, 2, 2), np.float32),
                   bias=None, stride=1, padding="same", output_padding=0, dilation=1))
def test_each_backend_matches_the_reference_or_all_refuse_alike(workers, case):
    got = {b: run_or_refusal(w, case) for b, w in workers.items()}
    k, s, d, op = case["w"].shape[-1], case["stride"], case["dilation"], case["output_padding"]
    if s > 1 and d > 1:  # Keras refuses this pair on every backend
        assert all(isinstance(g, BackendError) and "dilation" in g.message for g in got.values())
        return
    try:
        expected = conv_transpose(case["x"], case["w"], case["bias"], stride=s,
                                  padding=case["padding"], output_padding=op, dilation=d)
    except ValueError:  # an output size TensorFlow's rule refuses
        expected = None
    if expected is None:
        # Only 'same' with an even kernel and output_padding=0: TensorFlow refuses, and JAX and
        # torch compute PyTorch's window for padding = k // 2.
        assert case["padding"] == "same" and k % 2 == 0 and op == 0 and d == 1, case
        assert isinstance(got["tensorflow"], BackendError)
        bias = None if case["bias"] is None else torch.from_numpy(case["bias"])
        if (min(case["x"].shape[2:]) - 1) * s + k - 2 * (k // 2) + op < 1:
            # That window is empty (input size 1): PyTorch refuses it, and no backend gives numbers.
            for backend in ("jax", "torch"):
                out = got[backend]
                assert isinstance(out, BackendError) or out.size == 0, (backend, out)
            return
        with torch.no_grad():
            as_torch = torch.nn.functional.conv_transpose2d(
                torch.from_numpy(case["x"]), torch.from_numpy(case["w"]), bias, stride=s,
                padding=k // 2, output_padding=op).numpy()
        for backend in ("jax", "torch"):
            np.testing.assert_allclose(got[backend], as_torch, **TOL, err_msg=backend)
        return
    for backend, out in got.items():
        if backend == "tensorflow" and d > 1 and not tf_onednn_on():
            assert isinstance(out, BackendError) and tf_refused_dilation(out), out
            continue
        assert not isinstance(out, BackendError), (backend, out)
        assert out.shape == expected.shape, backend
        np.testing.assert_allclose(out, expected, **TOL, err_msg=backend)
