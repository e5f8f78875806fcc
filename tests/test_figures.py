"""Figures: each kind draws every spec that declares it, shows only givens (never a key), is deterministic,
comes back the same from exam.json, loads in Typst, and a bad `figure:` key is a located error with a fix."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import SpecError
from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.figures import KINDS, figures_of
from i2dl.render import fmt_number
from i2dl.spec import load as spec_load
from i2dl.spec.figure import DECLARATIONS
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from tests.samples import instances

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
LIBRARY = Library()
#: the shipped specs and the figure kind each declares
SHIPPED = {"mlp-backprop": "network", "residual-gradient": "network", "conv1d-backprop": "pipeline",
           "cnn-architecture": "layers", "layer-stack": "layers", "conv-layer-arithmetic": "layers",
           "conv2d-by-hand": "grid"}
SEEDS = 200
# a number as text: not part of a word (conv2d) nor of a longer number; Unicode subscripts are labels
NUMBER = re.compile(r"(?<![\w.])-?[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?(?![\w.])")


@cache
def _declaring() -> dict[str, str]:
    """Every library spec with a figure, and its kind."""
    out = {}
    for sid in LIBRARY.ids():
        decl = LIBRARY.get(sid).spec.figure
        if decl is not None:
            out[sid] = decl.kind
    return out


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def _count(root: ET.Element, cls: str) -> int:
    return sum(1 for e in root.iter() if cls in (e.get("class") or "").split())


def _texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [e.text or "" for e in root.iter() if e.tag in (SVG + "text", SVG + "title")
            and (cls is None or cls in (e.get("class") or "").split())]


def _numbers(v) -> set[str]:
    """Every number in a value (arrays, lists, layer dicts), written as the sheet writes it."""
    if isinstance(v, (bool, np.bool_, str)) or v is None:
        return set()
    if isinstance(v, dict):
        return set().union(*(_numbers(x) for x in v.values())) if v else set()
    if isinstance(v, (list, tuple, frozenset, set)):
        return set().union(*(_numbers(x) for x in v)) if v else set()
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        return set()
    return {fmt_number(t) for t in a.ravel().tolist()}


def _fmt(values) -> list[str]:
    return [fmt_number(t) for t in np.asarray(values, dtype=float).ravel().tolist()]


# ---------------------------------------------------------------------------- the vocabulary


def test_figure_registry_has_a_renderer_for_every_declarable_kind():
    assert set(KINDS) == set(DECLARATIONS) == {"network", "pipeline", "layers", "grid"}


def test_figure_declarations_of_the_shipped_specs_cover_every_kind():
    declaring = _declaring()
    assert {s: declaring.get(s) for s in SHIPPED} == SHIPPED
    assert set(declaring.values()) == set(KINDS)


def _expected_counts(spec_id: str, v: dict) -> dict[str, int]:
    """What the figure of one instance must hold, counted from its values (not from the figure's data)."""
    if spec_id == "mlp-backprop":
        nh = int(v["nh"])
        return {"node": 2 + nh + 2, "edge": 2 * nh + nh * 2, "weight": 4 * nh, "bias": nh + 2, "target": 2}
    if spec_id == "residual-gradient":
        return {"node": 6, "edge": 5 + 1, "skip": 1, "weight": 4}
    if spec_id == "conv1d-backprop":
        return {"tensor": 4, "op": 4, "cell": len(v["x"]) + len(v["c"]) + len(v["w"]), "flow": 7}
    if spec_id == "cnn-architecture":
        return {"input": 1, "layer": 6}
    if spec_id == "layer-stack":
        return {"input": 1, "layer": len(v["layers"])}
    if spec_id == "conv-layer-arithmetic":
        return {"input": 1, "layer": 1}
    if spec_id == "conv2d-by-hand":
        nh, nw, p = int(v["nh"]), int(v["nw"]), int(v["padding"])
        return {"cell": nh * nw, "pad": (nh + 2 * p) * (nw + 2 * p) - nh * nw, "kcell": int(v["kernel"]) ** 2, "window": 1}
    return {}  # a spec added later: drawn and parsed, its counts not known here


@pytest.mark.library
@pytest.mark.parametrize("spec_id", sorted(_declaring()))
def test_figure_of_every_declaring_spec_is_well_formed_with_its_nodes_edges_and_cells(spec_id):
    for inst in instances(spec_id)[:SEEDS]:
        (fig,) = figures_of(inst)
        assert fig.kind == _declaring()[spec_id] and fig.caption
        root = _tree(fig.svg())
        assert root.tag == SVG + "svg" and root.get("width").endswith("pt") and root.get("height").endswith("pt")
        counts = _expected_counts(spec_id, inst.values)
        assert {c: _count(root, c) for c in counts} == counts, (spec_id, inst.seed)


@pytest.mark.library
def test_figure_network_writes_each_weight_on_its_edge_and_each_bias_at_its_node():
    for inst in instances("mlp-backprop")[:SEEDS]:
        root = _tree(figures_of(inst)[0].svg())
        v = inst.values
        weights = [fmt_number(w) for W in (v["W1"], v["W2"]) for w in np.asarray(W).ravel().tolist()]
        assert sorted(_texts(root, "weight")) == sorted(weights)
        assert sorted(_texts(root, "bias")) == sorted(f"b = {b}" for b in _fmt(v["b1"]) + _fmt(v["b2"]))
        assert _texts(root, "value") == _fmt(v["x"])


@pytest.mark.library
def test_figure_grid_writes_the_input_then_the_kernel_row_by_row():
    for inst in instances("conv2d-by-hand")[:SEEDS]:
        root = _tree(figures_of(inst)[0].svg())
        assert _texts(root, "value") == _fmt(inst.values["X"]) + _fmt(inst.values["K"])


# ---------------------------------------------------------------------------- only givens, never a key


@pytest.mark.library
@pytest.mark.parametrize("spec_id", sorted(_declaring()))
def test_figure_shows_only_given_numbers_and_no_key_value(spec_id):
    for inst in instances(spec_id)[:SEEDS]:
        text = " ".join(t for f in figures_of(inst) for t in _texts(_tree(f.svg())))
        shown = set(NUMBER.findall(text))
        given = _numbers(inst.givens())
        keys = set().union(*(_numbers(b.expected) for p in inst.parts for b in p.blanks)) - given
        assert shown <= given, (spec_id, inst.seed, sorted(shown - given))
        assert not shown & keys, (spec_id, inst.seed, sorted(shown & keys))


@pytest.mark.parametrize("spec_id", sorted(SHIPPED))
def test_figure_is_the_same_whatever_the_answers_are(spec_id):
    inst = make_instance(LIBRARY.get(spec_id), 3, get_engine("numpy"))
    before = [f.svg() for f in figures_of(inst)]
    for p in inst.parts:
        for b in p.blanks:
            inst.values[b.name] = 777.25  # a figure that read any answer would change (or fail)
    assert [f.svg() for f in figures_of(inst)] == before


# ---------------------------------------------------------------------------- determinism, exam.json


def test_figure_svg_is_byte_identical_for_the_same_seed_and_has_no_ids():
    engine = get_engine("numpy")
    for spec_id in SHIPPED:
        a = [f.svg() for f in figures_of(make_instance(LIBRARY.get(spec_id), 11, engine))]
        b = [f.svg() for f in figures_of(make_instance(LIBRARY.get(spec_id), 11, engine))]
        assert a == b and a
        assert ' id="' not in a[0] and "url(#" not in a[0]


def test_figures_of_an_exam_read_back_from_exam_json_equal_the_fresh_ones(tmp_path):
    exam = build_exam("default", 5, engine_name="numpy")
    write_exam(exam, tmp_path / "exam")
    loaded = load_exam(tmp_path / "exam")
    fresh = [(p.number, f.id, f.svg()) for p in exam.problems for f in figures_of(p)]
    back = [(p.number, f.id, f.svg()) for p in loaded.problems for f in figures_of(p)]
    assert back == fresh and len(fresh) == 5


def test_markdown_export_writes_each_figure_beside_the_sheet_and_links_it(tmp_path):
    exam = build_exam("default", 5, engine_name="numpy")
    write_exam(exam, tmp_path)
    sheet = (tmp_path / "exam.md").read_text(encoding="utf-8")
    for prob in exam.problems:
        for f in figures_of(prob):
            path = tmp_path / "figures" / f"{prob.number}-{f.id}.svg"
            assert path.read_text(encoding="utf-8") == f.svg()
            link = f"![{f.caption}](figures/{prob.number}-{f.id}.svg)"
            # below its problem's statement, before the first part
            assert sheet.index(link) > sheet.index(f"## Problem {prob.number}:")
            assert sheet.index(link) < sheet.index(f"**{prob.parts[0].number}**")


def test_markdown_sheet_links_a_part_figure_below_its_part(tmp_path):
    text = (spec_load.builtin_dir("specs") / "mlp-backprop.yaml").read_text(encoding="utf-8")
    text = text.replace("id: mlp-backprop", "id: mlp-part-figure").replace("  kind: network\n",
                                                                          "  kind: network\n  part: gradient\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mlp-part-figure.yaml").write_text(text, encoding="utf-8")
    exam = build_exam("mlp-part-figure", 2, engine_name="numpy", library=Library([tmp_path / "specs"]))
    (fig,) = figures_of(exam.problems[0])
    assert fig.part == "gradient"
    write_exam(exam, tmp_path / "exam")
    sheet = (tmp_path / "exam" / "exam.md").read_text(encoding="utf-8")
    link = sheet.index("](figures/1-network.svg)")
    assert sheet.index("**1.5**") < link < sheet.index("**1.6**")


def test_generate_again_with_force_leaves_no_figure_of_the_earlier_exam(tmp_path):
    from i2dl.generate import generate_exam

    generate_exam("mlp-backprop", 1, tmp_path, engine_name="numpy")
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["1-network.svg"]
    generate_exam("conv2d-by-hand", 1, tmp_path, engine_name="numpy", force=True)
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["1-grid.svg"]


def test_figures_of_a_multiple_choice_or_figureless_problem_is_empty():
    exam = build_exam("default", 5, engine_name="numpy")
    assert exam.problems[0].kind != "spec" and figures_of(exam.problems[0]) == []
    assert [figures_of(p) for p in exam.problems if p.spec_id in ("softmax-cross-entropy", "adam-steps")] == [[], []]


# ---------------------------------------------------------------------------- the schema


def _spec_with(tmp_path: Path, figure: str, spec_id: str = "mlp-backprop") -> Path:
    text = (spec_load.builtin_dir("specs") / f"{spec_id}.yaml").read_text(encoding="utf-8")
    text = text[:text.index("\nfigure:")] + "\n" + figure
    path = tmp_path / f"{spec_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as exc:
        spec_load.load_spec(path)
    return exc.value


def test_figure_of_unknown_kind_is_an_error_naming_the_key_and_the_kinds(tmp_path):
    err = _error(_spec_with(tmp_path, "figure: {kind: graph, input: x}\n"))
    assert err.where.startswith(str(tmp_path)) and err.where.endswith(" figure") and "'graph'" in err.message
    assert all(k in err.fix for k in KINDS)


def test_figure_slot_naming_an_answer_is_an_error_at_its_key_path(tmp_path):
    err = _error(_spec_with(tmp_path, "figure:\n  kind: network\n  input: x\n  layers:\n"
                                      "    - {label: h, weights: W1, bias: h}\n"))
    assert "answer" in err.message and "'h'" in err.message
    assert err.where.endswith("figure.layers[0].bias")


def test_figure_slot_with_a_misspelt_name_suggests_the_given(tmp_path):
    err = _error(_spec_with(tmp_path, "figure:\n  kind: network\n  input: x\n  layers:\n"
                                      "    - {label: h, weights: W_1}\n"))
    assert err.where.endswith("figure.layers[0].weights") and "W1" in err.fix


def test_figure_slot_naming_a_value_the_statement_never_prints_is_an_error(tmp_path):
    err = _error(_spec_with(tmp_path, "figure:\n  kind: layers\n  input: [C, H, H]\n  layers:\n"
                                      "    - {type: conv2d, out: h1}\n", "cnn-architecture"))
    assert "never prints" in err.message and err.where.endswith("figure.layers[0].out") and "{{h1}}" in err.fix


def test_figure_label_with_a_number_written_by_hand_is_an_error(tmp_path):
    err = _error(_spec_with(tmp_path, "figure:\n  kind: network\n  input: x\n  layers:\n"
                                      "    - {label: h, weights: W1, activation: slope 0.1}\n"))
    assert "0.1" in err.message and "figure.layers[0].activation" in err.where


def test_figure_missing_a_required_slot_names_it(tmp_path):
    err = _error(_spec_with(tmp_path, "figure: {kind: grid, kernel: W1}\n"))
    assert "input" in err.message and "figure" in err.where


def test_figure_with_a_misspelt_slot_warns_with_the_known_one(tmp_path):
    compiled = spec_load.load_spec(_spec_with(tmp_path, "figure:\n  kind: network\n  input: x\n  targte: t\n"
                                                        "  layers:\n    - {label: h, weights: W1}\n"))
    assert any("targte" in w and "target" in w for w in compiled.warnings)


def test_validate_stress_test_fails_a_figure_whose_slot_holds_the_wrong_shape(tmp_path):
    from i2dl.validate import stress_spec

    compiled = spec_load.load_spec(_spec_with(tmp_path, "figure:\n  kind: network\n  input: W1\n  layers:\n"
                                                        "    - {label: h, weights: W2}\n"))
    report = stress_spec(compiled, 3, get_engine("numpy"))
    assert report["failures"] == 3
    assert "figure slot 'input' names 'W1'" in report["first_failure"] and "not a vector" in report["first_failure"]


# ---------------------------------------------------------------------------- Typst


def test_figure_of_every_kind_loads_in_typst_without_a_warning(tmp_path):
    typst = pytest.importorskip("typst")
    engine = get_engine("numpy")
    for spec_id in SHIPPED:
        (fig,) = figures_of(make_instance(LIBRARY.get(spec_id), 2, engine))
        (tmp_path / "fig.svg").write_text(fig.svg(), encoding="utf-8")
        doc = tmp_path / "doc.typ"
        doc.write_text('#set page(width: 16cm, height: auto)\n#figure(image("fig.svg", width: 100%), '
                       'caption: [A figure])\n', encoding="utf-8")
        pdf, warnings = typst.compile_with_warnings(str(doc), root=str(tmp_path), format="pdf")
        assert pdf[:5] == b"%PDF-" and list(warnings) == [], (spec_id, warnings)


def test_docs_carry_one_current_example_figure_per_kind():
    shipped = {}
    for spec_id, seed in EXAMPLES.items():
        (fig,) = figures_of(make_instance(LIBRARY.get(spec_id), seed, get_engine("numpy")))
        shipped[fig.kind] = fig.svg()
    for kind, svg in shipped.items():
        assert (ROOT / "docs" / "figures" / f"{kind}.svg").read_text(encoding="utf-8") == svg, (
            f"docs/figures/{kind}.svg is stale: rewrite it with `python -m tests.test_figures`")
        assert f"figures/{kind}.svg" in (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")


#: the instance each docs/figures example is drawn from
EXAMPLES = {"mlp-backprop": 3, "conv1d-backprop": 3, "cnn-architecture": 3, "conv2d-by-hand": 4}


if __name__ == "__main__":  # rewrite docs/figures/*.svg from EXAMPLES
    for sid, s in EXAMPLES.items():
        (f,) = figures_of(make_instance(LIBRARY.get(sid), s, get_engine("numpy")))
        (ROOT / "docs" / "figures" / f"{f.kind}.svg").write_text(f.svg(), encoding="utf-8")
