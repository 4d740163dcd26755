"""Porting transposed convolutions between Keras and PyTorch (tconv_utils.porting).

Every port is checked by running both frameworks on the same input, at two input sizes, since a
ported module must be right for any size. Dilated layers (stride 1: Keras refuses dilation with
stride) run in Keras too: TensorFlow's oneDNN kernels compute them and the numbers are checked;
its other kernels refuse them, and the tests check that refusal instead
(bridge_helpers.keras_unless_refused), so the suite passes with TF_ENABLE_ONEDNN_OPTS=0 too.
"""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis_budget import examples

from bridge_helpers import keras_unless_refused, tf_onednn_on
from tconv_utils import conv_transpose, frameworks, porting, shapes

keras = frameworks.import_keras()
import tensorflow as tf  # noqa: E402  (after import_keras, which quiets TensorFlow's logging)

TOL = dict(rtol=1e-5, atol=1e-5)


def torch_run(module, x):
    with torch.no_grad():
        return module(torch.as_tensor(x)).numpy()


def keras_legal(n, kernel, stride, padding, output_padding, dilation):
    """True where Keras accepts the configuration for input length n (TF refuses some sizes)."""
    try:
        shapes.keras_placement(n, kernel, stride, padding, output_padding, dilation)
    except ValueError:
        return False
    return True


@st.composite
def keras_configs(draw, dilated=False):
    nd = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    stride = (1,) * nd if dilated else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(2, 3)) for _ in range(nd)) if dilated else (1,) * nd
    padding = draw(st.sampled_from(["valid", "same"]))
    if draw(st.booleans()):
        output_padding = None
    else:
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
    sizes = [tuple(draw(st.integers(1, 4)) for _ in range(nd)) for _ in range(2)]
    ops = (None,) * nd if output_padding is None else output_padding
    for size in sizes:
        assume(all(keras_legal(n, k, s, padding, op, d)
                   for n, k, s, op, d in zip(size, kernel, stride, ops, dilation)))
    return dict(nd=nd, kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                output_padding=output_padding, sizes=sizes, bias=draw(st.booleans()),
                c_in=draw(st.integers(1, 3)), c_out=draw(st.integers(1, 3)),
                seed=draw(st.integers(0, 2**16)))


def random_layer(cfg):
    """A built Keras layer with random weights, its weights in PyTorch layout, and inputs."""
    rng = np.random.default_rng(cfg["seed"])
    w = rng.standard_normal((cfg["c_in"], cfg["c_out"], *cfg["kernel"])).astype(np.float32)
    b = rng.standard_normal(cfg["c_out"]).astype(np.float32) if cfg["bias"] else None
    layer = frameworks.keras_layer(w, b, stride=cfg["stride"], padding=cfg["padding"],
                                   output_padding=cfg["output_padding"], dilation=cfg["dilation"])
    xs = [rng.standard_normal((2, cfg["c_in"], *size)).astype(np.float32) for size in cfg["sizes"]]
    return layer, w, b, xs


@examples(300)
@given(keras_configs())
def test_torch_from_keras_matches_keras(cfg):
    layer, _, _, xs = random_layer(cfg)
    module = porting.torch_from_keras(layer)
    for x in xs:  # one module, two input sizes
        expected = frameworks.keras_call(layer, x)
        got = torch_run(module, x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)


@examples(60)
@given(keras_configs(dilated=True))
def test_torch_from_keras_dilated_matches_keras(cfg):
    layer, _, _, xs = random_layer(cfg)
    module = porting.torch_from_keras(layer)  # the port needs no TensorFlow kernel
    for x in xs:
        expected = keras_unless_refused(lambda: frameworks.keras_call(layer, x), cfg["dilation"])
        if expected is not None:
            np.testing.assert_allclose(torch_run(module, x), expected, **TOL)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel, dilation", [(3, 2), (2, 3), (4, 2)])
