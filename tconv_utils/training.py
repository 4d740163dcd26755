"""A small trained application: 2x super-resolution of scikit-learn's bundled 8x8 digits.

The data ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is downloaded.
Each 8x8 digit is the target; its 4x4 input is the mean of each 2x2 block, so the network has
to put back detail that the averaging removed. Two decoders with the same parameter count
differ only in how they upsample: a transposed convolution, or a nearest-neighbour resize
followed by a convolution (:func:`tconv_utils.checkerboard.upsampling_layer`).

Training is made repeatable with :func:`set_deterministic` (seeds, a fixed thread count,
``torch.use_deterministic_algorithms``); :func:`compare_seeds` and :func:`mean_interval` say what
results over a few seeds can support. torch, scikit-learn, SciPy and matplotlib are imported
inside the functions that need them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_int, numeric_array
from .frameworks import _import_torch
from .checkerboard import upsampling_layer

DECODERS = ("transposed", "resize")


def set_deterministic(seed: int = 0, threads: int = 1) -> None:
    """Seed NumPy's legacy generator and torch, fix the thread count, forbid nondeterministic ops.

    The thread count matters: a float sum split over a different number of threads adds in a
    different order and can change the last bits of every step's result.
    """
    torch = _import_torch()
    seed = as_int("seed", seed, minimum=0)
    threads = as_int("threads", threads, minimum=1)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    np.random.seed(seed)


def downsample(images, factor: int = 2) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block of ``(N, 1, H, W)`` images (H, W multiples of factor)."""
    images = numeric_array("images", images)
    factor = as_int("factor", factor, minimum=1)
    if images.ndim != 4 or images.shape[2] % factor or images.shape[3] % factor:
        raise ValueError(f"images must be (N, C, H, W) with H and W multiples of factor={factor}, "
                         f"got shape {images.shape}")
    n, c, h, w = images.shape
    blocks = images.reshape(n, c, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(3, 5))


def digit_pairs(factor: int = 2, n_test: int = 297, seed: int = 0):
    """``(low_train, high_train, low_test, high_test)``: float32 ``(N, 1, H, W)`` arrays in [0, 1].

    The 1797 digits are scaled from 0..16 to 0..1 and shuffled with ``default_rng(seed)``; the
    last ``n_test`` are held out. ``low`` is :func:`downsample` of ``high``.
    """
    from sklearn.datasets import load_digits

    n_test = as_int("n_test", n_test, minimum=1)
    high = load_digits().images.astype(np.float32)[:, None] / 16.0
    if n_test >= len(high):
        raise ValueError(f"n_test must be smaller than the {len(high)} digits, got {n_test}")
    high = high[np.random.default_rng(seed).permutation(len(high))]
    low = downsample(high, factor).astype(np.float32)
    return low[:-n_test], high[:-n_test], low[-n_test:], high[-n_test:]


def make_decoder(kind: str, channels: int = 32, kernel: int = 3, factor: int = 2, *,
                 dtype=None):
    """A small decoder from ``(N, 1, h, w)`` to ``(N, 1, factor * h, factor * w)``.

    Both kinds are conv 3x3 -> ReLU -> upsample -> ReLU -> conv 3x3 -> ReLU -> conv 3x3, and
    differ only in the upsampling layer: ``'transposed'`` is ``ConvTranspose2d(kernel,
    stride=factor)``, ``'resize'`` is nearest-neighbour resize then ``Conv2d(kernel)``. With
    the same odd ``kernel`` both layers hold ``channels**2 * kernel**2 + channels`` parameters.

    ``dtype`` (a torch floating dtype; default torch's default dtype) is the dtype the initial
    weights are drawn in. Drawing them in float64, rather than in float32 and converting, keeps
    them the same on every x86-64 CPU: torch's float32 random initialisation can differ in its
    last bit with the vector instructions it runs on, and training magnifies that difference
    into the printed digits.
    """
    torch = _import_torch()
    nn = torch.nn
    if kind not in DECODERS:
        raise ValueError(f"kind must be one of {DECODERS}, got {kind!r}")
    channels = as_int("channels", channels, minimum=1)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a torch floating dtype such as torch.float64, got {dtype!r}")
    method = "transposed" if kind == "transposed" else "nearest"
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype or default)   # the layers draw their weights in this dtype
    try:
        return nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            upsampling_layer(method, channels, channels, kernel=kernel, stride=factor), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 1, 3, padding=1),
        )
    finally:
        torch.set_default_dtype(default)


