"""design-sizes against the seeds' numbers and independent computations; symbolic shape dimensions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2dl.errors import AnswerParseError
from i2dl.exam import build_exam
from i2dl.kinds.shape import SHAPE, is_symbol, parse_shape
from tests.samples import instances
from tests.test_seed_grading_notes import DESIGN


def _keys(pins: dict) -> dict[str, object]:
    exam = build_exam("design-sizes", 0, pins=pins, engine_name="numpy")
    return {b.name: b.expected for part in exam.problems[0].parts for b in part.blanks}


def test_design_sizes_keys_the_2022_digit_sum_task_as_the_seed_does():
    keys = _keys(DESIGN)
    assert keys["in_shape"] == ("N", 2, 28, 28) and keys["out_shape"] == ("N", 19)  # 2022 4.2
    assert (keys["n_s1"], keys["n_s2"]) == (7, 1)  # 2022 4.10: sum 12 has 7 pairs, sum 18 one
    assert (keys["filters"], keys["kernel"], keys["padding"]) == (100, 28, 0)  # 2022 4.5
    assert keys["weight_shape"] == (100, 2, 28, 28)


def test_design_sizes_keys_the_2024_point_cloud_sizes():
    keys = _keys(DESIGN)
    assert (keys["n_in"], keys["n_out"]) == (300, 12)  # 2024 8.3: 100 x 3 in, 9 + 3 out


def test_design_sizes_stacks_colour_channels_for_dice_photos():
    keys = _keys({**DESIGN, "src": 1, "sum1": 7, "sum2": 12})
    assert keys["in_shape"] == ("N", 6, 32, 32) and keys["out_shape"] == ("N", 11)  # sums 2..12
    assert (keys["n_s1"], keys["n_s2"]) == (6, 1)


@pytest.mark.library
def test_design_sizes_pair_counts_match_enumeration_over_many_instances():
    for inst in instances("design-sizes")[:300]:
        v = inst.values
        lo, hi = int(v["lo"]), int(v["hi"])
        sums = [a + b for a, b in itertools.product(range(lo, hi + 1), repeat=2)]
        assert int(v["count1"]) == sums.count(int(v["sum1"])) and int(v["count2"]) == sums.count(int(v["sum2"]))
        assert int(v["n_sums"]) == len(set(sums))


@pytest.mark.torch
def test_design_sizes_fc_as_conv_computes_the_fully_connected_layer_with_torch():
    torch = pytest.importorskip("torch")
    for inst in instances("design-sizes")[:40]:
        v = inst.values
        c, h, m = 2 * int(v["C"]), int(v["H"]), int(v["M"])
        fc = torch.nn.Linear(c * h * h, m, dtype=torch.float64)
        shape = tuple(int(d) for d in inst.values["weight_shape"]) if "weight_shape" in inst.values else (m, c, h, h)
        conv = torch.nn.Conv2d(c, int(v["M"]), kernel_size=h, padding=0, stride=1, dtype=torch.float64)
        assert tuple(conv.weight.shape) == shape
        with torch.no_grad():
            conv.weight.copy_(fc.weight.reshape(shape))
            conv.bias.copy_(fc.bias)
        x = torch.randn(3, c, h, h, dtype=torch.float64)
        out = conv(x)
        assert tuple(out.shape) == (3, m, 1, 1)
        assert torch.allclose(out.flatten(1), fc(x.flatten(1)))


@pytest.mark.parametrize("text, shape", [
    ("N x 2 x 28 x 28", ("N", 2, 28, 28)),
    ("(N, 19)", ("N", 19)),
    ("Nx2x28x28", ("N", 2, 28, 28)),
    ("K × H × W", ("K", "H", "W")),
    ("C_hat x 64 x 64", ("C_hat", 64, 64)),
])
def test_parse_shape_reads_symbolic_dimensions(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["twelve", "N x -2", "2 x 2.5", "x"])
def test_parse_shape_refuses_words_and_non_whole_sizes(text):
    with pytest.raises(AnswerParseError):
        parse_shape(text)


def test_shape_compare_matches_symbols_in_any_case_and_nothing_else():
    assert SHAPE.compare(("n", 19), ("N", 19), (0, 0))[0] == 1.0
    assert SHAPE.compare(("B", 19), ("N", 19), (0, 0))[0] == 0.0
    assert SHAPE.compare((8, 19), ("N", 19), (0, 0))[0] == 0.0


def test_symbolic_shape_survives_the_exam_data_round_trip():
    key = SHAPE.coerce(["N", 2, 28, 28])
    data = SHAPE.to_data(key)
    assert SHAPE.data_problem(data, 0) is None and SHAPE.from_data(data) == key
    assert SHAPE.data_problem({"tuple": ["N", "no way"]}, 0) is not None


@given(st.lists(st.one_of(st.integers(1, 500), st.sampled_from(["N", "B", "K", "C1", "c_out"])), min_size=1, max_size=5))
def test_parse_shape_reads_back_what_the_key_writes(dims):
    key = SHAPE.coerce(dims)
    assert all(is_symbol(d) or isinstance(d, int) for d in key)
    assert parse_shape(SHAPE.answer_text(key)) == key
