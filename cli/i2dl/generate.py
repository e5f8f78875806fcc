"""Library entry points behind `generate`, `solve` and `list`: each returns plain data."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2dl.engine import get_engine
from i2dl.errors import I2dlError, UsageError
from i2dl.io import to_plain
from i2dl.render import fmt_value
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library, load_spec
from i2dl.spec.model import DerivedParam

if TYPE_CHECKING:
    from i2dl.mcq import Bank

# The exam, export and question-bank layers are imported by the functions that use them: `solve` needs none.


def _plain(v: Any) -> Any:
    """JSON-ready data (see io.to_plain)."""
    return to_plain(v)


def generate_exam(source: str | None = None, seed: int | None = None, out: Path | str = "exam", *,
                  pins: dict[str, Any] | None = None, engine_name: str | None = None,
                  roster: Path | str | None = None, exam_id: str | None = None,
                  force: bool = False, formats: tuple[str, ...] | list[str] | None = None,
                  count: int | None = None) -> dict[str, Any]:
    """Build the exam for `source` (default: the course's blueprint, else 'default') and write its files.

    `formats` are the exporters to write (default: Markdown and PDF); exam.json is always written.

    With a roster, every student gets a variant seeded from the course secret, the exam id and their
    id; the cohort is written as one exam.json, a sheet and an answer file per student, a key per variant.
    With `count`, `source` is one spec and `count` instances of it (seeds seed, seed + 1, ...) are
    written as one instances.jsonl (see write_instances).
    """
    from i2dl.course import active_course, course_secret, read_roster
    from i2dl.exam import build_exam
    from i2dl.explain import key_explanations, part_markdown
    from i2dl.export import DEFAULT_FORMATS, get_exporter, write_cohort, write_exam

    formats = tuple(formats or DEFAULT_FORMATS)
    for f in formats:  # an unknown format is refused before any exam is built
        get_exporter(f)
    course = active_course()
    source = source or (course.config.blueprint if course is not None else "default")
    rounding = course.config.rounding if course is not None else None  # the course's exam-wide rule
    out = Path(out)
    if count is not None:
        if roster is not None or exam_id is not None:
            raise UsageError("--count writes instances of one spec", fix="leave out --roster and --exam-id with --count")
        return write_instances(source, count, seed, out, pins=pins, engine_name=engine_name, rounding=rounding,
                               force=force)
    _check_out(out, force)
    if exam_id is not None and not _EXAM_ID.match(exam_id):
        raise UsageError(f"exam id '{exam_id}' is not of the form letters, digits and - _ .",
                         where="--exam-id", fix="e.g. --exam-id endterm-2026")
    if roster is not None:
        if seed is not None or pins:
            raise UsageError("--roster derives every student's seed from the course secret",
                             fix="leave out --seed and --param with --roster")
        students = read_roster(Path(roster))
        secret = course_secret(course)
        library = Library()
        exam_id = exam_id or _cohort_id(source, course, library)
        exam, keys, pdfs, records, texts = _build_cohort(source, students, secret, exam_id, engine_name, library,
                                                         rounding, pdf="pdf" in formats)
        files = write_cohort(exam, out, keys=keys, formats=formats, pdfs=pdfs, records=records, texts=texts)
    else:
        exam = build_exam(source, seed, pins=pins, engine_name=engine_name, exam_id=exam_id, rounding=rounding)
        explained = key_explanations(exam)
        steps = {n: part_markdown(e, header=False) for n, e in explained.items()}
        files = write_exam(exam, out, formats, steps=steps, explained=explained)
    return {
        "exam_id": exam.exam_id, "title": exam.title, "seed": None if exam.is_cohort else exam.seed,
        "points": exam.points, "engine": exam.engine, "students": len(exam.roster),
        "variants": len(exam.variants),
        "problems": [{"number": p.number, "title": p.title, "spec": p.spec_id, "parts": len(p.parts),
                      "points": p.points} for p in exam.problems],
        "files": {k: str(v) for k, v in files.items()},
        "warnings": exam.warnings,
    }


#: Students per task handed to a worker process (fewer, larger tasks: less pickling).
_CHUNK = 8


def _build_cohort(source: str, students: list[Any], secret: bytes, exam_id: str, engine_name: str | None,
                  library: Library, rounding: Any = None,
                  pdf: bool = False) -> tuple[Any, Mapping[str, str], dict[str, dict[str, bytes]], dict[str, Any],
                                              dict[str, Mapping[str, str]]]:
    """The cohort, each variant's key (Markdown), with `pdf` each variant's key and sheet PDF, each variant's
    exam.json record (see variant_record) and, where a worker made them, its student's sheet and answer file
    texts, by label; built in worker processes where that is safe."""
    import os

    from i2dl.course import variant_seed
    from i2dl.engine import resolve_name
    from i2dl.exam.build import PackedVariants, assemble_stored, cohort_seeds

    seeds = cohort_seeds(students, secret, exam_id)
    # The roster entry each variant's sheet names (assemble_cohort makes the same ones).
    pdf_for = {st.student_id: {"student_id": st.student_id, "name": st.name, "variant": st.student_id}
               for st in students} if pdf else None
    jobs = min(os.cpu_count() or 1, 8)
    banks: list[Any] = []  # the question banks, once read
    ahead: dict[str, _Built] = {}  # first reseeds built ahead, by label
    # Forked workers are safe with the numpy engine; torch's threads do not survive a fork.
    if jobs < 2 or len(seeds) < 2 * _CHUNK or resolve_name(engine_name) != "numpy":
        built = _variants(source, seeds, exam_id, engine_name, library, rounding, pdf_for=pdf_for)
    else:
        import multiprocessing
        import sys
        from concurrent.futures import ProcessPoolExecutor

        # A fork of a process that has loaded Typst or tex2typst can hang in them (their threads are not
        # copied): then the workers build the variants only, and write_cohort_pdfs typesets in this process.
        typeset_in_workers = pdf_for is not None and not {"typst", "tex2typst"} & set(sys.modules)
        _warm(source, library)
        banks = [_WARM["bank"], _WARM["short_bank"]]
        try:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                     initializer=_worker_reset) as pool:
                names = {st.student_id: st.name for st in students}
                shared: dict[tuple[str, str], Any] = {}

                def task(c: list[tuple[str, int]]) -> Any:
                    return pool.submit(_variants_task, (source, c, exam_id, engine_name, rounding,
                                                        {label: pdf_for[label] for label, _ in c}
                                                        if typeset_in_workers else None,
                                                        {label: names[label] for label, _ in c}))

                def received(future: Any) -> list[_Built]:
                    result = future.result()
                    if isinstance(result, tuple) and result and result[0] == "error":
                        _, cls, message, where, fix = result
                        raise cls(message, where=where, fix=fix)
                    for b in result:  # one copy of each spec's document (and of the layout) for the cohort
                        b.record = _shared_specs(b.record, shared)
                        b.facts = replace(b.facts, layout=shared.setdefault(("layout", repr(b.facts.layout)),
                                                                             b.facts.layout))
                    return result

                first = [task(c) for c in _chunks(seeds, _CHUNK, jobs)]
                built, again, seen = [], [], set()
                for future in first:
                    got = received(future)
                    built += got
                    # The first reseed of each student whose variant repeats an earlier one's, queued behind the
                    # first builds as soon as it shows (_distinct uses it if its pass in roster order asks for it).
                    repeat = [(b.label, variant_seed(secret, exam_id, f"{b.label}#1")) for b in _repeating(got, seen)]
                    again += [task(repeat[i:i + 2]) for i in range(0, len(repeat), 2)]
                ahead = {b.label: b for future in again for b in received(future)}
        finally:
            _WARM.clear()  # another command in this process (a test, a later cohort) reads its own library
    built = _distinct(built, students, secret, exam_id, source, engine_name, library, rounding, banks, ahead)

    def attach(exam: Any) -> None:  # the parent's compiled specs: what the serial path has too
        for p in exam.problems:
            if p.kind == "spec" and p.spec_id in library.paths:
                p._compiled = library.get(p.spec_id)

    store = PackedVariants({b.label: b.exam for b in built}, attach)
    cohort = assemble_stored(store[built[0].label], [b.facts for b in built], store, students)
    pdfs = {b.label: b.made for b in built if b.made is not None}
    texts = {b.label: _Unzipped(b.texts) for b in built if b.texts is not None}
    return cohort, _Unzipped({b.label: b.key for b in built}), pdfs, {b.label: b.record for b in built}, texts


def _repeating(built: list[_Built], seen: set[tuple[int, str]]) -> list[_Built]:
    """The variants that repeat an earlier variant's sheet of some problem (`seen`: the sheets before them,
    updated with theirs)."""
    out = []
    for b in built:
        if any(s in seen for s in b.sheets):
            out.append(b)
        seen.update(b.sheets)
    return out


def _chunks(items: list[Any], size: int, jobs: int) -> list[list[Any]]:
    """`items` in tasks of `size`, smaller towards the end, so that the workers finish together."""
    out, i = [], 0
    while i < len(items):
        step = max(1, min(size, (len(items) - i) // (2 * jobs)))
        out.append(items[i:i + step])
        i += step
    return out


def _shared_specs(record: Any, shared: dict[tuple[str, str], Any]) -> Any:
    """`record` with its specs' data replaced by the first equal copy seen (each worker result brings its own)."""
    specs = {sid: shared.setdefault((sid, spec["digest"]), spec) for sid, spec in record.specs.items()}
    return replace(record, specs=specs)


