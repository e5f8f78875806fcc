"""Exporters: the format-neutral exam written as files; `write_exam` writes exam.json and the chosen formats.

An exporter is an object with a `name`, the `files` it writes (a kind such as "sheet" -> a file name)
and `export(exam, out_dir, **opts) -> {kind: path}`. A new format is a new module here and one entry
in EXPORTERS. exam.json is not an exporter's: the data layer (`i2dl.exam.data`) writes it, always,
because grading and explaining read it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from i2dl.errors import NotFoundError
from i2dl.exam.data import write_exam_data
from i2dl.exam.model import Exam
from i2dl.export.markdown import MarkdownExporter

DEFAULT_FORMATS = ("markdown",)


@runtime_checkable
class Exporter(Protocol):
    """One output format of an exam."""

    name: str
    files: dict[str, str]

    def export(self, exam: Exam, out_dir: Path, **opts: Any) -> dict[str, Path]: ...


EXPORTERS: dict[str, Exporter] = {e.name: e for e in (MarkdownExporter(),)}


def get_exporter(name: str) -> Exporter:
    """The exporter called `name`, or NotFoundError listing the formats there are."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise NotFoundError(f"no export format '{name}'", fix="formats: " + ", ".join(sorted(EXPORTERS))) from None


def write_exam(exam: Exam, out: Path | str, formats: tuple[str, ...] | list[str] = DEFAULT_FORMATS,
               **opts: Any) -> dict[str, Path]:
    """exam.json and every file of the chosen formats, written into `out` (each atomically); kind -> path."""
    exporters = [get_exporter(f) for f in formats]  # an unknown format is refused before anything is written
    out = Path(out)
    data = write_exam_data(exam, out)
    files: dict[str, Path] = {}
    for exporter in exporters:
        files.update(exporter.export(exam, out, **opts))
    files["data"] = data
    return files


__all__ = ["DEFAULT_FORMATS", "EXPORTERS", "Exporter", "get_exporter", "write_exam"]
