"""Property questions: statements judged by the engine, drawn and shuffled by the seed, keyed by the maths."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import SpecError
from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.generate import solve_spec, spec_names
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library

LIB = Library()
NP = get_engine("numpy")


def _solve(spec: str, **pins) -> dict:
    from i2dl.spec.instance import parse_pin

    return solve_spec(spec, dict(parse_pin(f"{k}={v}") for k, v in pins.items()), engine_name="numpy", library=LIB)


def _key(result: dict, part: int = 0) -> str:
    return "".join(sorted(result["parts"][part]["blanks"][-1]["value"]))


def _truths(result: dict, part: int = 0) -> list[bool]:
    return [o["correct"] for o in result["parts"][part]["options"]]


# --------------------------------------------------------------------------- the seeds' questions


def test_conv_shape_factors_reproduces_2024_1_8_n_k_m_change_the_shape_c_does_not():
    """TUM IN2346 endterm 13 Feb 2024, 1.8 (shared/seeds/000): kernel k, padding 1, stride 1,
    m filters on a C x N x N input; N, k and m affect the output shape, C does not."""
    r = _solve("conv-shape-factors", padding=1, stride=1, kernel=3, N=8, C=3, C2=8, m=16,
               alters_order="[0,1,2,3]")
    assert _key(r) == "ABC"
    assert [o["text"].split()[1:3] for o in r["parts"][0]["options"]][0] == ["input", "size"]
    assert r["values"]["shape0"] == [16, 8, 8] and r["values"]["shape_C"] == [16, 8, 8]


def test_conv_shape_factors_with_stride_two_an_input_change_can_leave_the_shape():
    r = _solve("conv-shape-factors", padding=1, stride=2, kernel=3, N=8, dN=1, alters_order="[0,1,2,3]")
    assert r["values"]["shape0"] == [r["params"]["m"], 4, 4] and r["values"]["shape_N"][1] == 5
    r = _solve("conv-shape-factors", padding=0, stride=2, kernel=3, N=9, dN=1, alters_order="[0,1,2,3]")
    assert r["values"]["shape_N"] == r["values"]["shape0"]  # floor((10 - 3) / 2) = floor((9 - 3) / 2)
    assert _truths(r)[0] is False


def test_same_size_convs_keeps_mnist_28_by_28_with_the_2022_4_1_example_triplet():
    """TUM IN2346 endterm 1 Aug 2022, 4.1 (shared/seeds/003): on 28 x 28 MNIST inputs the
    example triplet (k=3, s=1, p=1) keeps the spatial size; (5, 1, 2) too, (3, 1, 0) and (3, 2, 1) do not."""
    r = _solve("same-size-convs", H=28, W=28, kernels="[3,5,3,3,7,1]", strides="[1,1,1,2,1,1]",
               paddings="[1,2,0,1,3,0]", keeps_order="[0,1,2,3]")
    assert _truths(r) == [True, True, False, False] and _key(r) == "AB"
    assert r["parts"][0]["options"][0]["text"] == "(kernel 3, stride 1, padding 1)"


def test_output_activation_range_reproduces_2024_1_6_for_targets_in_minus_one_one():
    """TUM IN2346 endterm 13 Feb 2024, 1.6 (shared/seeds/000): for labels in [-1, 1],
    2 sigma(x) - 1, tanh(10 x) and min(max(-1, x), 1) could be used, max(-1, x) not."""
    r = _solve("output-activation-range", t_lo=-1, a=2, b=1, g=1, c=10, fit_order="[0,1,2,3]")
    assert _key(r) == "ABD"
    texts = [o["text"] for o in r["parts"][0]["options"]]
    assert texts[1] == "$f(x) = 1\\tanh(10 x)$" and "max(-1, x)" in texts[2]


def test_output_activation_range_for_targets_in_zero_one_the_sigmoid_fits_and_tanh_does_not():
    r = _solve("output-activation-range", t_lo=0, a=2, b=1, g=1, c=10, fit_order="[5,1,3,4]")
    assert _truths(r) == [True, False, True, False]


def test_maxpool_gradient_count_reproduces_2022_1_7_for_a_2x2_window_on_unique_values():
    """TUM IN2346 endterm 1 Aug 2022, 1.7 (shared/seeds/003): a 2 x 2 max pool on unique
    positive values needs the positions of the maxima, 75 % of the derivatives are NOT non-zero
    (25 % are), and the layer has no weights to update."""
    X = "[[1,2,3,4],[5,6,7,8],[9,10,11,12],[13,14,15,16]]"
    r = _solve("maxpool-gradient-count", X=X, pool_kernel=2, pool_stride=2, share_claim=75,
               pool_facts_order="[1,0,2,3]")
    assert r["parts"][0]["blanks"][0]["value"] == 4
    assert _truths(r, 1) == [True, False, False, True]
    r = _solve("maxpool-gradient-count", X=X, pool_kernel=2, pool_stride=2, share_claim=25,
               pool_facts_order="[0,1,2,3]")
    assert _truths(r, 1)[0] is True


def test_maxpool_gradient_count_with_overlapping_windows_counts_shared_maxima_once():
    r = _solve("maxpool-gradient-count", X="[[1,2,3],[4,9,5],[6,7,8]]", pool_kernel=2, pool_stride=1,
               share_claim=25, pool_facts_order="[4,0,1,2]")
    assert r["parts"][0]["blanks"][0]["value"] == 1  # 9 is the maximum of all four windows
    assert _truths(r, 1)[0] is True  # an entry with gradient 4


def test_box_filter_pooling_reproduces_2020_v_c_same_function_but_not_the_same_layer():
    """TUM I2DL mock exam summer 2020, V(c) (shared/seeds/004): the 1/9 box kernel with
    stride 2 and padding 1 on the exam's X gives the exam's Z (3, 2, -2, 2 at the asked positions) and
    the same output as 3 x 3 average pooling, but has trainable weights, so the layers differ."""
    X = "[[3,1,6,8,0],[2,3,2,7,-6],[-8,0,6,-5,-8],[1,2,5,-2,-4],[8,7,-2,-1,7]]"
    r = _solve("box-filter-pooling", X=X, centre=1, stride=2, padding=1, same_order="[0,1,2,3]")
    Z = np.asarray(r["values"]["Z"])
    assert Z[0, 1] == pytest.approx(3) and Z[1, 1] == pytest.approx(2)
    assert Z[1, 2] == pytest.approx(-2) and Z[2, 0] == pytest.approx(2)
    assert _key(r) == "ABC"
    r = _solve("box-filter-pooling", X=X, centre=2, stride=2, padding=1, same_order="[0,1,2,3]")
    assert _truths(r)[:2] == [False, False]


def test_commuting_layers_relu_and_average_pooling_commute_only_without_mixed_windows():
    r = _solve("commuting-layers", x="[1,2,-1,3,-2,-1]", a=-1, bias=1, commute_order="[0,1,2,4]")
    assert _truths(r) == [True, False, False, False]
    r = _solve("commuting-layers", x="[1,2,1,3,-2,-1]", a=2, bias=1, commute_order="[1,2,4,3]")
    assert _truths(r) == [True, True, True, True] or _truths(r)[:3] == [True, True, True]


def test_which_activation_names_every_function_that_matches_the_output():
    r = _solve("which-activation", z="[1,2,0.5,3]", act="relu", could_order="[0,1,4,2]")
    assert _truths(r) == [True, True, True, False]  # all positive: ReLU, leaky ReLU and the identity agree
    r = _solve("which-activation", z="[1,-2,0.5,3]", act="relu", could_order="[0,1,4,2]")
    assert _truths(r) == [True, False, False, False]


# --------------------------------------------------------------------------- drawing and shuffling


def test_statements_are_drawn_and_shuffled_deterministically_per_seed():
    c = LIB.get("same-size-convs")
    a, b = make_instance(c, 11, NP), make_instance(c, 11, NP)
    assert [o.text for o in a.parts[0].options] == [o.text for o in b.parts[0].options]
    assert a.parts[0].blanks[0].expected == b.parts[0].blanks[0].expected
    orders = {tuple(make_instance(c, s, NP).values["keeps_order"]) for s in range(30)}
    assert len(orders) > 10
    for s in range(30):
        inst = make_instance(c, s, NP)
        opts = inst.parts[0].options
        assert len(opts) == 4 and 1 <= sum(o.correct for o in opts) <= 3  # at_least_true and at_least_false
        assert inst.parts[0].blanks[0].expected == frozenset(o.letter for o in opts if o.correct)


def test_list_shows_the_order_parameter_and_a_wrong_pin_is_refused():
    names = {r["name"]: r for r in spec_names("conv-shape-factors", LIB)["names"]}
    assert names["alters_order"]["type"] == "vector" and names["alters_order"]["shape"] == [4]
    with pytest.raises(SpecError) as err:
        _solve("conv-shape-factors", alters_order="[0,1,2,9]")
    assert "distinct indices from 0 to 3" in err.value.message
    with pytest.raises(SpecError):
        _solve("conv-shape-factors", alters_order="[0,1,1,2]")


def test_a_part_with_both_answers_and_statements_is_an_error_naming_the_part(tmp_path):
    from i2dl.spec.load import load_spec

    spec = tmp_path / "bad-props.yaml"
    spec.write_text("""\
