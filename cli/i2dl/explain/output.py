"""Explanations shown: Markdown with LaTeX, or terminal text with Unicode maths (rich)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from i2dl.render import fmt_number

from .steps import Step, _is_num, _v
from .symbols import symbol


def _math(st: Step) -> str:
    parts = ([st["lhs"]] if st["lhs"] else []) + st["rhs"]
    return " = ".join(parts)


def explanation_markdown(expl: dict[str, Any]) -> str:
    """An explanation (part or problem) as Markdown with LaTeX maths."""
    notices = [f"> **notice:** {n}" for n in expl.get("notices", [])]
    notices += [""] if notices else []
    if expl.get("kind") == "problem":
        out = notices + [f"## Problem {expl['number']}: {expl['title']}", ""]
        if expl.get("params"):
            out += ["Parameters: " + ", ".join(f"${symbol(k).tex()} = {_v(_param_value(v))}$"
                                               for k, v in expl["params"].items()), ""]
        if expl.get("statement"):
            out += [expl["statement"], ""]
        for part in expl["parts"]:
            out += [part_markdown(part), ""]
        return "\n".join(out).rstrip() + "\n"
    return "\n".join(notices + [part_markdown(expl)]) + "\n"


def _param_value(v: Any) -> Any:
    return np.asarray(v, dtype=float) if isinstance(v, list) and v and all(_is_num(t) or isinstance(t, list) for t in v) else v


def part_markdown(expl: dict[str, Any], header: bool = True) -> str:
    """One part's worked solution as Markdown (without its header and text for the key)."""
    out: list[str] = []
    if header:
        out += [f"### {expl['number']} ({fmt_number(expl['points'])} p)", "", _text_with_options(expl), ""]
    else:
        out += ["**Worked solution**", ""]
    if expl.get("options"):
        right = [o["letter"] for o in expl["options"] if o["correct"]]
        out += [f"Correct options: **{', '.join(right) or 'none'}**", ""]
    for opt in expl.get("options", []):
        mark = "correct" if opt["correct"] else "wrong"
        chosen = "" if "chosen" not in opt else (" — you chose it" if opt["chosen"] else " — you did not choose it")
        out.append(f"- **{opt['letter']}** ({mark}{chosen}): {opt['reason']}")
    for blank in expl.get("blanks", []):
        out += [f"**{blank['label']}**", ""]
        for st in blank["steps"]:
            out.append(_step_markdown(st))
        if "student" in blank:
            out.append(_student_markdown(blank["student"]))
        out.append("")
    if "student" in expl:
        s = expl["student"]
        line = f"**Your score:** {fmt_number(s['score'], 3)} / {fmt_number(s['points'])} points (rubric {s['rubric']})"
        if s.get("diverges"):
            d = s["diverges"]
            line += f"; your working first differs in **{d['label']}**, step {d['step'] + 1}"
        out.append(line + ".")
        out += [f"- {f}" for f in s["feedback"]]
    return "\n".join(out).rstrip()


def _text_with_options(expl: dict[str, Any]) -> str:
    """The part's text as the sheet shows it: a question's stem, then its options."""
    # Exams before format 3 kept the options inside the text and leave the option texts empty.
    shown = [o for o in expl.get("options", []) if o["text"]]
    return "\n\n".join([expl["text"], "\n".join(f"- **{o['letter']}** {o['text']}" for o in shown)]) if shown \
        else expl["text"]


def _step_markdown(st: Step) -> str:
    math_ = _math(st)
    text = st["text"]
    prefix = {"result": "**result:** ", "given": "given: ", "where": "where "}.get(st["role"], "")
    body = " ".join(t for t in (text, f"${math_}$" if math_ else "") if t)
    line = f"- {prefix}{body}"
    mark = st.get("student")
    if mark:
        verdict = ("✓ (from your own earlier values)" if mark.get("follow") else "✓") if mark["ok"] else "✗"
        line += f" — yours: `{mark['text']}` {verdict}"
    return line