class _Unzipped(Mapping):
    """Texts by label, each kept zlib-compressed (bytes) or as it is (str) until read."""

    def __init__(self, items: dict[str, Any]):
        self._items = items

    def __getitem__(self, label: str) -> str:
        import zlib

        item = self._items[label]
        return zlib.decompress(item).decode("utf-8") if isinstance(item, bytes) else item

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


#: Reseeds a student's variant may take to avoid sharing a problem's instance with an earlier student.
RESEEDS = 12


def _distinct(built: list[_Built], students: list[Any], secret: bytes, exam_id: str, source: str,
              engine_name: str | None, library: Library, rounding: Any, banks: list[Any] | None = None,
              ahead: dict[str, _Built] | None = None) -> list[_Built]:
    """The variants with no spec problem's instance given to two students, where the spec has room.

    In roster order, a student whose variant repeats an earlier student's instance of some problem
    (the same sheet text) is reseeded from HMAC(secret, exam id, "id#k"), k = 1, 2, ...; after RESEEDS
    tries the spec has no room and the repeat stays. One pass, in order: the result does not depend on
    how the variants were first built (serially or in workers). A variant reseeded here has no PDFs yet
    (write_cohort_pdfs makes them). `ahead[label]`: that student's first reseed, already built (in workers).
    """
    from i2dl.course import variant_seed
    from i2dl.exam.build import pack_variant
    from i2dl.exam.data import variant_record
    from i2dl.mcq import Bank
    from i2dl.short import ShortBank

    seen: set[tuple[int, str]] = set()
    out = []
    bank: list[Any] = list(banks or [])  # the question banks (read at the first reseed unless given), then shared
    for b, st in zip(built, students, strict=True):
        for k in range(1, RESEEDS + 1):
            if not any(s in seen for s in b.sheets):
                break
            if k == 1 and st.student_id in (ahead or {}):
                b = ahead[st.student_id]
                continue
            seed = variant_seed(secret, exam_id, f"{st.student_id}#{k}")
            bank = bank or [Bank(), ShortBank()]
            b, = _variants(source, [(st.student_id, seed)], exam_id, engine_name, library, rounding, keys=False,
                           bank=bank[0], short_bank=bank[1])
        if b.key is None:  # the key and record are made for the variant kept, which is then kept packed too
            b.key, b.record = _key_text(b.exam), variant_record(b.label, b.exam)
            b.exam = pack_variant(b.exam)
        seen.update(b.sheets)
        out.append(b)
    return out