id: bad-props
title: t
topic: testing
params:
  n: {type: int, min: 1, max: 5}
parts:
  - id: p
    text: "?"
    points: 1
    answers: [{name: d, expr: "2 * n"}]
    statements:
      from:
        - {text: "n is even", holds: "n % 2 == 0", why: "n = {{n}}"}
        - {text: "n is odd", holds: "n % 2 == 1", why: "n = {{n}}"}
""")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert "parts[0]" in err.value.where and "both" in err.value.message
    spec.write_text(spec.read_text().replace('    answers: [{name: d, expr: "2 * n"}]\n', "").replace(
        "n % 2 == 1", "m % 2 == 1"))
    with pytest.raises(Exception) as err:
        load_spec(spec)
    assert "statements.from[1].holds" in str(err.value)


def test_validate_flags_uniform_instances_and_foregone_statements(tmp_path):
    from i2dl.validate import validate_file

    spec = tmp_path / "uniform-props.yaml"
    spec.write_text("""\
id: uniform-props
title: t
topic: testing
params:
  n: {type: int, min: 1, max: 400}
statement: "Take n = {{n}}."
parts:
  - id: p
    text: "Which hold?"
    points: 1
    statements:
      from:
        - {text: "n is even", holds: "n % 2 == 0", why: "n = {{n}}"}
        - {text: "n is positive", holds: "n > 0", why: "n = {{n}}"}