def _student_markdown(s: dict[str, Any]) -> str:
    line = f"- *your answer:* `{s['read'] or '(none)'}` — {s['status']}"
    if s["points"] is not None:
        line += f", {fmt_number(s['points'], 3)} / {fmt_number(s['of'], 3)} p"
    if s["feedback"]:
        line += f". {s['feedback']}"
    return line


_GREEK_U = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
            "theta": "θ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
            "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "kappa": "κ", "zeta": "ζ",
            "Delta": "Δ", "Sigma": "Σ", "Gamma": "Γ", "Lambda": "Λ", "Omega": "Ω", "Phi": "Φ"}
_SYMBOLS_U = {**_GREEK_U, "partial": "∂", "cdot": "·", "odot": "⊙", "times": "×", "top": "ᵀ", "sum": "Σ",
              "prod": "Π", "infty": "∞", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
              "approx": "≈", "to": "→", "Rightarrow": "⇒", "rightarrow": "→", "in": "∈", "lfloor": "⌊",
              "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "ldots": "…", "cdots": "⋯", "max": "max", "min": "min",
              "log": "log", "ln": "ln", "exp": "exp", "tanh": "tanh", "sin": "sin", "cos": "cos", "wedge": "∧",
              "vee": "∨", "bmod": "mod", "mid": "|", "quad": "  ", "qquad": "    ", "backslash": "\\",
              "nabla": "∇", "ell": "ℓ", "pm": "±", "cup": "∪", "cap": "∩", "|": "‖", "lVert": "‖", "rVert": "‖"}
