"""Worked steps of the metric, clipping and learning-rate-schedule functions."""

from __future__ import annotations

import numpy as np

from .forward import View
from .registry import renders
from .steps import Step, _arr, _f, _more, _n, _note, _step, _v

MAX_EPOCHS_SHOWN = 6  # entries of a vector of epochs written out


@renders("confusion_matrix")
def _render_confusion(v: View) -> list[Step]:
    t, y, C = _arr(v.args["t"]).ravel(), _arr(v.args["y"]).ravel(), _arr(v.out)
    n = C.shape[0]
    steps = [_note(f"Row i counts the {t.size} samples whose true class is i, column j those predicted as j.")]
    for i in range(n):
        preds = [int(p) for tt, p in zip(t, y, strict=True) if int(tt) == i + 1]
        listed = ", ".join(str(p) for p in preds) if preds else "none"
        steps.append(_step(rf"C_{{{i + 1},\cdot}}", _v(C[i]),
                           text=f"true class {i + 1}: predicted {listed}", value=C[i], ref=v.eref((i,))))
    return steps


@renders("norm")
def _render_norm(v: View) -> list[Step]:
    x = _arr(v.args["x"]).ravel()
    squares = " + ".join(f"{_f(e)}^2" if e < 0 else f"{_n(e)}^2" for e in x)
    return [_step(v.sym.tex(), rf"\sqrt{{{squares}}}", rf"\sqrt{{{_n(float(np.sum(x * x)))}}}", _n(v.out),
                  value=v.out, ref=v.eref(None))]


@renders("clip_by_norm")
def _render_clip_by_norm(v: View) -> list[Step]:
    x, c = _arr(v.args["x"]), float(v.args["c"])
    norm = float(np.linalg.norm(x))
    squares = " + ".join(f"{_f(e)}^2" if e < 0 else f"{_n(e)}^2" for e in x.ravel())
    steps = [_step(r"\|g\|_2", rf"\sqrt{{{squares}}}", _n(norm), value=norm)]
    if norm <= c:
        steps.append(_note(f"the norm {_n(norm)} is at most c = {_n(c)}: the gradient is left unchanged"))
        steps.append(_step(v.sym.tex(), _v(x), value=v.out, ref=v.eref(None)))
        return steps
    steps.append(_step(r"\frac{c}{\|g\|_2}", rf"\frac{{{_n(c)}}}{{{_n(norm)}}}", _n(c / norm),
                       text=f"the norm exceeds c = {_n(c)}, so g is scaled by", value=c / norm))
    steps.append(_step(v.sym.tex(), rf"{_n(c / norm)} \cdot {_v(x)}", _v(v.out), value=v.out, ref=v.eref(None)))
    return steps


def _epochs(v: View) -> tuple[list[float], bool]:
    e = _arr(v.args["epoch"])
    return [float(x) for x in e.ravel()], e.ndim > 0


def _schedule_steps(v: View, body) -> list[Step]:
    """One line per epoch (the first few of a vector of epochs): the formula with its numbers."""
    epochs, many = _epochs(v)
    out = _arr(v.out).ravel()
    steps = []
    for i, e in enumerate(epochs[:MAX_EPOCHS_SHOWN]):
        sym, num = body(int(e))
        lhs = rf"\eta_{{i = {int(e)}}}"
        steps.append(_step(lhs, sym, num, _n(out[i]), value=float(out[i]), ref=v.eref((i,) if many else None)))
    if len(epochs) > MAX_EPOCHS_SHOWN:
        steps.append(_more(len(epochs) - MAX_EPOCHS_SHOWN))
    return steps


@renders("lr_step")
def _render_lr_step(v: View) -> list[Step]:
    lr, gamma, s = v.args["lr"], v.args["gamma"], int(v.args["step_size"])
    return _schedule_steps(v, lambda e: (
        rf"\eta_0 \gamma^{{\lfloor {e} / {s} \rfloor}}", rf"{_n(lr)} \cdot {_n(gamma)}^{{{e // s}}}"))


@renders("lr_cosine")
def _render_lr_cosine(v: View) -> list[Step]:
    lr, lo, T = v.args["lr"], v.args["eta_min"], v.args["T_max"]
    return _schedule_steps(v, lambda e: (
        rf"\eta_{{\min}} + \tfrac{{1}}{{2}}(\eta_0 - \eta_{{\min}})\left(1 + \cos\tfrac{{{e}\pi}}{{T}}\right)",
        rf"{_n(lo)} + \tfrac{{1}}{{2}}({_n(lr)} - {_n(lo)})\left(1 + {_f(float(np.cos(np.pi * e / float(T))))}\right)"))


@renders("lr_warmup")
def _render_lr_warmup(v: View) -> list[Step]:
    lr, W = v.args["lr"], int(v.args["warmup"])
    return _schedule_steps(v, lambda e: (
        (rf"\eta_0 \cdot \frac{{{e} + 1}}{{W}}", rf"{_n(lr)} \cdot \frac{{{e + 1}}}{{{W}}}") if e < W
        else (r"\eta_0", rf"{_n(lr)} \text{{ (warm-up over)}}")))


@renders("first_below")
def _render_first_below(v: View) -> list[Step]:
    x, thr = _arr(v.args["x"]).ravel(), float(v.args["v"])
    i = int(v.out)
    shown = ", ".join(_n(e) for e in x[: i + 1])
    return [_step(v.sym.tex(), str(i), value=i, ref=v.eref(None),
                  text=f"the entries from index 0 are {shown}; the first below {_n(thr)} has index {i}")]