""")
    report = validate_file(spec, 200, "numpy")
    text = "\n".join(report["warnings"])
    assert "every shown statement of part p is true" in text
    assert "statement 2 of part p is true in every sample" in text


# --------------------------------------------------------------------------- exam.json, grading, exporters


@pytest.fixture(scope="module")
def exam_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("props") / "exam"
    write_exam(build_exam("same-size-convs", 3, engine_name="numpy"), out)
    return out


def test_exam_json_round_trip_keeps_the_drawn_statements(exam_dir):
    data = json.loads((exam_dir / "exam.json").read_text())
    part = data["problems"][0]["parts"][0]
    assert len(part["options"]) == 4 and all(o["text"].startswith("(kernel ") for o in part["options"])
    exam = load_exam(exam_dir)
    opts = exam.problems[0].parts[0].options
    assert [o.text for o in opts] == [o["text"] for o in part["options"]]
    assert exam.problems[0].parts[0].blanks[0].expected == frozenset(o.letter for o in opts if o.correct)


def test_grading_a_property_question_gives_full_points_for_the_key_and_none_otherwise(exam_dir, tmp_path):
    from i2dl.grade.batch import grade_file

    exam = load_exam(exam_dir)
    part = exam.problems[0].parts[0]
    key = "".join(sorted(part.blanks[0].expected))
    wrong = "".join(sorted(set("ABCD") - set(key)))
    for answer, points in ((key, part.points), (wrong, 0.0)):
        f = tmp_path / f"s{answer}.yaml"
        f.write_text(f"student_id: s{answer}\nexam: {exam.exam_id}\nanswers:\n  '1.1':\n    keeps: '{answer}'\n")
        assert grade_file(f, exam, engine_name="numpy").total == pytest.approx(points)


def test_grading_a_statement_judged_the_wrong_way_names_its_mistake(tmp_path):
    from i2dl.grade.batch import grade_file

    exam = build_exam("conv-shape-factors", 0, engine_name="numpy",
                      pins={"padding": 1, "stride": 1, "kernel": 3, "N": 8, "alters_order": [0, 1, 2, 3]})
    write_exam(exam, tmp_path / "exam")
    exam = load_exam(tmp_path / "exam")
    assert exam.problems[0].parts[0].blanks[0].expected == frozenset("ABC")
    f = tmp_path / "s1.yaml"
    f.write_text(f"student_id: s1\nexam: {exam.exam_id}\nanswers:\n  '1.1': 'ABCD'\n")
    blank = grade_file(f, exam, engine_name="numpy").parts[0].blanks[0]
    assert blank.credit == 0 and blank.alternative == "channels-change-shape"
    assert "one channel per filter" in blank.feedback


def test_every_exporter_shows_the_statements(exam_dir, tmp_path):
    from i2dl.export.pdf import key_source, sheet_source
    from i2dl.lms import export_lms

    exam = load_exam(exam_dir)
    texts = [o.text for o in exam.problems[0].parts[0].options]
    sheet, key = (exam_dir / "exam.md").read_text(), (exam_dir / "key.md").read_text()
    reasons = [o.reason for o in exam.problems[0].parts[0].options]
    assert all(t in sheet for t in texts) and all(r in key for r in reasons)
    assert "'1.1': ''    # letters of all correct options among A, B, C, D" in (exam_dir / "answers.yaml").read_text()
    pdf_sheet, pdf_key = sheet_source(exam), key_source(exam)
    assert all(t.split(",")[0] in pdf_sheet for t in texts) and "#cross" in pdf_sheet
    assert "floor(" in pdf_key  # each statement's why
    export_lms("moodle", exam_dir, tmp_path / "m", variants=2, engine_name="numpy")
    xml = (tmp_path / "m" / "moodle.xml").read_text()
    assert texts[0].split(",")[0] in xml
    export_lms("qti", exam_dir, tmp_path / "q", variants=2, engine_name="numpy")
    with zipfile.ZipFile(tmp_path / "q" / "qti.zip") as z:
        body = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
    assert texts[0].split(",")[0] in body


def test_explain_works_out_each_shown_statement_with_the_instances_numbers(exam_dir):
    from i2dl.explain import explain_part

    exam = load_exam(exam_dir)
    expl = explain_part(exam, "1.1")
    steps = expl["blanks"][0]["steps"]
    H = exam.problems[0].values["H"]
    assert len(expl["options"]) == 4
    assert sum(1 for s in steps if s["lhs"].startswith(r"\text{")) == 4
    assert any(str(H) in r for s in steps for r in s["rhs"])


# --------------------------------------------------------------------------- computed questions of the bank


def test_solve_pins_a_computed_question_of_the_bank():
    r = solve_spec("mcq.cnn.pool-output-size", {"n": 20}, engine_name="numpy")
    p = r["params"]
    kernel, stride = p["pool_kernel"], p["pool_stride"]
    right = [o["text"] for o in r["parts"][0]["options"] if o["correct"]]
    assert p["n"] == 20 and right == [str((20 - kernel) // stride + 1)]
    assert "".join(sorted(r["parts"][0]["blanks"][0]["value"])) == "".join(
        o["letter"] for o in r["parts"][0]["options"] if o["correct"])


def test_solve_of_a_fully_pinned_question_keeps_the_pins_and_warns_of_an_unmet_constraint(tmp_path):
    from i2dl.mcq import Bank, make_variant

    (tmp_path / "props-test.yaml").write_text("""\
