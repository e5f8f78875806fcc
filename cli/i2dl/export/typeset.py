"""Text as Typst markup: escaped prose, the small Markdown the specs use, and TeX maths through tex2typst.

Every character of an author's or a student's text goes through `escape` (or a Typst string literal),
so no text can run as Typst code; maths is converted by tex2typst and then corrected by TEX_FIXES,
the one table of what tex2typst emits that the pinned Typst rejects or warns about.
"""

from __future__ import annotations

import re
from functools import lru_cache

from i2dl.errors import I2dlError

#: tex2typst output -> what the pinned Typst (0.15) accepts without a warning. One entry per symbol;
#: tests/test_export_pdf.py typesets every shipped text, so a missing entry fails there.
TEX_FIXES: dict[str, str] = {
    "dot.circle": "dot.o",            # \odot: renamed in Typst 0.13, the old name warns
    "plus.circle": "plus.o",          # \oplus
    "times.circle": "times.o",        # \otimes
    "minus.circle": "minus.o",        # \ominus
    "diff": "partial",                # \partial in older tex2typst: `diff` is gone from Typst
    "planck.reduce": "planck",        # \hbar
    "angle.l": "chevron.l",           # \langle: renamed in Typst 0.14
    "angle.r": "chevron.r",           # \rangle
    "ellipsis.h.c": "dots.h.c",       # \cdots in newer tex2typst: Typst 0.15 has no `ellipsis`
    "lVert": "bar.v.double",          # \lVert: tex2typst passes it through unknown
    "rVert": "bar.v.double",          # \rVert
    "coloneqq": "colon.eq",           # \coloneqq
}
_FIX = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(TEX_FIXES, key=len, reverse=True))
                  + r")(?![\w.])")