def test_keras_computes_dilation_at_stride_one_exactly_with_onednn(kernel, dilation, padding):
    # TensorFlow's oneDNN CPU kernels run dilation > 1 at stride 1; its other kernels refuse it
    # with InvalidArgumentError, and frameworks.tf_dilated turns that one refusal into None.
    rng = np.random.default_rng(kernel * dilation)
    w = rng.integers(-3, 4, (2, 3, kernel, kernel)).astype(np.float32)
    x = rng.integers(-3, 4, (1, 2, 5, 4)).astype(np.float32)
    run = lambda: frameworks.keras_conv_transpose(x, w, padding=padding, dilation=dilation)  # noqa: E731
    got = frameworks.tf_dilated(run)
    if tf_onednn_on():
        expected = conv_transpose(x, w, padding=padding, dilation=dilation)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)
    else:
        assert got is None
        with pytest.raises(tf.errors.InvalidArgumentError, match="dilation rates larger than 1"):
            run()


def test_tf_dilated_lets_other_errors_through():
    # Only TensorFlow's refusal of a dilation becomes None; Keras' own refusal of dilation with
    # stride, or a wrong output_padding, still raises.
    x = np.ones((1, 1, 4), np.float32)
    w = np.ones((1, 1, 3), np.float32)
    with pytest.raises(ValueError, match="dilation"):
        frameworks.tf_dilated(lambda: frameworks.keras_conv_transpose(x, w, stride=2, dilation=2))
    with pytest.raises(tf.errors.OpError):
        frameworks.tf_dilated(lambda: frameworks.keras_conv_transpose(
            np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2), np.float32), padding="same",
            output_padding=0))
    assert frameworks.tf_refused_dilation(
        tf.errors.InvalidArgumentError(None, None, "Current CPU implementations do not yet "
                                                   "support dilation rates larger than 1."))
    assert not frameworks.tf_refused_dilation(ValueError("dilation rates larger than 1"))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_torch_from_keras_handles_every_rank_and_the_activation(nd):
    rng = np.random.default_rng(nd)
    w = rng.standard_normal((2, 3) + (3,) * nd).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    cls = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
           3: keras.layers.Conv3DTranspose}[nd]
    layer = cls(3, 3, strides=2, padding="same", activation="tanh")
    layer.build((None,) + (None,) * nd + (2,))
    layer.set_weights([frameworks.keras_kernel_from_torch(w), b])
    module = porting.torch_from_keras(layer)
    assert isinstance(module[-1], torch.nn.Tanh)
    x = rng.standard_normal((1, 2) + (3,) * nd).astype(np.float32)
    np.testing.assert_allclose(torch_run(module, x), frameworks.keras_call(layer, x), **TOL)


# Every activation name the porter maps, and inputs on both sides of zero (LeakyReLU's slope
# and ReLU's cut act on the negative side only).
ACTIVATIONS = ["leaky_relu", "linear", "relu", "sigmoid", "tanh"]
BOTH_SIGNS = np.linspace(-4, 4, 17, dtype=np.float32)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_layer_activation_ports_with_keras_numbers(activation):
    # A 1x1 kernel of weight 1 passes the input through, so the output is the activation alone.
    layer = keras.layers.Conv1DTranspose(1, 1, activation=activation, use_bias=False)
    layer.build((None, None, 1))
    layer.set_weights([np.ones((1, 1, 1), np.float32)])
    x = BOTH_SIGNS.reshape(1, 1, -1)
    np.testing.assert_allclose(torch_run(porting.torch_from_keras(layer), x),
                               frameworks.keras_call(layer, x), **TOL)


def test_the_activation_list_is_the_porters():
    layer = keras.layers.Conv1DTranspose(1, 1, activation="softplus")
    layer.build((None, None, 1))
    with pytest.raises(ValueError, match="softplus") as info:
        porting.torch_from_keras(layer)
    assert f"supported: {ACTIVATIONS}" in str(info.value)


