"""Keras 3's Conv2DTranspose on TensorFlow, JAX and PyTorch, each in its own worker process
(tconv_utils.keras_backends). The chapter on porting to JAX, Flax and ONNX compares the whole
grid of kernels, strides and paddings; this test checks the machinery on a few cases, starting
each worker once."""
import numpy as np
import pytest

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