# Markup characters that start syntax in Typst (a backslash before any of them makes it literal).
_SPECIAL = re.compile(r"([\\*_`#$\[\]<>@=\-+/~'\"])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: str) -> str:
    """Text shown literally in Typst markup: every character that could start syntax escaped."""
    return _SPECIAL.sub(r"\\\1", _CONTROL.sub("", str(text)))


def string(text: str) -> str:
    """A Typst string literal holding `text` exactly."""
    body = _CONTROL.sub("", str(text)).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{body}"'


class TexError(I2dlError):
    """TeX maths that tex2typst cannot convert."""


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_MATRIX = re.compile(r"^([=+\-]?)\s*\\begin\{bmatrix\}(.*)\\end\{bmatrix\}$", re.S)
_ARITHMETIC = re.compile(r"^(?:[\d\s.,+\-=()\[\]]|\\cdot(?![A-Za-z]))*$")
# A run of characters that neither nest nor cut is one token: the same cuts as one token per character.
_ENV = re.compile(r"\\(begin|end)\{[^}]*\}|\\(left|right)\b|\\cdot\b|\\[A-Za-z]+|\\.|[^\\{}()\[\]=+\-]+|.", re.S)


def _pieces(tex: str) -> list[str]:
    """TeX cut before each top-level =, +, - and \\cdot (outside braces, \\left..\\right and environments).

    tex2typst takes time quadratic in the length of its input; the key's long chains of working
    are converted piece by piece, and the symbolic pieces repeat (cached).
    """
    out, cur, depth = [], [], 0
    last = ""  # the last non-blank character of the piece so far: kept as it grows, so the cut is linear
    for m in _ENV.finditer(tex):
        tok = m.group(0)
        if tok in ("{", "(", "[") or m.group(1) == "begin" or m.group(2) == "left":
            depth += 1
        elif tok in ("}", ")", "]") or m.group(1) == "end" or m.group(2) == "right":
            depth -= 1
        elif depth == 0 and tok in ("=", "+", "-", "\\cdot") and last and last not in _NO_CUT_AFTER:
            out.append("".join(cur))
            cur, last = [], ""
        cur.append(tok)
        last = tok.rstrip()[-1:] or last
    out.append("".join(cur))
    return out if depth == 0 else [tex]


#: A piece that ends in one of these continues past the operator that follows (x^-1, a = -b, f(-x)).
_NO_CUT_AFTER = frozenset("^_=+-([,")


@lru_cache(maxsize=65536)
def _convert(tex: str) -> str:
    source = tex.strip()
    if not source:
        return ""
    if _NUMBER.match(source):
        return source
    if _ARITHMETIC.match(source):  # numbers and operators only: the same in both languages, save \cdot
        return source.replace("\\cdot", " dot.op ")
    m = _MATRIX.match(source)
    if m:  # a matrix of plain numbers, the commonest value in a key: written directly
        rows = [[e.strip() for e in row.split("&")] for row in m.group(2).split("\\\\")]
        if all(_NUMBER.match(e) for row in rows for e in row):
            return f'{m.group(1)} mat(delim: "[", ' + "; ".join(", ".join(r) for r in rows) + ")"
    try:
        out = _by_shape(source)
    except Exception as exc:  # the converter raises its own exception types
        raise TexError(f"cannot convert the maths '{tex}' to Typst: {exc}",
                       fix="write the maths with common TeX commands") from None
    return _FIX.sub(lambda m: TEX_FIXES[m.group(1)], out)


_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _by_shape(source: str) -> str:
    """tex2typst(source) from its shape: the numbers stood in for by numbered placeholders, the shape
    converted once (a key's formulas repeat with other numbers for every student), the numbers put back.

    A number is one token to tex2typst, passed through as it is; a shape whose output does not hold
    each placeholder exactly once (merged, dropped or repeated) is converted directly instead.
    """
    number_of: dict[str, str] = {}  # placeholder -> the number it stands for

    def hold(m: re.Match) -> str:  # the k-th number: k, or k.5 for a decimal (it keeps its decimal point)
        holder = f"{len(number_of) + 1}" + (".5" if "." in m.group(0) else "")
        number_of[holder] = m.group(0)
        return holder

    shape = _DIGITS.sub(hold, source)
    if not number_of:
        return _tex2typst(source)
    out = _tex2typst(shape)
    found = _DIGITS.findall(out)
    if len(found) != len(number_of) or set(found) != set(number_of):
        return _tex2typst(source)
    return _DIGITS.sub(lambda m: number_of[m.group(0)], out)


@lru_cache(maxsize=16384)
def _tex2typst(tex: str) -> str:
    from tex2typst import tex2typst

    return tex2typst(tex)


# A subscript on a subscripted name (explain's slices: Q_{1}_{:k}) is a double subscript in TeX, which
# tex2typst turns into an empty base (#none) that Typst rejects; braced, it is one base with one subscript.
_DOUBLE_SUB = re.compile(r"([A-Za-z]+_\{(?:[^{}]|\{[^{}]*\})*\})_\{")  # the first may hold \mathrm{steps}


# tex2typst writes \mathrm{steps} as upright(s t e p s): spaced letters; a word is one upright text.
_SPACED_WORD = re.compile(r"upright\(((?:[A-Za-z] )+[A-Za-z])\)")


def tex_to_typst(tex: str) -> str:
    """TeX maths as Typst maths: tex2typst piece by piece, then TEX_FIXES; TexError when it cannot convert."""
    tex = _DOUBLE_SUB.sub(r"{\1}_{", tex)
    pieces = _pieces(tex) if len(tex) > 40 else [tex]
    out = " ".join(t for t in (_convert(p) for p in pieces) if t)
    return _SPACED_WORD.sub(lambda m: 'upright("' + m.group(1).replace(" ", "") + '")', out)


def math(tex: str, display: bool = False) -> str:
    """TeX maths as Typst maths markup, inline or display; unconvertible TeX is shown as its source."""
    try:
        body = tex_to_typst(tex)
    except TexError:
        return f"#raw({string(tex)})"
    if not body:
        return ""
    return f"$ {body} $" if display else f"${body}$"


_INLINE = re.compile(r"\$\$(?P<dm>.+?)\$\$|\$(?P<m>[^$]+?)\$|\*\*(?P<b>.+?)\*\*|(?<![\w*])\*(?P<i>[^*\s][^*]*?)\*(?![\w*])"
                     r"|`(?P<c>[^`]+)`", re.S)


def inline(text: str) -> str:
    """One paragraph's text as markup: $maths$, **bold**, *italic*, `code`; all else literal."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group("dm") is not None:
            out.append(math(m.group("dm"), display=True))
        elif m.group("m") is not None:
            out.append(math(m.group("m")))
        elif m.group("b") is not None:
            out.append(f"#strong[{inline(m.group('b'))}]")
        elif m.group("i") is not None:
            out.append(f"#emph[{inline(m.group('i'))}]")
        else:
            out.append(f"#raw({string(m.group('c'))})")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


_ITEM = re.compile(r"^\s*[-*]\s+")


def markup(text: str) -> str:
    """Markdown-like text (paragraphs, '- ' lists, inline marks, TeX maths) as Typst markup."""
    blocks: list[str] = []
    for para in re.split(r"\n\s*\n", str(text).strip()):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        items: list[list[str]] = []
        plain: list[str] = []
        for ln in lines:
            if _ITEM.match(ln):
                items.append([_ITEM.sub("", ln)])
            elif items:
                items[-1].append(ln.strip())
            else:
                plain.append(ln.strip())
        chunk = []
        if plain:
            chunk.append(inline(" ".join(plain)))
        for it in items:
            chunk.append("- " + inline(" ".join(it)))
        if chunk:
            blocks.append("\n".join(chunk))
    return "\n\n".join(blocks)