@pytest.mark.parametrize("kind, config", [
    ("ReLU", {}), ("ReLU", {"negative_slope": 0.1}), ("LeakyReLU", {}),
    ("LeakyReLU", {"negative_slope": 0.05}),
    *[("Activation", {"activation": a}) for a in ACTIVATIONS],
    *[("Dense", {"units": 17, "activation": a, "kernel_initializer": "identity"})
      for a in ACTIVATIONS],
    ("Dense", {"units": 3, "use_bias": False}),
], ids=str)
def test_each_model_activation_ports_with_keras_numbers(kind, config):
    model = keras.Sequential([keras.Input((17,)), getattr(keras.layers, kind)(**config)])
    x = BOTH_SIGNS[None]
    np.testing.assert_allclose(torch_run(porting.torch_from_keras_model(model), x),
                               np.asarray(model(x)), **TOL)


def test_the_obvious_port_of_same_is_shifted_by_one_cell():
    # Keras 'same', kernel 3, stride 2 against PyTorch padding=1, output_padding=1: the shapes
    # agree, the numbers are the Keras output moved by one cell (the chapter's first figure).
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 1, 5, 5)).astype(np.float32)
    expected = frameworks.keras_conv_transpose(x, w, stride=2, padding="same")
    wrong = frameworks.torch_conv_transpose(x, w, stride=2, padding=1, output_padding=1)
    assert wrong.shape == expected.shape == (1, 1, 10, 10)
    assert np.abs(wrong - expected).max() > 0.1
    np.testing.assert_allclose(wrong[..., :-1, :-1], expected[..., 1:, 1:], **TOL)


@examples(300)
@given(k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3),
       mode=st.sampled_from(["valid", "same"]), op=st.integers(-1, 3), n=st.integers(1, 40))
def test_keras_crop_as_torch_reproduces_keras_placement_at_every_length(k, s, d, mode, op, n):
    assume(s == 1 or d == 1)
    op = None if op < 0 else op
    assume(op is None or op < s)
    assume(keras_legal(n, k, s, mode, op, d))
    args = porting.keras_crop_as_torch(k, s, mode, op, d)  # measured at a few small lengths
    start, size = shapes.keras_placement(n, k, s, mode, op, d)
    torch_size = shapes.torch_output_size(n, k, s, args.padding, args.output_padding, d)
    assert min(args.crop_before, args.crop_after) >= 0
    assert args.padding + args.crop_before == start
    assert torch_size - args.crop_before - args.crop_after == size
    if mode == "same" and op is None:  # the rule measured in DESIGN.md: crop (k - s) // 2 first
        assert start == max(d * (k - 1) + 1 - s, 0) // 2


@pytest.mark.parametrize("k", range(1, 6))
@pytest.mark.parametrize("s", range(1, 4))
@pytest.mark.parametrize("d", [1, 2])
def test_keras_expressible_pairs_are_the_exact_ports(k, s, d):
    # The pairs listed are exactly the PyTorch (padding, output_padding) that some Keras layer
    # reproduces with no crop, at every input length.
    pairs = porting.keras_expressible_pairs(k, s, d)
    for p, op in itertools.product(range(k * d), range(max(s, d))):
        exact = []
        for n in (1, 2, 5):
            try:
                shapes.torch_output_size(n, k, s, p, op, d)
            except ValueError:
                continue
            found = shapes.keras_args_for_torch(n, k, s, p, op, d)
            exact.append(found is not None and found.exact)
        assert ((p, op) in pairs) == (bool(exact) and all(exact)), (p, op)


# ---------------------------------------------------------------------------------------------
# PyTorch -> Keras
# ---------------------------------------------------------------------------------------------

@st.composite
def torch_configs(draw):
    nd = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    # Dilation only at stride 1: Keras refuses the pair (test_keras_from_torch_names_...).
    dilated = draw(st.booleans())
    stride = (1,) * nd if dilated else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(2, 3)) for _ in range(nd)) if dilated else (1,) * nd
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    # PyTorch's bound: output_padding < max(stride, dilation).
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    sizes = [tuple(draw(st.integers(1, 4)) for _ in range(nd)) for _ in range(2)]
    for size in sizes:
        for n, k, s, p, op, d in zip(size, kernel, stride, padding, output_padding, dilation):
            try:
                shapes.torch_output_size(n, k, s, p, op, d)
            except ValueError:
                assume(False)
    return dict(nd=nd, kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                output_padding=output_padding, sizes=sizes, bias=draw(st.booleans()),
                c_in=draw(st.integers(1, 3)), c_out=draw(st.integers(1, 3)),
                seed=draw(st.integers(0, 2**16)))