def _key_text(exam: Any, explained: dict[str, Any] | None = None) -> str:
    """A variant's key as Markdown, with the worked steps of every computed part (`explained`: already made)."""
    from i2dl.explain import key_explanations, part_markdown
    from i2dl.export.markdown import key_markdown

    explained = key_explanations(exam) if explained is None else explained
    return key_markdown(exam, {n: part_markdown(e, header=False) for n, e in explained.items()})


@dataclass
class _Built:
    """A built variant as the cohort keeps it until it is written."""

    label: str
    exam: Any  # the variant, or from a worker its packed form (see pack_variant)
    facts: Any  # its VariantFacts (layout and warnings)
    sheets: list[tuple[int, str]]  # (problem number, digest of the sheet text) of its spec problems: not to be shared
    key: Any = None  # its key's Markdown, maybe compressed (None: not made yet)
    made: dict[str, bytes] | None = None  # its key and sheet PDFs (None: not made)
    record: Any = None  # its exam.json record (None: not made yet)
    texts: dict[str, bytes] | None = None  # its student's "sheet" and "answers" texts, compressed (None: not made)


def _variants(source: str, seeds: list[tuple[str, int]], exam_id: str, engine_name: str | None,
              library: Library, rounding: Any = None, keys: bool = True,
              bank: Bank | None = None, short_bank: Any = None,
              pdf_for: dict[str, dict[str, str]] | None = None) -> list[_Built]:
    """Each (label, seed)'s variant built; its key and exam.json record only with `keys`, its PDFs (key and
    the sheet of the student `pdf_for[label]`) only with `pdf_for`."""
    from i2dl.exam import build_exam
    from i2dl.exam.build import variant_facts
    from i2dl.exam.data import variant_record
    from i2dl.explain import key_explanations
    from i2dl.mcq import Bank
    from i2dl.short import ShortBank
    from i2dl.validate import sheet_key

    bank = bank or Bank()
    short_bank = short_bank or ShortBank()  # read once for all the seeds, not once per variant
    out: list[_Built] = []
    for label, seed in seeds:
        exam = build_exam(source, seed, engine_name=engine_name, library=library, bank=bank, exam_id=exam_id,
                          variant=label, rounding=rounding, short_bank=short_bank)
        # A digest of each sheet text stands for it: only equality is asked, and the cohort keeps them all.
        b = _Built(label, exam, variant_facts(exam), [(p.number, hashlib.sha256(sheet_key(p).encode()).hexdigest())
                                                      for p in exam.problems if p.kind == "spec"])
        if keys:
            explained = key_explanations(exam)  # once for the Markdown key and the PDF key
            b.made = _variant_pdfs(exam, explained, pdf_for[label]) if pdf_for is not None else None
            b.key, b.record = _key_text(exam, explained), variant_record(label, exam)
        out.append(b)
    return out


