"""The published JSON Schema of exam.json (docs/exam.schema.json) is the one its model generates, and a
generated exam is valid under that model."""

from __future__ import annotations

import json
from pathlib import Path

from i2dl.exam import build_exam
from i2dl.exam.data import ExamData, exam_json_text, exam_to_data, json_schema, json_schema_text

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "exam.schema.json"


def test_published_schema_is_the_one_the_exam_data_model_generates():
    # After changing the model, regenerate the file with `make schema`.
    assert SCHEMA.read_text(encoding="utf-8") == json_schema_text()


def test_generated_exam_validates_against_the_exam_data_model():
    data = json.loads(exam_json_text(exam_to_data(build_exam("default", 2024, engine_name="numpy"))))
    ExamData.model_validate(data)  # strict: the very model the schema is generated from
    one = json_schema()["$defs"]["ExamData"]
    assert set(one["properties"]) == set(data)
    assert set(one["required"]) == set(data)  # every key is written, null where it has no value


def test_published_schema_describes_format_6_with_specs_options_rounding_and_short_answers():
    schema = json_schema()
    assert schema["$defs"]["ExamData"]["properties"]["format"]["const"] == 6
    assert schema["$defs"]["CohortExamData"]["properties"]["format"]["const"] == 7
    assert {"model_answer", "checklist", "lines"} <= set(schema["$defs"]["BlankData"]["properties"])
    assert set(schema["$defs"]["CheckItemData"]["properties"]) == {"id", "points", "text", "instead_of", "suggest"}
    assert {"rounding"} <= set(schema["$defs"]["BlankData"]["required"])
    assert "rounding" in schema["$defs"]["ExamData"]["required"]
    assert {"spec"} <= set(schema["$defs"]["ProblemData"]["required"])
    assert set(schema["$defs"]["OptionData"]["properties"]) == {"letter", "text", "correct", "reason", "mistake"}


def test_published_schema_offers_one_exam_or_a_cohort_by_format():
    schema = json_schema()
    assert schema["oneOf"] == [{"$ref": "#/$defs/ExamData"}, {"$ref": "#/$defs/CohortExamData"}]
    cohort = schema["$defs"]["CohortExamData"]
    assert cohort["properties"]["format"]["const"] == 7
    assert {"specs", "variants", "roster"} <= set(cohort["required"])
    assert "seed" not in cohort["properties"]  # a cohort has a seed per variant, none of its own