def random_module(cfg):
    rng = np.random.default_rng(cfg["seed"])
    cls = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d}[cfg["nd"]]
    module = cls(cfg["c_in"], cfg["c_out"], cfg["kernel"], stride=cfg["stride"],
                 padding=cfg["padding"], output_padding=cfg["output_padding"],
                 dilation=cfg["dilation"], bias=cfg["bias"])
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.as_tensor(rng.standard_normal(tuple(p.shape)), dtype=torch.float32))
    xs = [rng.standard_normal((2, cfg["c_in"], *size)).astype(np.float32) for size in cfg["sizes"]]
    return module, xs


def some_keras_layer_matches(module, xs):
    """Search every Keras layer with the module's weights: does any give PyTorch's outputs?

    A port must hold at every input size, so one 5-cell input joins ``xs``: at tiny sizes a
    dilated kernel can leave only zero cells, which any window matches.
    """
    w = module.weight.detach().numpy()
    b = None if module.bias is None else module.bias.detach().numpy()
    nd = len(module.kernel_size)
    xs = list(xs) + [np.random.default_rng(5).standard_normal((1, w.shape[0]) + (5,) * nd)
                     .astype(np.float32)]
    expected = [torch_run(module, x) for x in xs]
    op_choices = [None] + list(itertools.product(*(range(s) for s in module.stride)))
    def matches(padding, op, x, e):
        try:
            g = keras_unless_refused(lambda: frameworks.keras_conv_transpose(
                x, w, b, stride=module.stride, padding=padding, output_padding=op,
                dilation=module.dilation), module.dilation)
        except (ValueError, tf.errors.OpError):
            return False  # Keras refuses this output_padding for this size (TensorFlow's
            # oneDNN kernels raise AbortedError, its others InvalidArgumentError)
        # None: TensorFlow's non-oneDNN kernels refuse the dilation, so no Keras layer runs it.
        return g is not None and g.shape == e.shape and np.allclose(g, e, **TOL)

    return any(all(matches(padding, op, x, e) for x, e in zip(xs, expected))  # stops early
               for padding, op in itertools.product(["valid", "same"], op_choices))


@examples(300)
@given(torch_configs())
def test_keras_from_torch_matches_torch_or_no_keras_layer_does(cfg):
    module, xs = random_module(cfg)
    try:
        layer = porting.keras_from_torch(module)
    except ValueError as err:
        assert "Keras" in str(err) and "padding" in str(err)
        assert not some_keras_layer_matches(module, xs)
        return
    for x in xs:
        expected = torch_run(module, x)
        got = keras_unless_refused(lambda: frameworks.keras_call(layer, x), cfg["dilation"])
        if got is not None:
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, **TOL)


@examples(40)
@given(keras_configs())
def test_round_trip_keras_torch_keras_keeps_the_outputs(cfg):
    layer, _, _, xs = random_layer(cfg)
    again = porting.keras_from_torch(porting.torch_from_keras(layer))
    for x in xs:
        np.testing.assert_allclose(frameworks.keras_call(again, x), frameworks.keras_call(layer, x), **TOL)


