"""Exporters: the registry, the protocol, and write_exam writing exam.json plus the chosen formats."""

from __future__ import annotations

import pytest

from i2dl.errors import NotFoundError
from i2dl.exam import EXAM_FILE, build_exam, load_exam
from i2dl.export import EXPORTERS, Exporter, get_exporter, write_exam
from i2dl.export.markdown import MarkdownExporter


@pytest.fixture(scope="module")
def small_exam():
    return build_exam("conv-layer-arithmetic", 3, engine_name="numpy")


def test_registry_exporters_follow_the_protocol_under_their_own_name():
    assert "markdown" in EXPORTERS
    for name, exporter in EXPORTERS.items():
        assert isinstance(exporter, Exporter) and exporter.name == name and exporter.files


def test_get_exporter_unknown_format_lists_the_formats():
    with pytest.raises(NotFoundError) as exc:
        get_exporter("docx")
    assert "markdown" in exc.value.fix


def test_write_exam_default_writes_data_the_markdown_and_the_pdf_files(small_exam, tmp_path):
    files = write_exam(small_exam, tmp_path)
    # the order `generate` prints them in
    assert list(files) == ["sheet", "key", "answers", "responses", "figures", "sheet_pdf", "key_pdf", "data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["exam.md", "key.md", "answers.yaml", "responses-template.csv",
                                                                 "figures", "exam.pdf", "key.pdf", EXAM_FILE])
    assert load_exam(tmp_path).exam_id == small_exam.exam_id


def test_write_exam_without_formats_writes_only_the_data(small_exam, tmp_path):
    assert write_exam(small_exam, tmp_path, formats=()) == {"data": tmp_path / EXAM_FILE}
    assert [p.name for p in tmp_path.iterdir()] == [EXAM_FILE]


def test_write_exam_unknown_format_writes_nothing(small_exam, tmp_path):
    with pytest.raises(NotFoundError):
        write_exam(small_exam, tmp_path / "out", formats=("markdown", "docx"))
    assert not (tmp_path / "out").exists()


def test_markdown_exporter_writes_exactly_the_files_it_declares(small_exam, tmp_path):
    exporter = MarkdownExporter()
    written = exporter.export(small_exam, tmp_path, steps=None)
    assert {k: p.name for k, p in written.items()} == exporter.files
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(exporter.files.values())
