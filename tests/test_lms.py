"""LMS round trip: Moodle XML and QTI 2.1 read back by independent readers, and Moodle's and
Canvas's response reports regraded with follow-through."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.engine import get_engine
from i2dl.evaluate import Evaluator
from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.export.markdown import sheet_markdown
from i2dl.lms import export_lms, lms_pool
from i2dl.lms.fields import fmt, part_fields, question_fields
from i2dl.lms.html import inline_html, plain_text
from i2dl.lms.moodle import GRADES

SEED = 2024
N = 3
# Cloze's embedded answers, read here on their own terms (not with the exporter's code)
CLOZE = re.compile(r"\{(\d+):(NUMERICAL|SHORTANSWER|MULTICHOICE|MULTIRESPONSE):((?:\\.|[^}\\])*)\}")


@cache
def _exam_dir(tmp: str) -> Path:
    out = Path(tmp) / "exam"
    write_exam(build_exam("default", SEED, engine_name="numpy"), out)
    return out


@pytest.fixture(scope="module")
def exam_dir(tmp_path_factory) -> Path:
    return _exam_dir(str(tmp_path_factory.mktemp("lms")))


@pytest.fixture(scope="module")
def moodle(exam_dir, tmp_path_factory) -> ET.Element:
    out = tmp_path_factory.mktemp("moodle")
    export_lms("moodle", exam_dir, out, variants=N, engine_name="numpy")
    return ET.parse(out / "moodle.xml").getroot()


@pytest.fixture(scope="module")
def pool(exam_dir):
    return lms_pool(load_exam(exam_dir), N, "numpy")


def _questions(root: ET.Element) -> list[ET.Element]:
    return [q for q in root.findall("question") if q.get("type") != "category"]


def _variant(pool, tag: str):
    slot, k = re.search(r":(\d+(?:\.\d+)?):v(\d+):", tag).groups()
    c = next(c for c in pool if c.slot == slot)
    return next(v for v in c.variants if v.k == int(k))


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_moodle_export_has_a_category_before_each_slot_and_the_elements_each_type_needs(moodle, pool):
    kinds = [q.get("type") for q in moodle.findall("question")]
    assert kinds.count("category") == len(pool)
    assert set(kinds) <= {"category", "numerical", "cloze", "multichoice", "essay"}
    for q in _questions(moodle):
        assert q.find("name/text").text and q.find("questiontext").get("format") == "html"
        assert q.find("questiontext/text").text and float(q.find("defaultgrade").text) > 0
        answers = q.findall("answer")
        if q.get("type") == "numerical":
            assert answers and all(a.find("tolerance") is not None for a in answers)
            assert max(float(a.get("fraction")) for a in answers) == 100
        if q.get("type") == "multichoice":
            fractions = [float(a.get("fraction")) for a in answers]
            assert all(abs(f) in GRADES for f in fractions)
            if q.find("single").text == "true":
                assert sorted(fractions)[-1] == 100 and sorted(fractions)[-2] <= 0
            else:
                assert sum(f for f in fractions if f > 0) == pytest.approx(100, abs=1e-3)
        if q.get("type") == "cloze":
            assert CLOZE.search(q.find("questiontext/text").text)


def test_moodle_export_reads_back_every_key_within_its_tolerance(moodle, pool):
    checked = 0
    for q in _questions(moodle):
        v = _variant(pool, q.find("name/text").text)
        keys = question_fields(v.parts)
        if q.get("type") == "essay":  # a written answer: its model answer is for the graders only
            assert plain_text(inline_html(v.parts[0].blanks[0].model_answer)) in plain_text(q.find("graderinfo/text").text)
            checked += 1
        elif q.get("type") == "cloze":
            codes = CLOZE.findall(q.find("questiontext/text").text)
            assert len(codes) == len(keys)
            for (_, kind, body), f in zip(codes, keys, strict=True):
                if kind == "NUMERICAL":
                    value, tol = re.match(r"=([^:~#]+):([^~#]+)", body).groups()
                    blank = next(b for p in v.parts for b in p.blanks if b.name == f.blank)
                    key = np.asarray(blank.expected, dtype=float)[f.index] if f.index else float(
                        np.asarray(blank.expected, dtype=float)) if blank.kind == "number" else f.value
                    assert abs(float(value) - float(key)) <= float(tol) + 1e-12
                    assert float(tol) < max(abs(float(key)), 1.0)  # a tolerance, not a giveaway
                elif kind in ("MULTICHOICE", "MULTIRESPONSE"):
                    options = [_unescape(o) for o in re.split(r"(?<!\\)~", body)]
                    right = {re.sub(r"^(=|%[-0-9.]+%)", "", o).split("#")[0] for o in options
                             if o.startswith("=") or (o.startswith("%") and not o.startswith(("%0%", "%-")))}
                    assert right == {t for t, c, _ in f.choices if c} or not any(c for _, c, _ in f.choices)
                checked += 1
        elif q.get("type") == "numerical":
            a = q.findall("answer")[0]
            assert abs(float(a.find("text").text) - keys[0].value) <= float(a.find("tolerance").text) + 1e-12
            checked += 1
        else:
            part = v.parts[0]
            right = {plain_text(a.find("text").text) for a in q.findall("answer") if float(a.get("fraction")) > 0}
            expected = {plain_text(inline_html(o.text)) for o in part.options if o.correct}
            assert right == (expected or {"None of the other options is correct."})
            checked += 1
    assert checked > 60


def test_moodle_export_is_the_same_bytes_on_every_run_and_names_each_question_once(exam_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    export_lms("moodle", exam_dir, a, variants=N, engine_name="numpy")
    export_lms("moodle", exam_dir, b, variants=N, engine_name="numpy")
    assert (a / "moodle.xml").read_bytes() == (b / "moodle.xml").read_bytes()
    ids = [q.find("idnumber").text for q in _questions(ET.parse(a / "moodle.xml").getroot())]
    assert len(ids) == len(set(ids))


def _numbers(text: str) -> set[str]:
    return {fmt(float(t)) for t in re.findall(r"-?\d+(?:\.\d+)?", text)}


def _sheet_numbers(v, exam) -> set[str]:
    import dataclasses

    one = dataclasses.replace(exam, problems=[v.problem], variants={}, roster=[])
    labels = " ".join(f.label for part in v.parts for f in part_fields(part))  # "entry 2,1", "size 3"
    return _numbers(sheet_markdown(one)) | _numbers(v.tag(exam.exam_id)) | _numbers(labels)


def test_moodle_question_text_holds_no_number_the_sheet_does_not_show(moodle, pool, exam_dir):
    exam = load_exam(exam_dir)
    for q in _questions(moodle):
        v = _variant(pool, q.find("name/text").text)
        visible = plain_text(CLOZE.sub(" ", q.find("questiontext/text").text))
        assert _numbers(visible) <= _sheet_numbers(v, exam) | {fmt(p.points) for p in v.parts}, v.tag(exam.exam_id)


@pytest.fixture(scope="module")
def qti(exam_dir, tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("qti")
    export_lms("qti", exam_dir, out, variants=N, engine_name="numpy")
    return zipfile.ZipFile(out / "qti.zip")


QTI = "{http://www.imsglobal.org/xsd/imsqti_v2p1}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"


def test_qti_manifest_lists_the_test_and_every_item_and_each_file_is_in_the_zip(qti, pool):
    names = set(qti.namelist())
    manifest = ET.fromstring(qti.read("imsmanifest.xml"))
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    assert {r.get("type") for r in resources} == {"imsqti_test_xmlv2p1", "imsqti_item_xmlv2p1"}
    assert len(resources) == 1 + sum(len(c.variants) for c in pool)
    for r in resources:
        assert r.get("href") in names and all(f.get("href") in names for f in r.findall(f"{CP}file"))
    test = ET.fromstring(qti.read("test.xml"))
    sections = test.findall(f".//{QTI}assessmentSection")
    assert len(sections) == len(pool)
    assert all(s.find(f"{QTI}selection").get("select") == "1" for s in sections)


def test_qti_items_declare_each_interaction_and_their_correct_responses_are_the_keys(qti, pool, exam_dir):
    exam = load_exam(exam_dir)
    items = [n for n in qti.namelist() if n.startswith("items/") and n.endswith(".xml")]
    for name in items:
        item = ET.fromstring(qti.read(name))
        v = _variant(pool, item.get("title"))
        fields = question_fields(v.parts)
        decls = item.findall(f"{QTI}responseDeclaration")
        used = {e.get("responseIdentifier") for e in item.iter() if e.get("responseIdentifier")}
        assert {d.get("identifier") for d in decls} == used and len(decls) == len(fields)
        for d, f in zip(decls, fields, strict=True):
            values = [x.text for x in d.findall(f"{QTI}correctResponse/{QTI}value")]
            if d.get("baseType") == "float":
                assert float(values[0]) == pytest.approx(f.value)
            elif d.get("baseType") == "identifier":
                right = [chr(65 + i) for i, (_, c, _) in enumerate(f.choices) if c]
                assert values == (right or [chr(65 + len(f.choices))])
        body = ET.tostring(item.find(f"{QTI}itemBody"), encoding="unicode")
        assert _numbers(plain_text(body)) <= _sheet_numbers(v, exam) | {fmt(p.points) for p in v.parts}


# ---------------------------------------------------------------- regrading an LMS's responses
def _moodle_marks(v, texts: list[str]) -> float:
    """What Moodle gives for the fields' texts: each field's points when it is within its tolerance."""
    got = 0.0
    for f, t in zip(question_fields(v.parts), texts, strict=True):
        if f.kind == "numerical" and t not in ("", None) and abs(float(t) - f.value) <= f.tolerance:
            got += f.points
    return got


def _follow_through_texts(v, exam):
    """conv1d-backprop's forward part with z off by one and m, y, L right for that z (carried)."""
    prob = v.problem
    graph = prob.compiled_spec().graph
    forward = prob.parts[1]  # z, m, y, L
    z = next(b for b in forward.blanks if b.name == "z")
    wrong = (np.asarray(z.expected, dtype=float) + 1).tolist()
    env = Evaluator(get_engine("numpy"), prob.params, graph, overrides={"z": wrong}).run()
    out = []
    for f in question_fields(v.parts):
        if f.part != forward.number:
            out.append(fmt(f.value) if f.kind == "numerical" else str(f.value))
            continue
        value = wrong if f.blank == "z" else env[f.blank]
        arr = np.asarray(value, dtype=float)
        out.append(fmt(arr[f.index] if f.index is not None else float(arr)))
    return out