@pytest.mark.parametrize("module, argument", [
    (torch.nn.ConvTranspose2d(4, 2, 3, groups=2), "groups=2"),
    (torch.nn.ConvTranspose1d(1, 1, 3, stride=2, dilation=2), "dilation"),
    (torch.nn.ConvTranspose2d(1, 1, 3, stride=(1, 2), dilation=(2, 1)), "dilation"),
    (torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1), "padding=(1, 1)"),
    (torch.nn.ConvTranspose1d(1, 1, 2, stride=1, dilation=2, output_padding=1), "output_padding"),
    (torch.nn.ConvTranspose1d(1, 1, 3, padding=2), "padding=(2,)"),
])
def test_keras_from_torch_names_what_keras_cannot_express(module, argument):
    with pytest.raises(ValueError, match=f"{type(module).__name__}.*{argument.replace('(', '[(]').replace(')', '[)]')}.*"):
        porting.keras_from_torch(module)


def test_keras_from_torch_refuses_a_padding_mode_keras_lacks():
    module = torch.nn.ConvTranspose2d(1, 1, 3)
    module.padding_mode = "reflect"  # PyTorch's constructor refuses it; an edited module may not
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        porting.keras_from_torch(module)


def test_keras_from_torch_refuses_dims_that_need_different_keras_modes():
    # Dim 0 alone is Keras 'same' with output_padding None; dim 1 alone is 'same' with
    # output_padding 0; Keras cannot mix None with an int in one layer.
    module = torch.nn.ConvTranspose2d(1, 1, (2, 3), stride=2, padding=(0, 1))
    with pytest.raises(ValueError, match="one padding mode for all dims"):
        porting.keras_from_torch(module)
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3)).astype(np.float32)
    assert not some_keras_layer_matches(module, [x])


def test_keras_from_torch_ports_a_3d_layer():
    module = torch.nn.ConvTranspose3d(2, 3, 3, stride=2)
    layer = porting.keras_from_torch(module)
    assert type(layer).__name__ == "Conv3DTranspose"
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(frameworks.keras_call(layer, x), torch_run(module, x), **TOL)


def test_keras_from_torch_expresses_a_dilated_stride_one_layer():
    module = torch.nn.ConvTranspose1d(2, 3, 3, dilation=2, padding=2)
    layer = porting.keras_from_torch(module)
    config = layer.get_config()
    assert config["dilation_rate"] == (2,) and config["padding"] == "same"
    back = porting.torch_from_keras(layer)
    x = np.random.default_rng(1).standard_normal((2, 2, 6)).astype(np.float32)
    np.testing.assert_allclose(torch_run(back, x), torch_run(module, x), **TOL)
    in_keras = keras_unless_refused(lambda: frameworks.keras_call(layer, x), 2)
    if in_keras is not None:
        np.testing.assert_allclose(in_keras, torch_run(module, x), **TOL)


@pytest.mark.parametrize("config, torch_col, keras_col, outcome", [
    ((3, 2, "same", None, 1), "p=0, op=0, crop (0, 1)", "given", "same numbers"),
    ((4, 2, 1, 0, 1), "given", "'same', op=None", "same numbers"),
    ((3, 1, 2, 2, 3), "given", "'valid', op=None, crop (2, 0)", "same numbers"),
    ((2, 1, "valid", 0, 3), "p=0, op=0", "given", "same numbers"),
    ((2, 2, 0, 1, 3), "given", "none", "no Keras layer"),        # Keras refuses stride + dilation
    ((3, 1, 0, 2, 3), "given", "none", "no Keras layer"),        # no Keras window holds it
    ((2, 1, "same", 0, 1), "-", "refuses", "refused"),           # TensorFlow refuses size 3
    ((3, 2, 1, 2, 1), "refuses", "-", "refused"),                # output_padding >= stride
])
def test_compare_in_both_runs_both_frameworks(config, torch_col, keras_col, outcome):
    row = porting.compare_in_both(4, *config)
    assert (row.torch, row.keras, row.outcome, row.agree) == (torch_col, keras_col, outcome, True)
    # Keras ran with a dilation above 1 exactly in the dilated rows at stride 1 that reach it;
    # TensorFlow refused it exactly where its oneDNN kernels are off.
    kernel, stride, _, _, dilation = config
    assert row.keras_dilated == (dilation > 1 and stride == 1)
    assert row.tf_refused_dilation == (row.keras_dilated and not tf_onednn_on())
    table = porting.comparison_table([row, row]).splitlines()
    mark = "*" if row.keras_dilated else ""
    assert table[1] == table[2] and table[1].endswith(outcome + mark)
    assert len(table) == 3 + 2 * bool(mark) and (not mark or table[3].startswith("* Keras"))