topic: testing
questions:
  - id: parity
    params:
      n: {type: int, min: 1, max: 9}
    constraints: ["n > 3"]
    stem: 'Take n = {{n}}.'
    options:
      - {text: 'n is even', correct: "n % 2 == 0", why: 'n = {{n}}'}
      - {text: 'n is odd', correct: "n % 2 == 1", why: 'n = {{n}}'}
      - {text: 'n is positive', correct: "n > 0", why: 'n = {{n}}'}
""")
    bq = Bank(extra=[tmp_path]).get("mcq.props-test.parity")
    v = make_variant(bq, 0, NP, pins={"n": 2})
    assert v.params["n"] == 2 and v.warnings == ["constraint not met by the pinned values: n > 3"]
    assert {v.options[ord(c) - 65] for c in v.correct} == {"n is even", "n is positive"}


def test_list_names_the_parameters_of_a_computed_question_and_a_wrong_name_is_refused():
    names = [r["name"] for r in spec_names("mcq.cnn.pool-output-size")["names"]]
    assert "n" in names and len(names) == 4
    with pytest.raises(SpecError) as err:
        solve_spec("mcq.cnn.pool-output-size", {"nn": 20}, engine_name="numpy")
    assert "did you mean n" in (err.value.fix or "")


# --------------------------------------------------------------------------- torch cross-checks


@pytest.mark.parametrize("seed", range(50))
def test_maxpool_gradient_count_equals_torch_autograd_of_max_pooling(seed):
    torch = pytest.importorskip("torch")
    inst = make_instance(LIB.get("maxpool-gradient-count"), seed, NP)
    v = inst.values
    x = torch.tensor(np.asarray(v["X"]), dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.max_pool2d(x[None, None], v["pool_kernel"], v["pool_stride"])
    (g,) = torch.autograd.grad(y.sum(), x)
    assert inst.parts[0].blanks[0].expected == int((g != 0).sum())
    assert np.allclose(np.asarray(v["G"]), g.numpy())


@pytest.mark.parametrize("seed", range(50))
def test_box_filter_statement_agrees_with_torch_conv_and_average_pooling(seed):
    torch = pytest.importorskip("torch")
    inst = make_instance(LIB.get("box-filter-pooling"), seed, NP)
    v = inst.values
    x = torch.tensor(np.asarray(v["X"]), dtype=torch.float64)[None, None]
    k = torch.tensor(np.asarray(v["K"]), dtype=torch.float64)[None, None]
    z = torch.nn.functional.conv2d(x, k, stride=v["stride"], padding=v["padding"])
    p = torch.nn.functional.avg_pool2d(x, 3, v["stride"], v["padding"], count_include_pad=True)
    same = bool(torch.allclose(z, p))
    shown = [int(i) for i in v["same_order"]]
    letter = "ABCD"[shown.index(0)]
    assert (letter in inst.parts[0].blanks[0].expected) == same