def _variant_pdfs(exam: Any, explained: dict[str, Any], student: dict[str, str]) -> dict[str, bytes]:
    """A variant's key and its student's sheet as PDF bytes (made where the variant is built)."""
    from i2dl.export.pdf import compile_pdf, key_source, pdf_settings, sheet_source

    made: dict[str, bytes] = {}
    try:
        settings = pdf_settings()
        made["key"] = compile_pdf(key_source(exam, explained, settings))
        made["sheet"] = compile_pdf(sheet_source(exam, student, settings))
    except I2dlError:
        pass  # write_cohort_pdfs makes what is missing again, and reports its error as for any PDF
    return made



_WORKER: dict[str, Any] = {}  # a cohort worker's library and question bank
_WARM: dict[str, Any] = {}  # the parent's library (its specs compiled) and banks, read before the workers fork


def _worker_reset() -> None:
    _WORKER.clear()  # a forked worker reads the library itself (the parent's course is active in it too)
    _WORKER.update(_WARM)  # ... unless the parent read it just before forking: then the fork has it already


def _warm(source: str, library: Library) -> None:
    """Compile the blueprint's specs, read the banks and load the modules a variant needs, once, in the parent:
    every forked worker starts with them (and the parent uses them for reseeds and keys)."""
    from i2dl.blueprint import find_blueprint, load_blueprint
    from i2dl.explain import key_explanations  # noqa: F401  (imported for the workers)
    from i2dl.mcq import Bank
    from i2dl.short import ShortBank

    if source in library.paths:
        library.get(source)
    else:
        for entry in load_blueprint(find_blueprint(source))[0].problems:
            if entry.spec is not None:
                library.get(entry.spec)
    _WARM.clear()
    _WARM.update(library=library, bank=Bank(), short_bank=ShortBank())