def _moodle_report(rows: list[list[str]], pool, marks: bool) -> str:
    header = ["Last name", "First name", "ID number", "Email address", "State", "Started on", "Completed",
              "Time taken", "Grade/100.00"]
    for i, c in enumerate(pool, 1):
        header += [f"Question {i}", f"Response {i}", f"Right answer {i}"] + ([f"Q. {i} /{fmt(c.points)}"] if marks else [])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _cell(f, text: str) -> str:
    if f.kind in ("multichoice", "multiresponse"):
        right = [t for t, c, _ in f.choices if c] or ["None of the other options is correct."]
        return "; ".join(plain_text(inline_html(t)) for t in right)
    return text


def _moodle_row(sid: str, exam, pool, k: int, carried: bool, marks: bool) -> list[str]:
    row = ["Doe", "Jo", sid, f"{sid}@uni.example", "Finished", "", "", "", ""]
    total = 0.0
    for c in pool:
        v = next((x for x in c.variants if x.k == k), c.variants[0])
        fields = question_fields(v.parts)
        if carried and v.problem.spec_id == "conv1d-backprop":
            texts = _follow_through_texts(v, exam)
        else:
            texts = [fmt(f.value) if f.kind == "numerical" else str(f.value) for f in fields]
        cells = [_cell(f, t) for f, t in zip(fields, texts, strict=True)]
        response = cells[0] if len(cells) == 1 else "; ".join(f"part {j}: {t}" for j, t in enumerate(cells, 1))
        got = c.points if v.problem.kind == "mcq" else _moodle_marks(v, texts)
        total += got
        row += [v.tag(exam.exam_id) + " " + plain_text(inline_html(v.problem.statement))[:40], response, ""]
        row += [fmt(got)] if marks else []
    row[8] = fmt(total * 100 / exam.points)
    return row


