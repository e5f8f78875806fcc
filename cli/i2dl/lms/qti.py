"""QTI 2.1: a content package (zip with imsmanifest.xml) of one item per variant and a test that
draws one variant per exam slot, for Canvas and the other LMSs that import QTI.

Number fields are text entries compared with an absolute tolerance, short text exactly (ignoring
case), choices through a mapping (correct options add up to the field's points, wrong ones take
away as much, never below 0). What QTI's response processing cannot say (follow-through, named
mistakes with part credit, per-entry rubrics) is listed in the export's report.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from i2dl.lms.fields import LETTERS, Field, fmt, not_expressible, question_fields
from i2dl.lms.html import inline_html, markdown_html
from i2dl.lms.moodle import NONE_OF_THESE, solution_html
from i2dl.lms.pool import Category, Variant

NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same exam gives the same bytes


def item_id(exam_id: str, v: Variant) -> str:
    """An identifier (an XML name) for the variant's item."""
    return f"I-{exam_id}-{v.slot.replace('.', '-')}-v{v.k:02d}-{v.digest}"


def _choices(f: Field) -> tuple[tuple[str, bool, str], ...]:
    return f.choices if any(c for _, c, _ in f.choices) else (*f.choices, (NONE_OF_THESE, True, ""))


def _declaration(rid: str, f: Field) -> str:
    if f.kind == "essay":
        return f'<responseDeclaration identifier="{rid}" cardinality="single" baseType="string"/>'
    if f.kind == "numerical":
        return (f'<responseDeclaration identifier="{rid}" cardinality="single" baseType="float">'
                f"<correctResponse><value>{fmt(f.value)}</value></correctResponse></responseDeclaration>")
    if f.kind == "shortanswer":
        return (f'<responseDeclaration identifier="{rid}" cardinality="single" baseType="string">'
                f"<correctResponse><value>{escape(str(f.value))}</value></correctResponse></responseDeclaration>")
    choices = _choices(f)
    right = [LETTERS[i] for i, (_, c, _) in enumerate(choices) if c]
    n_wrong = len(choices) - len(right)
    entries = "".join(
        f'<mapEntry mapKey="{LETTERS[i]}" mappedValue="{fmt(1 / len(right) if c else -1 / max(n_wrong, 1))}"/>'
        for i, (_, c, _) in enumerate(choices))
    values = "".join(f"<value>{x}</value>" for x in right)
    card = "single" if f.kind == "multichoice" else "multiple"
    return (f'<responseDeclaration identifier="{rid}" cardinality="{card}" baseType="identifier">'
            f'<correctResponse>{values}</correctResponse><mapping lowerBound="0" upperBound="1" defaultValue="0">'
            f"{entries}</mapping></responseDeclaration>")


def _interaction(rid: str, f: Field) -> str:
    if f.kind == "essay":
        return f'<extendedTextInteraction responseIdentifier="{rid}" expectedLines="6"/>'
    if f.kind in ("numerical", "shortanswer"):
        return f'<textEntryInteraction responseIdentifier="{rid}" expectedLength="12"/>'
    choices = _choices(f)
    opts = "".join(f'<simpleChoice identifier="{LETTERS[i]}">{inline_html(t)}</simpleChoice>'
                   for i, (t, _, _) in enumerate(choices))
    most = 1 if f.kind == "multichoice" else 0
    return (f'<choiceInteraction responseIdentifier="{rid}" shuffle="false" maxChoices="{most}">'
            f"{opts}</choiceInteraction>")


def _processing(rid: str, f: Field) -> str:
    if f.kind == "essay":
        return ""  # written answers are scored by a person
    add = f'<baseValue baseType="float">{fmt(f.points)}</baseValue>'
    if f.kind == "numerical":
        t = fmt(f.tolerance)
        test = (f'<equal toleranceMode="absolute" tolerance="{t} {t}"><variable identifier="{rid}"/>'
                f'<correct identifier="{rid}"/></equal>')
    elif f.kind == "shortanswer":
        test = (f'<stringMatch caseSensitive="false"><variable identifier="{rid}"/>'
                f'<correct identifier="{rid}"/></stringMatch>')
    else:
        return (f'<setOutcomeValue identifier="SCORE"><sum><variable identifier="SCORE"/><product>'
                f'<mapResponse identifier="{rid}"/>{add}</product></sum></setOutcomeValue>')
    return (f"<responseCondition><responseIf>{test}<setOutcomeValue identifier=\"SCORE\"><sum>"
            f'<variable identifier="SCORE"/>{add}</sum></setOutcomeValue></responseIf></responseCondition>')