def _variants_task(args: tuple[str, list[tuple[str, int]], str, str | None, Any, Any, dict[str, str]]) -> Any:
    """A worker's share of `_variants` (`names`: the students' names by label); typed errors come back as data."""
    import zlib

    from i2dl.exam.build import pack_variant
    from i2dl.export.answers import answer_file_text
    from i2dl.export.markdown import sheet_markdown
    from i2dl.mcq import Bank
    from i2dl.short import ShortBank

    source, seeds, exam_id, engine_name, rounding, pdf_for, names = args
    if not _WORKER:  # read once per worker process, not once per task
        _WORKER.update(library=Library(), bank=Bank(), short_bank=ShortBank())
    try:
        built = _variants(source, seeds, exam_id, engine_name, _WORKER["library"], rounding, bank=_WORKER["bank"],
                          short_bank=_WORKER["short_bank"], pdf_for=pdf_for)
    except I2dlError as exc:
        return ("error", type(exc), exc.message, exc.where, exc.fix)
    for b in built:  # sent back small: the parent keeps them so until it writes them (see PackedVariants)
        student = {"student_id": b.label, "name": names[b.label], "variant": b.label}  # as assemble_stored makes it
        b.texts = {"sheet": zlib.compress(sheet_markdown(b.exam, student).encode("utf-8"), 1),
                   "answers": zlib.compress(answer_file_text(b.exam, student).encode("utf-8"), 1)}
        b.exam = pack_variant(b.exam)
        b.key = zlib.compress(b.key.encode("utf-8"), 1)
    return built


INSTANCES_FILE = "instances.jsonl"
#: Instances per task handed to a worker process (fewer in the last tasks, see _chunks).
_INSTANCE_CHUNK = 50


def instance_line(spec_id: str, seed: int, pins: dict[str, Any], engine_name: str | None, library: Library,
                  rounding: Any = None) -> str:
    """One line of instances.jsonl: the seed, the exam id and the problem exactly as `generate SPEC --seed
    SEED` writes it into exam.json, but for the spec's document (the digest names it)."""
    import json

    from i2dl.exam import build_exam
    from i2dl.spec.instance import to_data

    exam = build_exam(spec_id, seed, pins=pins, engine_name=engine_name, library=library, rounding=rounding)
    problem = to_data(exam.problems[0])
    problem["spec"] = {"digest": problem["spec"]["digest"]} if problem["spec"] else None
    return json.dumps({"seed": seed, "exam_id": exam.exam_id, "problem": problem}, ensure_ascii=False) + "\n"


def _instances_task(args: tuple[str, list[int], dict[str, Any], str | None, Any]) -> Any:
    """A worker's share of write_instances: lines, or a typed error as data."""
    spec_id, seeds, pins, engine_name, rounding = args
    if not _WORKER:
        _WORKER.update(library=Library(), bank=None)
    try:
        return [instance_line(spec_id, s, pins, engine_name, _WORKER["library"], rounding) for s in seeds]
    except I2dlError as exc:
        return ("error", type(exc), exc.message, exc.where, exc.fix)


