"""Exporters: the format-neutral exam written as files; `write_exam` writes exam.json and the chosen formats.

An exporter is an object with a `name`, the `files` it writes (a kind such as "sheet" -> a file name)
and `export(exam, out_dir, **opts) -> {kind: path}`. A new format is a new module here and one entry
in EXPORTERS. exam.json is not an exporter's: the data layer (`i2dl.exam.data`) writes it, always,
because grading and explaining read it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from i2dl.errors import NotFoundError
from i2dl.exam.data import write_exam_data
from i2dl.exam.model import Exam
from i2dl.export.markdown import MarkdownExporter
from i2dl.export.pdf import PdfExporter
from i2dl.io import AtomicBatch, slugify

DEFAULT_FORMATS = ("markdown", "pdf")


@runtime_checkable
class Exporter(Protocol):
    """One output format of an exam."""

    name: str
    files: dict[str, str]

    def export(self, exam: Exam, out_dir: Path, **opts: Any) -> dict[str, Path]: ...


EXPORTERS: dict[str, Exporter] = {e.name: e for e in (MarkdownExporter(), PdfExporter())}


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


SHEETS_DIR, ANSWERS_DIR, KEYS_DIR = "sheets", "answers", "keys"


def cohort_file_names(ids: list[str]) -> dict[str, str]:
    """Each id's file stem: made file-safe, numbered when two ids map to one name (in any letter case)."""
    used: set[str] = set()
    out = {}
    for i in ids:
        name = stem = slugify(i)
        k = 2
        while name.lower() in used:
            name, k = f"{stem}-{k}", k + 1
        used.add(name.lower())
        out[i] = name
    return out


def write_cohort(exam: Exam, out: Path | str, steps: Callable[[Exam], dict[str, str]] | None = None,
                 keys: Mapping[str, str] | None = None,
                 formats: tuple[str, ...] | list[str] = DEFAULT_FORMATS,
                 pdfs: dict[str, dict[str, bytes]] | None = None,
                 records: dict[str, Any] | None = None,
                 texts: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Path]:
    """exam.json (every variant), then per student sheets/ID.md and answers/ID.yaml, per variant keys/ID.md.

    Each key is `keys[label]` when given (made elsewhere), else written here with `steps(variant)`.
    With "pdf" among `formats`, also sheets/ID.pdf per student and keys/ID.pdf per variant (those in
    `pdfs` already made, see write_cohort_pdfs). `records`: every variant's exam.json record (see variant_record).
    `texts[student id]`: that student's "sheet" and "answers" texts where already made (a worker made them).
    """
    from concurrent.futures import ThreadPoolExecutor

    from i2dl.export.answers import answer_file_text
    from i2dl.export.markdown import key_markdown, sheet_markdown

    for f in formats:
        get_exporter(f)
    out = Path(out)
    students = cohort_file_names([r["student_id"] for r in exam.roster])
    variants = cohort_file_names(list(exam.variants))
    for sub in (SHEETS_DIR, ANSWERS_DIR, KEYS_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    # exam.json beside the other files: its decompressing, hashing and writing mostly run without the GIL
    with ThreadPoolExecutor(1) as beside, AtomicBatch() as files:  # each file atomic, one sync for all of them
        written = beside.submit(write_exam_data, exam, out, records)
        for label in exam.variants:  # by label: a packed variant is unpacked only when its key is made here
            if keys is not None:
                text = keys[label]
            else:
                variant = exam.variants[label]
                text = key_markdown(variant, steps(variant) if steps else None)
            files.add_text(out / KEYS_DIR / f"{variants[label]}.md", text)
        for r in exam.roster:
            made = (texts or {}).get(r["student_id"])
            if made is None or r["variant"] != r["student_id"]:  # made for the student's own variant only
                variant = exam.variants[r["variant"]]
                made = {"sheet": sheet_markdown(variant, r), "answers": answer_file_text(variant, r)}
            files.add_text(out / SHEETS_DIR / f"{students[r['student_id']]}.md", made["sheet"])
            files.add_text(out / ANSWERS_DIR / f"{students[r['student_id']]}.yaml", made["answers"])
        data = written.result()  # its error, if any, before the batch is committed
    if "pdf" in formats:
        from i2dl.export.pdf import write_cohort_pdfs

        write_cohort_pdfs(exam, {sid: out / SHEETS_DIR / f"{name}.pdf" for sid, name in students.items()},
                          {label: out / KEYS_DIR / f"{name}.pdf" for label, name in variants.items()}, made=pdfs)
    return {"data": data, "sheets": out / SHEETS_DIR, "answers": out / ANSWERS_DIR, "keys": out / KEYS_DIR}


def export_exam(fmt: str, exam_dir: Path | str, *, accept_modified: bool = False) -> dict[str, Path]:
    """Re-render an exam folder's files of format `fmt` from its exam.json (a cohort: every sheet and key)."""
    from i2dl.exam import load_exam
    from i2dl.explain import key_explanations, part_markdown

    exporter = get_exporter(fmt)
    exam_dir = Path(exam_dir)
    exam = load_exam(exam_dir, accept_modified=accept_modified)
    if not exam.is_cohort:
        explained = key_explanations(exam)
        steps = {n: part_markdown(e, header=False) for n, e in explained.items()}
        return exporter.export(exam, exam_dir, steps=steps, explained=explained)
    if fmt != "pdf":
        from i2dl.errors import UsageError

        raise UsageError(f"a cohort's {fmt} files are written by generate --roster",
                         fix=f"run i2dl generate --roster ... --out {exam_dir} --force, or export pdf")
    from i2dl.export.pdf import write_cohort_pdfs

    students = cohort_file_names([r["student_id"] for r in exam.roster])
    variants = cohort_file_names(list(exam.variants))
    for sub in (SHEETS_DIR, KEYS_DIR):
        (exam_dir / sub).mkdir(parents=True, exist_ok=True)
    write_cohort_pdfs(exam, {sid: exam_dir / SHEETS_DIR / f"{n}.pdf" for sid, n in students.items()},
                      {label: exam_dir / KEYS_DIR / f"{n}.pdf" for label, n in variants.items()})
    return {"sheets": exam_dir / SHEETS_DIR, "keys": exam_dir / KEYS_DIR}


__all__ = ["ANSWERS_DIR", "DEFAULT_FORMATS", "EXPORTERS", "Exporter", "KEYS_DIR", "SHEETS_DIR", "cohort_file_names",
           "export_exam", "get_exporter", "write_cohort", "write_exam"]