def item_xml(exam_id: str, v: Variant, steps: dict[str, str], figures: list[tuple[str, str]]) -> str:
    """One assessmentItem: the variant's statement, parts and fields, scored field by field."""
    fields = question_fields(v.parts)
    rids = [f"RESPONSE_{i}" for i in range(1, len(fields) + 1)]
    body = [f"<p><small>{escape(v.tag(exam_id))}</small></p>"]
    if v.problem.statement and v.problem.kind == "spec":
        body.append(markdown_html(v.problem.statement))
    body += [f'<p><img src="{escape(name)}" alt={quoteattr(caption)}/></p>' for name, caption in figures]
    for part in v.parts:
        body.append(f"<p><strong>{escape(part.number)}</strong> ({fmt(part.points)} p) {inline_html(part.text)}</p>")
        for rid, f in zip(rids, fields, strict=True):
            if f.part == part.number:
                label = f"{escape(f.label)}: " if v.problem.kind == "spec" else ""
                body.append(f"<div>{label}{_interaction(rid, f)}</div>")
    decls = "".join(_declaration(r, f) for r, f in zip(rids, fields, strict=True))
    proc = "".join(_processing(r, f) for r, f in zip(rids, fields, strict=True))
    solution = solution_html(v, steps).replace("<br>", "<br/>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<assessmentItem xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{NS} {XSD}" identifier="{item_id(exam_id, v)}" '
            f'title={quoteattr(v.tag(exam_id))} adaptive="false" timeDependent="false">'
            f"{decls}"
            '<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">'
            "<defaultValue><value>0</value></defaultValue></outcomeDeclaration>"
            '<outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">'
            f"<defaultValue><value>{fmt(v.problem.points)}</value></defaultValue></outcomeDeclaration>"
            '<outcomeDeclaration identifier="FEEDBACK" cardinality="single" baseType="identifier"/>'
            f"<itemBody><div>{''.join(body)}</div></itemBody>"
            f"<responseProcessing>{proc}<setOutcomeValue identifier=\"FEEDBACK\">"
            '<baseValue baseType="identifier">SOLUTION</baseValue></setOutcomeValue></responseProcessing>'
            '<modalFeedback outcomeIdentifier="FEEDBACK" identifier="SOLUTION" showHide="show">'
            f"<div>{solution}</div></modalFeedback>"
            "</assessmentItem>\n")


def assessment_test_xml(exam: Any, pool: list[Category]) -> str:
    """The assessmentTest: a section per slot that selects one of its variants at random."""
    sections = []
    for c in pool:
        refs = "".join(f'<assessmentItemRef identifier="REF-{item_id(exam.exam_id, v)}" '
                       f'href="items/{item_id(exam.exam_id, v)}.xml"/>' for v in c.variants)
        sid = f"S-{c.slot.replace('.', '-')}"
        sections.append(f'<assessmentSection identifier="{sid}" title={quoteattr(f"{c.slot} {c.title}")} '
                        f'visible="true"><selection select="1"/>{refs}</assessmentSection>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<assessmentTest xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{NS} {XSD}" identifier="T-{exam.exam_id}" title={quoteattr(exam.title)}>'
            '<testPart identifier="P1" navigationMode="nonlinear" submissionMode="simultaneous">'
            f"{''.join(sections)}</testPart></assessmentTest>\n")


def manifest_xml(exam: Any, items: list[tuple[str, list[str]]]) -> str:
    """imsmanifest.xml: the test and every item with the files it uses."""
    res = [f'<resource identifier="R-T-{exam.exam_id}" type="imsqti_test_xmlv2p1" href="test.xml">'
           '<file href="test.xml"/>' + "".join(f'<dependency identifierref="R-{i}"/>' for i, _ in items)
           + "</resource>"]
    for iid, files in items:
        res.append(f'<resource identifier="R-{iid}" type="imsqti_item_xmlv2p1" href="items/{iid}.xml">'
                   + "".join(f'<file href="{escape(f)}"/>' for f in files) + "</resource>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<manifest xmlns="{CP_NS}" identifier="M-{exam.exam_id}">'
            "<metadata><schema>QTIv2.1 Package</schema><schemaversion>1.0.0</schemaversion></metadata>"
            f"<organizations/><resources>{''.join(res)}</resources></manifest>\n")


def qti_package(exam: Any, pool: list[Category], steps_of: Callable[[Variant], dict[str, str]],
                figures_of: Callable[[Any], list[Any]] = lambda p: []) -> tuple[bytes, list[str]]:
    """The zip's bytes (deterministic) and notes on what QTI cannot grade as i2dl does."""
    files: dict[str, bytes] = {}
    items: list[tuple[str, list[str]]] = []
    notes = {"follow-through, named mistakes with part credit and per-entry rubrics are i2dl's: regrade the "
             "responses with `i2dl grade --responses` to give that credit"}
    for c in pool:
        for v in c.variants:
            iid = item_id(exam.exam_id, v)
            figs = []
            for i, fig in enumerate(figures_of(v.problem), 1):
                name = f"{iid}-figure-{i}.svg"
                files[f"items/{name}"] = fig.svg().encode("utf-8")
                figs.append((name, fig.caption))
            files[f"items/{iid}.xml"] = item_xml(exam.exam_id, v, steps_of(v), figs).encode("utf-8")
            items.append((iid, [f"items/{iid}.xml", *(f"items/{n}" for n, _ in figs)]))
            for part in v.parts:
                notes.update(n.split(": ", 1)[1] if ": " in n else n for n in not_expressible(part))
    files["test.xml"] = assessment_test_xml(exam, pool).encode("utf-8")
    files["imsmanifest.xml"] = manifest_xml(exam, items).encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return buf.getvalue(), sorted(notes)