def test_compare_in_both_catches_a_wrong_translation(monkeypatch):
    # The obvious port of Keras 'same' (kernel 3, stride 2): right size, shifted numbers.
    monkeypatch.setattr(shapes, "torch_args_for_keras", lambda *a: shapes.TorchArgs(1, 1))
    row = porting.compare_in_both(4, 3, 2, "same")
    assert (row.outcome, row.agree, row.size) == ("different numbers", False, 8)
    monkeypatch.setattr(shapes, "torch_output_size", lambda *a: 99)  # a rule PyTorch breaks
    assert not porting.compare_in_both(4, 3, 1, 1, 0).agree


def test_wrong_inputs_are_named():
    with pytest.raises(TypeError, match="Conv2D"):
        porting.torch_from_keras(keras.layers.Conv2D(1, 3))
    with pytest.raises(ValueError, match="not built"):
        porting.torch_from_keras(keras.layers.Conv2DTranspose(1, 3))
    with pytest.raises(TypeError, match="ConvTranspose"):
        porting.keras_from_torch(torch.nn.Conv2d(1, 1, 3))


# ---------------------------------------------------------------------------------------------
# A whole decoder
# ---------------------------------------------------------------------------------------------

def set_random_weights(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Non-trivial statistics; variances positive. Keras omits gamma/beta when unused.
            draw = {"gamma": lambda c: rng.uniform(0.5, 1.5, c), "beta": rng.standard_normal,
                    "moving_mean": rng.standard_normal,
                    "moving_variance": lambda c: rng.uniform(0.2, 2.0, c)}
            layer.set_weights([draw[v.name](v.shape[0]) for v in layer.weights])
        else:
            layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])


def test_a_decoder_with_batch_norm_ports_to_float32_round_off():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(3 * 3 * 4),
        keras.layers.Reshape((3, 3, 4)),
        keras.layers.BatchNormalization(momentum=0.8, epsilon=0.01),
        keras.layers.ReLU(),
        keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.LeakyReLU(0.1),
        keras.layers.Conv2DTranspose(3, 4, strides=2, padding="valid", use_bias=False),
        keras.layers.BatchNormalization(center=False),
        keras.layers.Activation("relu"),
        keras.layers.Conv2DTranspose(2, 5, strides=3, padding="same", activation="sigmoid"),
    ])
    rng = np.random.default_rng(0)
    set_random_weights(model, rng)
    port = porting.torch_from_keras_model(model)
    assert not port.training
    bns = [m for m in port if isinstance(m, torch.nn.BatchNorm2d)]
    assert [b.eps for b in bns] == pytest.approx([0.01, 1e-3, 1e-3])
    assert [b.momentum for b in bns] == pytest.approx([0.2, 0.01, 0.01])
    z = rng.standard_normal((4, 6)).astype(np.float32)
    expected = np.moveaxis(np.asarray(model(z, training=False)), -1, 1)
    got = torch_run(port, z)
    assert got.shape == expected.shape == (4, 2, 42, 42)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_momentum_conventions_agree_in_training():
    # Keras: moving = m * moving + (1 - m) * batch; PyTorch: running = (1 - p) * running + p * batch.
    # The ported p = 1 - m gives the same moving mean after one training step.
    model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Conv2DTranspose(3, 2, 2),
                              keras.layers.BatchNormalization(momentum=0.7)])
    rng = np.random.default_rng(3)
    set_random_weights(model, rng)
    bn_stats = [np.asarray(model.layers[1].moving_mean), np.asarray(model.layers[1].moving_variance)]
    port = porting.torch_from_keras_model(model).train()
    x = rng.standard_normal((5, 2, 2, 3)).astype(np.float32)
    model(x, training=True)
    port(torch.as_tensor(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(port[1].running_mean.numpy(),
                               np.asarray(model.layers[1].moving_mean), rtol=1e-5, atol=1e-6)
    # The variances differ by design: Keras averages in the biased batch variance, PyTorch the
    # unbiased one (m / (m - 1) times larger, m the cells per channel). No argument aligns them.
    m = 5 * 4 * 4
    batch = np.asarray(model.layers[0](x)).reshape(-1, 3)
    keras_var = 0.7 * bn_stats[1] + 0.3 * batch.var(axis=0)
    torch_var = 0.7 * bn_stats[1] + 0.3 * batch.var(axis=0) * m / (m - 1)
    np.testing.assert_allclose(np.asarray(model.layers[1].moving_variance), keras_var, rtol=1e-4)
    np.testing.assert_allclose(port[1].running_var.numpy(), torch_var, rtol=1e-4)


def test_unsupported_model_layers_are_named():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)])
    with pytest.raises(ValueError, match="Dropout"):
        porting.torch_from_keras_model(model)
    capped = keras.Sequential([keras.Input((4,)), keras.layers.ReLU(max_value=6.0)])
    with pytest.raises(ValueError, match="max_value/threshold have no port here"):
        porting.torch_from_keras_model(capped)
    with pytest.raises(TypeError, match="Sequential"):
        porting.torch_from_keras_model(keras.layers.Dense(2))