_SUP = dict(zip("0123456789+-=()niTtkx", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵗᵏˣ", strict=False)) | {"ᵀ": "ᵀ", "'": "′", "*": "*"}
# Spaces after these are LaTeX spacing only; after operators they keep the text readable.
_SWALLOW = {"partial", "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "lfloor", "lceil", "nabla",
            "frac", "sqrt", "operatorname", "mathrm", "text", "mathbf", "mathit", "textbf", "mathsf", "boldsymbol",
            "hat", "bar", "tilde", "vec", "mathbb", "begin", "end", "sum", "prod"}
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx,", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ,", strict=False))
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def latex_to_unicode(tex: str) -> str:
    """The LaTeX this module writes (and exam texts use) as readable Unicode: dL/dz₁ = 2·1 + 1·0 = 2."""
    text, _ = _conv(tex, 0, None)
    text = re.sub(r"([⌊⌈(\[]) +", r"\1", text)
    text = re.sub(r" +([⌋⌉)\],])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def text_to_unicode(text: str) -> str:
    """Prose with $...$ maths, the maths made Unicode."""
    return _MATH.sub(lambda m: latex_to_unicode(m.group(1) or m.group(2)), text)


def _conv(s: str, i: int, stop: str | None) -> tuple[str, int]:
    out: list[str] = []
    while i < len(s):
        c = s[i]
        if stop is not None and c == stop:
            return "".join(out), i + 1
        if c == "\\":
            text, i = _command(s, i)
            out.append(text)
        elif c in "^_":
            arg, i = _arg(s, i + 1)
            out.append(_script(arg, _SUP if c == "^" else _SUB, c))
        elif c == "{":
            inner, i = _conv(s, i + 1, "}")
            out.append(inner)
        elif c == "}":
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        elif c == "&":
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def _arg(s: str, i: int) -> tuple[str, int]:
    """One argument: {group}, a command, or a single character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        return _conv(s, i + 1, "}")
    if s[i] == "\\":
        return _command(s, i)
    return s[i], i + 1


def _raw_group(s: str, i: int) -> tuple[str, int]:
    while i < len(s) and s[i] == " ":
        i += 1
    if i < len(s) and s[i] == "{":
        depth, j = 1, i + 1
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        return s[i + 1:j - 1], j
    return (s[i], i + 1) if i < len(s) else ("", i)


def _command(s: str, i: int) -> tuple[str, int]:
    m = re.match(r"\\([A-Za-z]+|.)", s[i:])
    if m is None:
        return "\\", i + 1
    name = m.group(1)
    i += len(m.group(0))
    if name in _SWALLOW:
        while i < len(s) and s[i] == " ":
            i += 1
    if name == "frac":
        a, i = _arg(s, i)
        b, i = _arg(s, i)
        return f"{_group(a)}/{_group(b)}", i
    if name == "sqrt":
        a, i = _arg(s, i)
        return "√" + _group(a), i
    if name in ("operatorname", "mathrm", "text", "mathbf", "mathit", "textbf", "mathsf", "boldsymbol"):
        a, i = _arg(s, i)
        return a, i
    if name in ("hat", "bar", "tilde", "vec"):
        a, i = _arg(s, i)
        return a + {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7"}[name], i
    if name == "mathbb":
        a, i = _arg(s, i)
        return {"1": "𝟙", "R": "ℝ", "E": "𝔼"}.get(a, a), i
    if name == "begin":
        env, i = _raw_group(s, i)
        end = s.find(rf"\end{{{env}}}", i)
        body = s[i:end if end >= 0 else len(s)]
        i = end + len(rf"\end{{{env}}}") if end >= 0 else len(s)
        rows = [r for r in re.split(r"\\\\", body) if r.strip()]
        cells = [[latex_to_unicode(c) for c in r.split("&")] for r in rows]
        return "[" + ", ".join("[" + ", ".join(r) + "]" for r in cells) + "]", i
    if name in ("left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr"):
        if s[i:i + 1] == ".":
            return "", i + 1
        return "", i
    if name in (",", ";", ":", " "):
        return " ", i
    if name == "!":
        return "", i
    if name in ("{", "}", "_", "%", "&", "#", "$"):
        return name, i
    return _SYMBOLS_U.get(name, name), i


def _group(t: str) -> str:
    """Parentheses around a fraction's part when it is more than one term or factor."""
    t = t.strip()
    if t.startswith("(") and t.endswith(")"):
        return t
    # a negative part too: 2 - (-1)/(-5.5), never 2 - -1/-5.5
    if (t.startswith("-") and len(t) > 1) or re.search(r"[\s+\-·×/⊙]", t.lstrip("-∂")):
        return f"({t})"
    return t


def _script(arg: str, table: dict[str, str], mark: str) -> str:
    arg = arg.strip()
    if arg and all(ch in table or ch in table.values() for ch in arg):
        return "".join(table.get(ch, ch) for ch in arg)
    return f"{mark}{arg}" if len(arg) == 1 else f"{mark}({arg})"


def explanation_renderable(expl: dict[str, Any]) -> Any:
    """An explanation for the terminal: Unicode maths, aligned steps, colours that read without colour."""
    from rich.console import Group
    from rich.text import Text

    lines: list[Any] = [Text(f"notice: {n}", style="yellow") for n in expl.get("notices", [])]
    if expl.get("kind") == "problem":
        lines.append(Text(f"Problem {expl['number']} · {expl['title']} ({expl['spec']})", style="bold"))
        if expl.get("params"):
            lines.append(Text("parameters: " + ", ".join(
                f"{latex_to_unicode(symbol(k).tex())} = {latex_to_unicode(_v(_param_value(v)))}"
                for k, v in expl["params"].items()), style="dim"))
        if expl.get("statement"):
            lines.append(Text(text_to_unicode(expl["statement"])))
        if expl.get("student"):
            s = expl["student"]
            lines.append(Text(f"student {s['student_id']} ({s['file']}): {fmt_number(s['total'], 3)} / "
                              f"{fmt_number(s['max_points'])} points in the exam", style="bold"))
        for part in expl["parts"]:
            lines.append(Text(""))
            lines += _part_lines(part)
    else:
        lines += _part_lines(expl)
    return Group(*lines)


def _part_lines(expl: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    head = Text(f"{expl['number']}  ({fmt_number(expl['points'])} p)  ", style="bold")
    head.append(text_to_unicode(expl["text"]))
    lines: list[Any] = [head]
    for opt in expl.get("options", []):
        t = Text("  ")
        t.append(f"{opt['letter']} ", style="bold")
        t.append("✓ correct " if opt["correct"] else "✗ wrong   ", style="green" if opt["correct"] else "red")
        if "chosen" in opt:
            right = opt["chosen"] == opt["correct"]
            t.append("[chosen] " if opt["chosen"] else "[not chosen] ", style="green" if right else "red bold")
        t.append(text_to_unicode(opt["text"]))
        lines.append(t)
        lines.append(Text("      " + text_to_unicode(opt["reason"]), style="dim"))
    if expl.get("options"):
        right = [o["letter"] for o in expl["options"] if o["correct"]]
        lines.append(Text(f"  correct options: {', '.join(right) or 'none'}", style="bold"))
    if expl.get("options_student"):
        lines.append(_student_text(expl["options_student"]))
    for blank in expl.get("blanks", []):
        lines.append(Text(""))
        lines.append(Text(f"▸ {blank['label']}", style="bold cyan"))
        lines += _step_lines(blank["steps"])
        if "student" in blank:
            lines.append(_student_text(blank["student"]))
    if "student" in expl:
        s = expl["student"]
        t = Text(f"\nscore {fmt_number(s['score'], 3)} / {fmt_number(s['points'])} p (rubric {s['rubric']})",
                 style="bold")
        if s.get("diverges"):
            d = s["diverges"]
            t.append(f"; first difference: {d['label']}, step {d['step'] + 1} (marked ✗)", style="yellow")
        lines.append(t)
        lines += [Text(f"  {f}", style="yellow") for f in s["feedback"]]
    return lines


def _step_lines(steps: list[Step]) -> list[Any]:
    from rich.cells import cell_len
    from rich.text import Text

    lhs = [latex_to_unicode(st["lhs"]) if st["lhs"] else "" for st in steps]
    width = min(max([cell_len(t) for t in lhs if t] + [0]), 28)
    out = []
    for st, left in zip(steps, lhs, strict=False):
        gutter = {"result": "⇒ ", "given": "· ", "where": "· "}.get(st["role"], "  ")
        line = Text("  " + gutter, style="bold green" if st["role"] == "result" else "dim")
        if st["text"]:
            line.append(text_to_unicode(st["text"]) + (" " if left or st["rhs"] else ""),
                        style="italic dim" if st["role"] == "note" else "italic")
        if left:
            pad = " " * max(0, width - cell_len(left)) if not st["text"] else ""
            line.append(left + pad, style="bold green" if st["role"] == "result" else "cyan")
        if st["rhs"]:
            rhs = [latex_to_unicode(r) for r in st["rhs"]]
            line.append(" = " if left else "", style="dim")
            body = " = ".join(rhs)
            line.append(body, style="bold green" if st["role"] == "result" else "")
        if st["role"] == "given":
            line.append("  (given)", style="dim")
        mark = st.get("student")
        if mark:
            line.append(f"   yours: {mark['text']} ", style="dim")
            line.append(("✓ from your own earlier values" if mark.get("follow") else "✓") if mark["ok"] else "✗ differs",
                        style="green" if mark["ok"] else "bold red")
        out.append(line)
    return out


def _student_text(s: dict[str, Any]) -> Any:
    from rich.text import Text

    good = s["status"] in ("correct", "follow-through")
    t = Text("  your answer: ", style="bold")
    t.append(s["read"] or "(none)")
    t.append(f"  {'✓' if good else '✗'} {s['status']}", style="green" if good else "red")
    if s["points"] is not None:
        t.append(f"  {fmt_number(s['points'], 3)} / {fmt_number(s['of'], 3)} p")
    if s["feedback"]:
        t.append(f"  {s['feedback']}", style="yellow")
    return t