def _dtype(model):
    """The floating dtype of a model's parameters (float32 for a model without any)."""
    torch = _import_torch()
    return next((p.dtype for p in model.parameters()), torch.float32)


def parameter_count(model) -> int:
    """Number of trainable numbers in a torch module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train(model, low, high, *, epochs: int = 30, batch_size: int = 64, lr: float = 3e-3,
          seed: int = 0) -> list[float]:
    """Fit ``model`` to map ``low`` to ``high`` with Adam on the mean squared error.

    The batches come from a ``torch.Generator`` seeded with ``seed``, so two calls with the same
    arguments (after :func:`set_deterministic`) give the same weights. The data are cast to the
    model's dtype (a model from ``make_decoder(..., dtype=torch.float64)`` trains in float64).
    Returns the mean training loss of each epoch.
    """
    torch = _import_torch()
    epochs = as_int("epochs", epochs, minimum=1)
    batch_size = as_int("batch_size", batch_size, minimum=1)
    dtype = _dtype(model)
    x = torch.as_tensor(numeric_array("low", low), dtype=dtype)
    y = torch.as_tensor(numeric_array("high", high), dtype=dtype)
    if len(x) != len(y):
        raise ValueError(f"low and high must hold the same number of images, got {len(x)} "
                         f"and {len(y)}")
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(total / len(x))
    return losses


def predict(model, low, *, clip: bool = True) -> np.ndarray:
    """The model's output for ``low`` as a NumPy array (in the model's dtype), clipped to the
    data range [0, 1] unless ``clip=False``."""
    torch = _import_torch()
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(numeric_array("low", low), dtype=_dtype(model)))
    return (out.clamp(0.0, 1.0) if clip else out).numpy()


def interpolate(low, factor: int = 2, mode: str = "bicubic") -> np.ndarray:
    """Classical upsampling baseline (``torch.nn.functional.interpolate``), clipped to [0, 1]."""
    torch = _import_torch()
    x = torch.as_tensor(numeric_array("low", low), dtype=torch.float32)
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    out = torch.nn.functional.interpolate(x, scale_factor=factor, mode=mode, **kwargs)
    return out.clamp(0.0, 1.0).numpy()


def psnr(prediction, target, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image, in dB: ``10 log10(range**2 / MSE)``.

    Computed per image over all axes but the first; an exact match gives ``inf``.
    """
    prediction = numeric_array("prediction", prediction).astype(np.float64)
    target = numeric_array("target", target).astype(np.float64)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got "
                         f"{prediction.shape} and {target.shape}")
    mse = ((prediction - target) ** 2).reshape(len(target), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def mean_std(values, decimals: int) -> str:
    """``'mean ± std'`` of ``values`` (standard deviation with ``ddof=1``; 0 for one value),
    both rounded to ``decimals``: how results over seeds are printed."""
    values = numeric_array("values", values).astype(np.float64).ravel()
    decimals = as_int("decimals", decimals, minimum=0)
    if values.size == 0:
        raise ValueError("values must hold at least one number")
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.{decimals}f} ± {std:.{decimals}f}"


def _t_quantile(confidence: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, df))


def _confidence(confidence) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return confidence


def _seed_values(name: str, values) -> np.ndarray:
    values = numeric_array(name, values).astype(np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"{name} needs at least two values (one per seed), got {values.size}")
    return values


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean over seeds and its Student-t confidence interval.

    The interval is ``mean ± t * s / sqrt(n)`` with the t quantile for ``n - 1`` degrees of
    freedom (4.30 for three seeds at 95 %, 2.26 for ten), so few seeds give a wide interval.
    Values that do not vary give the interval ``(mean, mean)``.
    """
    values = _seed_values("values", values)
    confidence = _confidence(confidence)
    mean = float(values.mean())
    half = _t_quantile(confidence, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return mean, float(mean - half), float(mean + half)


@dataclass(frozen=True)
class SeedComparison:
    """The difference of two sets of results over seeds, as :func:`compare_seeds` returns it."""

    difference: float   # mean of first - mean of second
    low: float          # the confidence interval of that difference
    high: float
    p_value: float      # two-sided, for "no difference"
    df: float           # degrees of freedom of the t distribution used
    confidence: float
    paired: bool

    @property
    def detected(self) -> bool:
        """Whether the interval excludes zero: a difference the seeds resolve."""
        return self.low > 0.0 or self.high < 0.0

    @property
    def verdict(self) -> str:
        return "difference detected" if self.detected else "no difference detected"


def compare_seeds(first, second, *, paired: bool = False,
                  confidence: float = 0.95) -> SeedComparison:
    """Is the difference between two sets of results over seeds more than seed noise?

    Unpaired (``paired=False``, for runs whose seeds draw unrelated things): Welch's t test, the
    difference of means with the standard error ``sqrt(s1**2 / n1 + s2**2 / n2)`` and the
    Welch-Satterthwaite degrees of freedom. Paired (``paired=True``, for two runs per seed that
    share that seed's draws, such as one network before and after training, or two networks
    given the same initial numbers and batches): the t interval of the per-seed differences,
    ``n - 1`` degrees of freedom. The interval uses the t quantile, not 2: with three seeds
    two standard errors would hold a true zero difference far less often than 95 % of the time.

    When the seeds show no noise at all (neither set varies or, paired, the differences do not),
    the interval is the difference itself and the p-value 0 if it is not zero, 1 if it is. Each
    set needs at least two values, and paired sets the same number.
    """
    x, y = _seed_values("first", first), _seed_values("second", second)
    confidence = _confidence(confidence)
    if paired:
        if x.size != y.size:
            raise ValueError(f"paired=True needs one value per seed in each set, got {x.size} "
                             f"and {y.size}")
        d = x - y
        difference, se, df = d.mean(), d.std(ddof=1) / np.sqrt(d.size), float(d.size - 1)
    else:
        a, b = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
        difference, se = x.mean() - y.mean(), np.sqrt(a + b)
        df = float((a + b) ** 2 / (a ** 2 / (x.size - 1) + b ** 2 / (y.size - 1))
                   if a + b > 0 else x.size + y.size - 2)
    difference = float(difference)
    if se == 0:
        return SeedComparison(difference, difference, difference,
                              0.0 if difference else 1.0, df, confidence, paired)
    from scipy import stats

    half = _t_quantile(confidence, df) * se
    p_value = float(2 * stats.t.sf(abs(difference) / se, df))
    return SeedComparison(difference, float(difference - half), float(difference + half),
                          p_value, df, confidence, paired)


def plot_super_resolution(low, outputs: dict, high, *, count: int = 6, dpi: int = 80):
    """One row per image: the input, each entry of ``outputs`` (title -> images), the target."""
    import matplotlib.pyplot as plt

    size = "{}x{}".format
    columns = [(f"input ({size(*low.shape[2:])})", low), *outputs.items(),
               (f"target ({size(*high.shape[2:])})", high)]
    fig, axes = plt.subplots(count, len(columns), figsize=(1.5 * len(columns), 1.5 * count),
                             dpi=dpi, squeeze=False)
    for col, (title, images) in enumerate(columns):
        axes[0, col].set_title(title, fontsize=8)
        for row in range(count):
            axes[row, col].imshow(images[row, 0], cmap="gray_r", vmin=0, vmax=1,
                                  interpolation="nearest")
            axes[row, col].axis("off")
    fig.tight_layout()
    return fig
