"""Argument checks shared by the library: every message names the argument, the value and the rule."""
from __future__ import annotations

import numbers

import numpy as np


def as_int(name: str, value, *, minimum: int | None = None) -> int:
    """One integer (bools refused), optionally at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def per_dim(name: str, value, ndim: int, *, minimum: int | None = None) -> tuple[int, ...]:
    """An int, or one int per spatial dimension, as a tuple of ``ndim`` ints."""
    if isinstance(value, (list, tuple)):
        if len(value) != ndim:
            raise ValueError(
                f"{name} must be an int or a sequence of {ndim} ints (one per spatial dim), "
                f"got {value!r} of length {len(value)}")
        return tuple(as_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value))
    return (as_int(name, value, minimum=minimum),) * ndim


def numeric_array(name: str, value) -> np.ndarray:
    """A real, numeric NumPy array (bool, complex, object and strings refused)."""
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr
