"""Hypothesis strategies shared by the engine and parser tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

#: Values that keep float64 comparisons meaningful at 1e-10 relative.
finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False, width=64)
small_ints = st.integers(min_value=-5, max_value=5)
#: Saturation: hand-sized values mixed with values where exp under- or overflows (|x| <= 1e4).
extreme = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([-1e4, -800.0, -745.5, -40.0, -0.0, 0.0, 40.0, 709.9, 800.0, 1e4]),
    st.floats(-10, 10, allow_nan=False, width=64),
)


def extreme_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays that mix hand-sized values with values far into saturation."""
    return arrays(np.float64, shape, elements=extreme)


def float_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of `shape` with moderate finite values."""
    return arrays(np.float64, shape, elements=finite)


def int_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of small integers, the values of hand-computable exam problems."""
    return arrays(np.float64, shape, elements=small_ints.map(float))


def assert_close(actual, expected, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Both engines must agree to 1e-10 relative (atol guards values that are exactly zero)."""
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


def central_difference(f, x: np.ndarray, grad_out: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d(sum(f(x) * grad_out))/dx by central differences, to check hand-written gradients."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        grad[idx] = (np.sum(np.asarray(f(xp)) * grad_out) - np.sum(np.asarray(f(xm)) * grad_out)) / (2 * h)
    return grad


# --- conv, pool, linear cases: small shapes, so a few dozen examples run in seconds ---------


def _per_axis(draw, values: tuple[int, ...]):
    """An int when every axis has the same value (sometimes), else the tuple; 1-D ops get an int."""
    if len(values) == 1:
        return values[0]
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def conv_cases(draw, nd: int, values=float_arrays):
    """dict(x, w, b, stride, padding) for conv{nd}d, single- or multi-channel, the kernel fitting."""
    single = draw(st.booleans())
    c_in, c_out = (1, 1) if single else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    n = tuple(draw(st.integers(max(1, kk - 2 * pp), max(1, kk - 2 * pp) + 3)) for kk, pp in zip(k, p, strict=True))
    x = draw(values(n if single else (c_in, *n)))
    w = draw(values(k if single else (c_out, c_in, *k)))
    b = draw(st.one_of(st.none(), finite, values((c_out,))))
    return {"x": x, "w": w, "b": b, "stride": _per_axis(draw, s), "padding": _per_axis(draw, p)}


@st.composite
def pool_cases(draw, nd: int, values=float_arrays):
    """dict(x, kernel, stride) for {max,avg}pool{nd}d; stride None (= kernel) sometimes."""
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    n = tuple(draw(st.integers(kk, kk + 4)) for kk in k)
    c = draw(st.one_of(st.none(), st.integers(1, 3)))
    x = draw(values(n if c is None else (c, *n)))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * nd)))
    return {"x": x, "kernel": _per_axis(draw, k),
            "stride": None if stride is None else _per_axis(draw, stride)}


def distinct_int_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of distinct integers: every max-pool window has one clear winner."""
    return arrays(np.float64, shape, elements=st.integers(-50, 50).map(float), unique=True)


def tie_arrays(shape) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of 0s and 1s: max-pool windows full of ties."""
    return arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]))


@st.composite
def linear_cases(draw, values=float_arrays):
    """dict(x, w, b, convention) for linear, in both conventions, batched or not."""
    convention = draw(st.sampled_from(["xW", "Wx"]))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.one_of(st.none(), st.integers(1, 3)))
    if convention == "xW":
        x_shape, w_shape = ((n_in,) if batch is None else (batch, n_in)), (n_in, n_out)
    else:
        x_shape, w_shape = ((n_in,) if batch is None else (n_in, batch)), (n_out, n_in)
    b = draw(st.one_of(st.none(), finite, values((n_out,))))
    return {"x": draw(values(x_shape)), "w": draw(values(w_shape)), "b": b, "convention": convention}


def assert_bad_call(engine, name: str, args: tuple, kw: dict, arg: str, words: str = "") -> None:
    """The call raises an EngineError that names the operation and the argument."""
    import pytest

    from i2dl.errors import EngineError

    with pytest.raises(EngineError) as info:
        getattr(engine, name)(*args, **kw)
    assert info.value.op == name and info.value.arg == arg
    assert f"{name}: argument '{arg}'" in str(info.value) and words in str(info.value)


def assert_same_error(engines, name: str, args: tuple, kw: dict) -> None:
    """Every engine rejects the call with the identical message."""
    import pytest

    from i2dl.errors import EngineError

    messages = []
    for eng in engines:
        with pytest.raises(EngineError) as info:
            getattr(eng, name)(*args, **kw)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


def cli_solve(spec_id: str, pins: list[str], engine: str = "numpy") -> dict:
    """`i2dl --engine ENGINE solve SPEC --param ... --json` through Typer's CliRunner, as data."""
    import json

    from typer.testing import CliRunner

    from i2dl.cli import app

    args = ["--engine", engine, "solve", spec_id, "--json"]
    for pin in pins:
        args += ["--param", pin]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec"] == spec_id
    return data


def assert_spec_validates(path, samples: int, max_tries: float) -> None:
    """`i2dl validate` finds no error and no warning, and sampling needs few tries."""
    from i2dl.validate import validate_paths

    (report,) = validate_paths([path], samples=samples, engine_name="numpy")["files"]
    assert report["errors"] == [], report["errors"]
    assert report["warnings"] == [], report["warnings"]
    assert report["tries_per_instance"] < max_tries