def test_grade_moodle_responses_gives_follow_through_where_moodle_gave_zero(exam_dir, pool, tmp_path):
    exam = load_exam(exam_dir)
    report = tmp_path / "moodle-responses.csv"
    report.write_text(_moodle_report([_moodle_row("ge42abc", exam, pool, 2, carried=True, marks=True),
                                      _moodle_row("ge42xyz", exam, pool, 3, carried=False, marks=True)], pool, True))
    result = CliRunner().invoke(app, ["--engine", "numpy", "grade", "--responses", str(report), "--exam",
                                      str(exam_dir), "--out", str(tmp_path / "results"), "--json"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    students = {s["student_id"]: s for s in data["students"]}
    written = sum(c.points for c in pool if c.kind == "short")  # essays: awaiting a TA, not in the total
    assert written > 0 and students["ge42xyz"]["pending"] == pytest.approx(written)
    assert students["ge42xyz"]["total"] == pytest.approx(exam.points - written)
    c = next(c for c in pool if c.variants[0].problem.spec_id == "conv1d-backprop")
    v = next(x for x in c.variants if x.k == 2)
    moodle_slot = _moodle_marks(v, _follow_through_texts(v, exam))  # z wrong: Moodle also refuses m, y, L
    forward = v.parts[1].number
    feedback = (tmp_path / "results" / "feedback" / "ge42abc.md").read_text()
    assert f"for {c.slot}, i2dl gives" in feedback and "Moodle gave" in feedback
    i2dl_slot = sum(p for n, p in students["ge42abc"]["parts"].items() if n.split(".")[0] == c.slot)
    assert i2dl_slot > moodle_slot
    assert students["ge42abc"]["parts"][forward] > 0.5 * v.parts[1].points  # the carried m, y, L earn points
    assert students["ge42abc"]["total"] < exam.points  # but z itself is wrong


def test_grade_moodle_report_refuses_a_row_whose_variant_is_not_in_the_pool(exam_dir, pool, tmp_path):
    exam = load_exam(exam_dir)
    good = _moodle_row("ok1", exam, pool, 1, carried=False, marks=False)
    bad = _moodle_row("bad1", exam, pool, 1, carried=False, marks=False)
    bad[9] = re.sub(r":[0-9a-f]{8}", ":00000000", bad[9])
    report = tmp_path / "r.csv"
    report.write_text(_moodle_report([good, bad], pool, False))
    result = CliRunner().invoke(app, ["--engine", "numpy", "grade", "--responses", str(report), "--exam",
                                      str(exam_dir), "--out", str(tmp_path / "results")])
    assert result.exit_code != 0 and "row 3" in result.output and "not the variant" in result.output
    assert (tmp_path / "results" / "feedback" / "ok1.md").is_file()


def test_grade_canvas_student_analysis_maps_question_columns_to_variants(exam_dir, pool, tmp_path):
    exam = load_exam(exam_dir)
    header = ["name", "id", "sis_id", "section", "section_id", "section_sis_id", "submitted", "attempt"]
    row = ["Jo Doe", "17", "s-1", "A", "1", "", "2026-11-30", "1"]
    for i, c in enumerate(pool, 1):
        v = c.variants[-1]
        fields = question_fields(v.parts)
        header += [f"{1000 + i}: {v.tag(exam.exam_id)} {plain_text(inline_html(v.parts[0].text))[:30]}", fmt(c.points)]
        row += [", ".join(_cell(f, fmt(f.value) if f.kind == "numerical" else str(f.value)) for f in fields), "0"]
    header += ["n correct", "n incorrect", "score"]
    row += ["0", str(len(pool)), "0"]
    report = tmp_path / "canvas.csv"
    with report.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, row])
    result = CliRunner().invoke(app, ["--engine", "numpy", "grade", "--responses", str(report), "--exam",
                                      str(exam_dir), "--out", str(tmp_path / "results"), "--json"])
    import json

    data = json.loads(result.stdout)
    mcq_points = sum(c.points for c in pool if c.kind == "mcq")
    # every MCQ and every single-field problem is read; choices with commas in their texts still resolve
    assert data["students"][0]["total"] >= mcq_points
    assert "Canvas gave 0 for" in (tmp_path / "results" / "feedback" / "s-1.md").read_text()