def write_instances(spec_id: str, count: int, seed: int | None, out: Path, *, pins: dict[str, Any] | None = None,
                    engine_name: str | None = None, rounding: Any = None, force: bool = False) -> dict[str, Any]:
    """`count` instances of one spec, seeds seed .. seed + count - 1, as `out`/instances.jsonl (one JSON line each).

    Line i is what `generate SPEC --seed (seed + i)` writes as the problem of its exam.json (the spec's
    document left out). Built in forked workers with the numpy engine; the file is the same either way.
    """
    import os

    from i2dl.engine import resolve_name
    from i2dl.exam.build import fresh_seed
    from i2dl.io import atomic_write_text

    if count < 1:
        raise UsageError(f"--count {count} asks for no instances", where="--count", fix="give --count 1 or more")
    library = Library()
    if spec_id not in library.paths:
        raise UsageError(f"--count makes instances of one spec, and '{spec_id}' is not a spec id",
                         fix="give a spec id (see `i2dl list`), e.g. i2dl generate conv2d-by-hand --count 1000")
    path = out / INSTANCES_FILE
    if path.exists() and not force:
        raise UsageError(f"'{path}' already exists", where=str(path), fix="choose another --out, or pass --force")
    seed = fresh_seed() if seed is None else int(seed)
    pins = dict(pins or {})
    seeds = list(range(seed, seed + count))
    compiled = library.get(spec_id)  # errors in the spec come from here, before any worker starts
    jobs = min(os.cpu_count() or 1, 8)
    if jobs < 2 or count < 2 * _INSTANCE_CHUNK or resolve_name(engine_name) != "numpy":
        lines = [instance_line(spec_id, s, pins, engine_name, library, rounding) for s in seeds]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = _chunks(seeds, _INSTANCE_CHUNK, jobs)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_worker_reset) as pool:
            lines = []
            for result in pool.map(_instances_task, [(spec_id, c, pins, engine_name, rounding) for c in chunks]):
                if isinstance(result, tuple) and result and result[0] == "error":
                    _, cls, message, where, fix = result
                    raise cls(message, where=where, fix=fix)
                lines += result
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(lines))
    s = compiled.spec
    return {
        "exam_id": None, "title": s.title, "seed": seed, "points": s.total_points,
        "engine": get_engine(engine_name).name, "students": 0, "variants": 0, "instances": count,
        "problems": [{"number": 1, "title": s.title, "spec": spec_id, "parts": len(s.parts), "points": s.total_points}],
        "files": {"instances": str(path)}, "warnings": [],
    }


_EXAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def _cohort_id(source: str, course: Any, library: Library) -> str:
    """A cohort's default exam id: the blueprint's id and the course's term (a public name, not a seed)."""
    from i2dl.exam.build import blueprint_id
    from i2dl.io import slugify

    base = blueprint_id(source, library)
    term = slugify(course.config.term.strip().replace(" ", "-")).lower() if course is not None else ""
    return f"{base}-{term}" if term and term != "_" else base


def _check_out(out: Path, force: bool) -> None:
    """Refuse to replace an exam already in `out` unless forced; with force, remove the cohort folders it had."""
    import shutil

    from i2dl.course import SECRET_FILE
    from i2dl.exam import EXAM_FILE
    from i2dl.export import ANSWERS_DIR, KEYS_DIR, SHEETS_DIR

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file, not a folder", fix="pass a folder for the exam")
    if (out / SECRET_FILE).exists():  # an exam folder is shared with colleagues; the secret must not be in it
        raise UsageError(f"--out '{out}' holds the course secret ({SECRET_FILE})",
                         fix="write the exam into a folder of its own, e.g. --out exams/midterm")
    if not (out / EXAM_FILE).exists():
        return
    if not force:
        raise UsageError(f"'{out}' already holds an exam ({EXAM_FILE}); generating again would replace it and its "
                         "keys", where=str(out / EXAM_FILE), fix="choose another --out, or pass --force to replace it")
    from i2dl.export import EXPORTERS

    for sub in (SHEETS_DIR, ANSWERS_DIR, KEYS_DIR):  # a student no longer on the roster must not keep a sheet
        if (out / sub).is_dir() and not (out / sub).is_symlink():
            shutil.rmtree(out / sub)
    for exporter in EXPORTERS.values():  # nor a single exam's files beside a cohort
        for name in exporter.files.values():
            if (out / name).is_dir() and not (out / name).is_symlink():  # figures/: no earlier exam's figure stays
                shutil.rmtree(out / name)
                continue
            (out / name).unlink(missing_ok=True)