def test_plot_port_difference_draws_three_panels_and_checks_shapes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.arange(12.0).reshape(3, 4)
    b = a.copy()
    b[0, 0] = -4.0  # the port is wrong in one cell
    fig = porting.plot_port_difference(a, b)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["Keras", "PyTorch port", "difference"]
    # Both outputs on one colour scale (one colour bar), the difference on its own, centred at 0.
    norms = [(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in fig.axes[:3]]
    assert norms == [(-4.0, 11.0), (-4.0, 11.0), (-4.0, 4.0)]
    assert len(fig.axes) == 5  # three panels and two colour bars
    plt.close(fig)
    with pytest.raises(ValueError, match="one shape"):
        porting.plot_port_difference(a, a[:2])


def test_a_crop_that_moved_with_the_input_length_is_refused(monkeypatch):
    # No Keras configuration does this (the hypothesis test above checks lengths 1-40); a fixed
    # PyTorch module could not follow it, so the port must refuse rather than guess.
    real = shapes.torch_args_for_keras

    def drifting(n, *args):
        found = real(n, *args)
        return shapes.TorchArgs(found.padding, found.output_padding, n % 2, found.crop_after)

    monkeypatch.setattr(shapes, "torch_args_for_keras", drifting)
    with pytest.raises(ValueError, match="depends on the input length"):
        porting.keras_crop_as_torch(3, 2, "same")


def test_the_module_classes_are_importable_by_name():
    from tconv_utils.porting import ChannelsLastReshape, Crop

    assert issubclass(Crop, torch.nn.Module) and issubclass(ChannelsLastReshape, torch.nn.Module)
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    assert Crop((1, 0), (0, 2))(x).shape == (1, 2, 2, 2)
    with pytest.raises(AttributeError, match="no attribute 'Pad'"):
        porting.Pad


def test_a_module_refused_at_some_input_length_says_which():
    # Keras 'same', kernel 4, stride 2, output_padding 0 gives n - 1 cells back for every n; the
    # message names the first length probed, so a reader sees where the module fails.
    with pytest.raises(ValueError, match=r"every input length; at n=1: output size 0 < 1 for n=1"):
        porting.keras_crop_as_torch(4, 2, "same", 0)
    with pytest.raises(ValueError, match=r"^padding must be 'valid' or 'same', got 'full'$"):
        porting.keras_crop_as_torch(3, 2, "full")  # refused whatever the length: no prefix


def test_importing_porting_needs_numpy_only():
    import subprocess
    import sys
    code = ("import sys, tconv_utils.porting; "
            "print(sorted(m for m in ('torch', 'keras', 'tensorflow', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