def test_export_command_writes_a_bank_for_a_spec_and_reports_what_the_lms_cannot_grade(tmp_path):
    result = CliRunner().invoke(app, ["--engine", "numpy", "export", "moodle", "conv2d-by-hand", "--variants", "4",
                                      "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert data["questions"] == 4 and data["categories"][0]["variants"] == 4
    assert any("follow-through" in n for n in data["notes"])
    ET.parse(tmp_path / "moodle.xml")


def test_every_answer_kind_has_its_lms_fields():
    from i2dl.kinds import NAMES
    from i2dl.lms.fields import FIELDS

    assert set(FIELDS) == set(NAMES)


def test_moodle_all_or_nothing_export_grades_several_correct_options_as_one(exam_dir, tmp_path):
    export_lms("moodle", exam_dir, tmp_path, variants=1, engine_name="numpy", all_or_nothing=True)
    root = ET.parse(tmp_path / "moodle.xml").getroot()
    sets = [q for q in root.findall("question") if q.get("type") == "multichoiceset"]
    assert sets
    for q in sets:
        fractions = sorted(float(a.get("fraction")) for a in q.findall("answer"))
        assert set(fractions) <= {0.0, 100.0} and fractions.count(100.0) > 1
    # the default exam grades every multiple-choice question all-or-nothing: none is left with shares
    assert all(q.find("single").text == "true" for q in root.findall("question") if q.get("type") == "multichoice")


def test_moodle_embeds_each_problems_figures_as_files_and_qti_ships_them(moodle, qti, pool):
    import base64

    from i2dl.figures import figures_of

    with_figures = [v for c in pool for v in c.variants if figures_of(v.problem)]
    assert with_figures
    by_name = {q.find("name/text").text: q for q in _questions(moodle)}
    for v in with_figures:
        q = by_name[v.tag(load_exam_id(moodle))]
        files = q.findall("questiontext/file")
        assert [f.get("encoding") for f in files] == ["base64"] * len(figures_of(v.problem))
        svg = base64.b64decode(files[0].text).decode()
        assert svg == figures_of(v.problem)[0].svg()
        assert f'src="@@PLUGINFILE@@/{files[0].get("name")}"' in q.find("questiontext/text").text
    assert any(n.endswith(".svg") for n in qti.namelist())


def load_exam_id(root: ET.Element) -> str:
    return re.search(r"i2dl:([^:]+):", _questions(root)[0].find("name/text").text).group(1)


def test_export_takes_a_blueprint_file_and_refuses_a_folder_without_an_exam(tmp_path):
    bp = tmp_path / "quiz.yaml"
    bp.write_text("id: quiz\ntitle: A quiz\nproblems:\n  - {spec: conv2d-by-hand, points: 4}\n", encoding="utf-8")
    data = export_lms("moodle", bp, tmp_path / "out", variants=2, engine_name="numpy")
    assert data["questions"] == 2
    result = CliRunner().invoke(app, ["export", "moodle", str(tmp_path / "out"), "--json"])
    assert result.exit_code != 0 and "exam.json" in result.stdout