def solve_spec(spec: str, pins: dict[str, Any], *, seed: int = 0, engine_name: str | None = None,
               library: Library | None = None) -> dict[str, Any]:
    """Every part's answers of one spec for pinned (and otherwise seeded) parameters."""
    path = Path(spec)
    if spec.startswith("mcq.") and not path.exists():  # a question of the bank: its computed options
        return _solve_question(spec, pins, seed, engine_name)
    library = library or Library()
    compiled = load_spec(path) if path.suffix in (".yaml", ".yml") and path.exists() else library.get(spec)
    engine = get_engine(engine_name)
    inst = make_instance(compiled, seed, engine, pins=pins)
    return {
        "spec": compiled.id, "title": compiled.spec.title, "engine": engine.name, "seed": seed,
        "params": {k: _plain(v) for k, v in inst.params.items()},
        "parts": [_solved_part(p) for p in inst.parts],
        "values": {k: _plain(v) for k, v in inst.values.items()},
        "warnings": inst.warnings,
    }


def _solved_part(p: Any) -> dict[str, Any]:
    out = {"number": p.number, "id": p.id, "points": p.points,
           "blanks": [{"name": b.name, "label": b.label, "kind": b.kind, "value": _plain(b.expected),
                       "text": fmt_value(b.expected)} for b in p.blanks]}
    if p.options:  # multiple choice and property questions: the statements shown, judged
        out["options"] = [{"letter": o.letter, "text": o.text, "correct": o.correct, "reason": o.reason}
                          for o in p.options]
    return out


def _solve_question(qid: str, pins: dict[str, Any], seed: int, engine_name: str | None) -> dict[str, Any]:
    """A bank question for pinned (and otherwise seeded) parameters: its options and which are correct."""
    from i2dl.mcq import Bank, make_variant, variant_part

    bq = Bank().get(qid)
    engine = get_engine(engine_name)
    v = make_variant(bq, seed, engine, pins=pins)
    part = variant_part(v, "1.1", 1.0)
    return {"spec": qid, "title": bq.question.id, "engine": engine.name, "seed": seed,
            "params": {k: _plain(x) for k, x in v.params.items()}, "parts": [_solved_part(part)],
            "values": {}, "warnings": list(v.warnings)}


def list_specs(library: Library | None = None) -> list[dict[str, Any]]:
    """The specs of the course and the shipped library: id, title, topic, tags, parts, points, parameters."""
    library = library or Library()
    rows = []
    for sid in library.ids():
        s = library.get(sid).spec
        rows.append({"id": s.id, "title": s.title, "topic": s.topic, "tags": s.tags, "difficulty": s.difficulty,
                     "parts": len(s.parts), "points": s.total_points,
                     "params": [k for k, p in s.params.items() if not isinstance(p, DerivedParam)]})
    return rows


def spec_names(spec_id: str, library: Library | None = None) -> dict[str, Any]:
    """One spec's pinnable names (parameters, derived values, part givens) with what each accepts."""
    from i2dl.spec.instance import pinnables

    if spec_id.startswith("mcq."):  # a question of the bank: its parameters
        from i2dl.mcq import Bank, question_names

        bq = Bank().get(spec_id)
        return {"id": bq.qid, "title": " ".join(bq.question.stem.split())[:80], "topic": bq.topic, "parts": 1,
                "points": 1.0, "names": question_names(bq)}
    compiled = (library or Library()).get(spec_id)
    s = compiled.spec
    return {"id": s.id, "title": s.title, "topic": s.topic, "parts": len(s.parts), "points": s.total_points,
            "names": pinnables(compiled)}


def list_bank(bank: Bank | None = None) -> list[dict[str, Any]]:
    """The multiple-choice bank: id, topic, difficulty, options, whether options are computed."""
    from i2dl.mcq import Bank

    bank = bank or Bank()
    return [{"id": q.qid, "topic": q.topic, "difficulty": q.question.difficulty, "tags": q.question.tags,
             "options": len(q.question.options), "parameterized": q.parameterized}
            for _, q in sorted(bank.questions.items())]


def list_short(bank: Any = None) -> list[dict[str, Any]]:
    """The short-answer bank: id, topic, points, box lines, checklist items, question text."""
    from i2dl.short import ShortBank, describe

    bank = bank or ShortBank()
    return [describe(q) for _, q in sorted(bank.questions.items())]
