"""exam.json: the exam as data. Its declared schema, the codec, the digests, and the checks that need no digest.

`generate` writes the file with an `integrity` block: a SHA-256 digest of the canonical JSON of
everything else, and one of the part that grading reads (points, keys, tolerances, alternatives,
rubrics, the values follow-through re-evaluates). `read_exam_data` refuses a malformed file with the
key path at fault, and a file whose content no longer matches its digest unless the caller accepts
modified exams. From format 3 on the file is self-contained: each problem carries the spec it was
made from (its document and the digest of its file), each question its options, so grading and
explaining never depend on the specs on disk. Formats 1 (no digests) and 2 (no specs) are read with
a warning, their specs then taken from the library as they are now. Format 5 is a cohort: every
student's variant in one file, the specs stored once, and the roster that maps students to variants.
Formats 6 (one exam) and 7 (a cohort) add short-answer parts: a text blank with its model answer,
its checklist of rubric items and the height of its answer box; 4 and 5 are still read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from i2dl import kinds
from i2dl.errors import ExamError, ExamModifiedError, I2dlError, NotFoundError
from i2dl.exam.model import Exam
from i2dl.io import atomic_write_bytes, atomic_write_text
from i2dl.jsontext import indented_json
from i2dl.kinds.base import data_type, finite_number, short_json
from i2dl.rounding import MAX_DECIMALS
from i2dl.spec.instance import from_data, to_data
from i2dl.spec.load import Library, fmt_path
from i2dl.spec.model import ANSWER_KINDS

EXAM_FILE = "exam.json"

#: The format written now for one exam, and for a cohort (per-student variants); every format this version reads.
FORMAT = 6
COHORT_FORMAT = 7
COHORT_FORMATS = (5, 7)  # every cohort format this version reads
READABLE = (1, 2, 3, 4, 5, 6, 7)
SELF_CONTAINED = 3  # from this format on, each problem carries its spec and each question its options
ROUNDED = 4  # from this format on, the exam and each numeric blank carry their rounding rule
SHORT = 6  # from this format on (one exam; 7 for a cohort), parts may be short answers with a checklist
ALGORITHM = "sha256"
# A default exam is about 150 kB, a cohort about 90 kB per student; a file this large is not one of ours.
MAX_BYTES = 1024 * 1024 * 1024
MAX_DEPTH = 64  # encoded values and spec documents nest a few levels; far deeper is a broken or hostile file

# The largest tolerance that still tells answers apart: relative, and absolute per unit of the key.
MAX_TOL_REL = 0.5
MAX_TOL_ABS_PER_UNIT = 0.5


# ---------------------------------------------------------------------------- schema


class _Model(BaseModel):
    # Strict: a number written as text, or a key nobody reads, is a change to report, not to guess.
    model_config = ConfigDict(strict=True, extra="forbid")


Points = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Tolerance = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, 64 lower-case hex digits")]
Encoded = Annotated[Any, Field(description="a value: a JSON number, true/false or text, or one of "
                                           "{\"array\": [...]}, {\"set\": [...]}, {\"tuple\": [...]}, "
                                           "{\"dict\": {...}} (docs/exam-format.md, Encoded values)")]


class RoundingData(_Model):
    """A rounding rule: non-whole x is written to max(decimals, significant - 1 - floor(log10 |x|)) decimals."""

    decimals: Annotated[int, Field(ge=0, le=MAX_DECIMALS)] | None
    significant: Annotated[int, Field(ge=1, le=MAX_DECIMALS)] | None


class AlternativeData3(_Model):
    """A named wrong-but-understandable answer or a common mistake, with the credit it earns (formats 1 to 3)."""

    name: str
    value: Encoded
    credit: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    feedback: str
    component: bool = Field(default=False, description="a term of the answer, credited alone or as a summed term")


class AlternativeData(AlternativeData3):
    """A named wrong-but-understandable answer or a common mistake, with the credit it earns."""

    key_of: str | None = Field(description="an accepted answer that is also this other blank's key: it counts "
                                           "only when the student does not give it there too")


class BlankData3(_Model):
    """One answer blank of formats 1 to 3: its key, its tolerances, its share of the part."""

    name: str = Field(min_length=1)
    kind: Literal[ANSWER_KINDS]  # type: ignore[valid-type]
    label: str
    expected: Encoded
    tol_abs: Tolerance
    tol_rel: Tolerance
    points: Points | None
    alternatives: list[AlternativeData3]
    options: Annotated[int, Field(ge=0, le=26, description="choice blanks: how many letters (0: any)")]


class BlankData4(BlankData3):
    """One answer blank of formats 4 and 5: its key, how answers are compared with it, its share of the part."""

    alternatives: list[AlternativeData]
    rounding: RoundingData | None = Field(description="a numeric blank's rounding rule: its tolerance is one unit "
                                                      "in the last place the rule asks for, or tol_abs / tol_rel "
                                                      "where they are wider; null for other kinds")


class CheckItemData(_Model):
    """A short answer's rubric item: full (points > 0), partial (instead_of a full item), deduction (< 0) or a
    named mistake (0)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    points: float = Field(allow_inf_nan=False)
    text: str
    instead_of: str | None = Field(description="the full item this partial one is awarded instead of, for less")
    suggest: list[str] = Field(description="words that pre-highlight the item for a TA (never award it)")


class BlankData(BlankData4):
    """One answer blank: its key, how answers are compared with it, and its share of the part; a short answer's
    text blank also carries its model answer, checklist and box height."""

    model_answer: str | None = Field(default=None, description="short answers: what a full-credit answer says "
                                                              "(absent on other blanks)")
    checklist: list[CheckItemData] = Field(default_factory=list, description=(
        "short answers: the rubric items a TA awards; a mark scores the sum of its items, clamped to "
        "[0, the part's points]"))
    lines: Annotated[int, Field(ge=1, le=40)] | None = Field(default=None, description=(
        "short answers: the answer box's height on the sheet, in lines"))


class OptionData(_Model):
    """One option of a multiple-choice question, in the order the sheet shows it."""

    letter: str = Field(pattern=r"^[A-Z]$")
    text: str
    correct: bool
    reason: str = Field(description="why the option is right or wrong (printed in the key)")
    mistake: str | None = Field(description="the named mistake a computed wrong option comes from")


class _PartBase(_Model):
    number: str = Field(pattern=r"^[1-9][0-9]*\.[1-9][0-9]*$")
    id: str
    text: str
    points: Points
    blanks: list[BlankData3] = Field(min_length=1)
    given: list[str]
    rubric: str | dict[str, Any] | None
    fallback: dict[str, Encoded] = Field(default_factory=dict, description=(
        "values offered for earlier answers, by answer name (the sheet says: if unsure, continue with it)"))


class PartData3(_PartBase):
    """A sub-question of format 3."""

    options: list[OptionData]


class PartData4(PartData3):
    """A sub-question of formats 4 and 5."""

    blanks: list[BlankData4] = Field(min_length=1)


class PartData(PartData3):
    """A sub-question; for multiple choice `text` is the stem and `options` the options."""

    blanks: list[BlankData] = Field(min_length=1)


class SpecSourceData(_Model):
    """The spec a problem was made from: the grading and explaining graph is compiled from `document`."""

    digest: Digest = Field(description="SHA-256 of the spec file's bytes when the exam was generated")
    document: dict[str, Any] = Field(description="the spec file's content as data (docs/spec-format.md)")


class _ProblemBase(_Model):
    number: Annotated[int, Field(ge=1)]
    spec_id: str
    title: str
    topic: str
    statement: str
    seed: int
    params: dict[str, Encoded]
    values: dict[str, Encoded]
    points: Points
    kind: Literal["spec", "mcq"]
    warnings: list[str]
    tries: Annotated[int, Field(ge=0)]


class ProblemData3(_ProblemBase):
    """A problem of format 3."""

    parts: list[PartData3] = Field(min_length=1)
    spec: SpecSourceData | None = Field(description="the spec, for kind spec; null for multiple choice")


class ProblemData4(ProblemData3):
    """A problem of formats 4 and 5."""

    parts: list[PartData4] = Field(min_length=1)


class ProblemData(ProblemData3):
    """A problem: its parameters, every computed value, its parts, and the spec it was made from (kind short: a
    block of short-answer questions, no spec)."""

    kind: Literal["spec", "mcq", "short"]
    parts: list[PartData] = Field(min_length=1)


class IntegrityData(_Model):
    """The digests: of everything else in the file, and of what grading reads."""

    algorithm: Literal["sha256"]
    content: Digest
    key: Digest


class _ExamCommon(_Model):
    """The fields every exam.json format has."""

    exam_id: str = Field(min_length=1)
    title: str
    source: str
    version: str
    engine: str
    duration: Annotated[int, Field(ge=0)] | None
    instructions: str


class _ExamBase(_ExamCommon):
    """The fields of every format of one exam (a cohort has a seed per variant instead)."""

    seed: int


class ExamData(_ExamBase):
    """exam.json, format 6: a generated exam as data, self-contained (docs/exam-format.md)."""

    model_config = ConfigDict(title="i2dl exam.json")

    format: Literal[6]
    rounding: RoundingData = Field(description="the exam-wide rounding rule, stated on the sheet")
    problems: list[ProblemData] = Field(min_length=1)
    integrity: IntegrityData


class ExamData4(_ExamBase):
    """exam.json of format 4: as format 6 without short-answer parts."""

    format: Literal[4]
    rounding: RoundingData
    problems: list[ProblemData4] = Field(min_length=1)
    integrity: IntegrityData


class ExamData3(_ExamBase):
    """exam.json of format 3: self-contained, tolerances as numbers alone (no rounding rules)."""

    format: Literal[3]
    problems: list[ProblemData3] = Field(min_length=1)
    integrity: IntegrityData


# Formats 1 and 2: the options only inside the part text (`reasons` beside it), no spec in the problem.


class LegacyPartData(_PartBase):
    reasons: list[str]


class LegacyProblemData(_ProblemBase):
    parts: list[LegacyPartData] = Field(min_length=1)
    options: list[str]


class LegacyExamData(_ExamBase):
    """exam.json of formats 1 and 2; `integrity` is required from format 2 on."""

    format: Literal[1, 2]
    problems: list[LegacyProblemData] = Field(min_length=1)
    integrity: IntegrityData | None = None


# Format 5: a cohort. Problems as in format 4 without their spec, which is stored once under `specs`.


class CohortProblemData5(_ProblemBase):
    """A problem of one variant of format 5."""

    parts: list[PartData4] = Field(min_length=1)


class CohortProblemData(_ProblemBase):
    """A problem of one variant; a spec problem's spec is `specs[spec_id]` of the file."""

    kind: Literal["spec", "mcq", "short"]
    parts: list[PartData] = Field(min_length=1)


class VariantData5(_Model):
    """One variant of a format 5 cohort."""

    id: str = Field(min_length=1)
    seed: int
    problems: list[CohortProblemData5] = Field(min_length=1)


class VariantData(_Model):
    """One variant of the exam: its seed (derived from the course secret) and its problems."""

    id: str = Field(min_length=1, description="the variant's label (a student's own variant: their id)")
    seed: int = Field(description="HMAC-SHA256(course secret, exam id, student id), first 63 bits")
    problems: list[CohortProblemData] = Field(min_length=1)


class RosterData(_Model):
    """A student of the cohort and the variant they were given."""

    student_id: str = Field(min_length=1)
    name: str
    variant: str = Field(min_length=1)


class CohortExamData(_ExamCommon):
    """exam.json, format 7: every variant of a cohort, the specs once, and the roster (docs/exam-format.md)."""

    format: Literal[7]
    rounding: RoundingData = Field(description="the exam-wide rounding rule, stated on the sheet")
    specs: dict[str, SpecSourceData] = Field(description="each spec the variants were made from, by spec id")
    variants: list[VariantData] = Field(min_length=1)
    roster: list[RosterData] = Field(min_length=1)
    integrity: IntegrityData


class CohortExamData5(_ExamCommon):
    """exam.json of format 5: a cohort without short-answer parts."""

    format: Literal[5]
    rounding: RoundingData
    specs: dict[str, SpecSourceData]
    variants: list[VariantData5] = Field(min_length=1)
    roster: list[RosterData] = Field(min_length=1)
    integrity: IntegrityData


def json_schema() -> dict[str, Any]:
    """The JSON Schema of exam.json as written now, one exam or a cohort (published as docs/exam.schema.json)."""
    from pydantic import TypeAdapter

    either = Annotated[ExamData | CohortExamData, Field(discriminator="format")]
    schema = TypeAdapter(either).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "i2dl exam.json", **schema}


def json_schema_text() -> str:
    """docs/exam.schema.json's text: the schema, indented, one trailing newline."""
    return json.dumps(json_schema(), indent=1, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- digests


def canonical(data: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8 (what the digests hash)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_view(data: dict[str, Any]) -> Any:
    """What grading reads of an exam (points, keys, tolerances, alternatives, rubrics, values), of any JSON."""
    # From format 3 on also each problem's spec (the graph follow-through re-evaluates) and which
    # options are correct; older files keep their view, so their key digests still compare.
    own = data.get("format") is not None and data.get("format") not in (1, 2)
    # From format 4 on also the rounding rules (they set the tolerances) and which key an alternative is.
    rounded = own and data.get("format") != 3

    def pick(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: d.get(k) for k in keys}

    def blank(b: dict[str, Any]) -> dict[str, Any]:
        # Optional flags are part of the key only where set: older exams keep their digests.
        alts = [pick(a, ("name", "value", "credit") + (("key_of",) if rounded else ()))
                | ({"component": True} if a.get("component") else {})
                for a in _dicts(b.get("alternatives"))]
        out = pick(b, ("name", "kind", "expected", "tol_abs", "tol_rel", "points", "options")
                   + (("rounding",) if rounded else ())) | {"alternatives": alts}
        if b.get("checklist"):  # a short answer's items set its points; absent elsewhere, so older digests hold
            out["checklist"] = [pick(t, ("id", "points", "instead_of")) for t in _dicts(b["checklist"])]
        return out

    def part(p: dict[str, Any]) -> dict[str, Any]:
        out = pick(p, ("number", "points", "rubric")) | {"blanks": [blank(b) for b in _dicts(p.get("blanks"))]}
        if p.get("fallback"):  # graded against, so part of the key; absent where none is offered
            out["fallback"] = p["fallback"]
        if own:
            out["options"] = [pick(o, ("letter", "correct")) for o in _dicts(p.get("options"))]
        return out

    def problem(prob: dict[str, Any]) -> dict[str, Any]:
        out = pick(prob, ("number", "spec_id", "kind", "points", "params", "values"))
        out["parts"] = [part(p) for p in _dicts(prob.get("parts"))]
        if own:
            out["spec"] = prob.get("spec")
        return out

    if data.get("format") in COHORT_FORMATS:  # the specs, who has which variant, and every variant's keys
        return {"specs": data.get("specs"), "roster": data.get("roster"),
                "variants": [{"id": v.get("id"), "problems": [problem(p) for p in _dicts(v.get("problems"))]}
                             for v in _dicts(data.get("variants"))]}
    return [problem(prob) for prob in _dicts(data.get("problems"))]


def _dicts(items: Any) -> list[dict[str, Any]]:
    """The mappings among `items` when it is a list (nothing otherwise)."""
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def digests(data: dict[str, Any]) -> dict[str, str]:
    """The integrity block for `data` (which must not hold one): algorithm, content and key digests."""
    body = {k: v for k, v in data.items() if k != "integrity"}
    return {"algorithm": ALGORITHM, "content": hashlib.sha256(canonical(body)).hexdigest(),
            "key": hashlib.sha256(canonical(key_view(body))).hexdigest()}


def exam_json_text(data: dict[str, Any]) -> str:
    """exam.json's text for `data`: the data as a reader will load it, then its integrity block."""
    body = json.loads(json.dumps({k: v for k, v in data.items() if k != "integrity"}))
    return indented_json({**body, "integrity": digests(body)}) + "\n"


# ---------------------------------------------------------------------------- the exam as data


def exam_to_data(exam: Exam) -> dict[str, Any]:
    """The exam as exam.json's data (without its integrity block, which exam_json_text adds)."""
    if exam.is_cohort:
        return cohort_to_data(exam)
    return {"format": FORMAT, "exam_id": exam.exam_id, "title": exam.title, "seed": exam.seed,
            "source": exam.source, "version": exam.version, "engine": exam.engine,
            "duration": exam.duration, "instructions": exam.instructions, "rounding": exam.rounding,
            "problems": [to_data(p) for p in exam.problems]}


def cohort_to_data(exam: Exam) -> dict[str, Any]:
    """A cohort as format 5 data: the specs once, every variant's problems, the roster."""
    specs: dict[str, Any] = {}
    variants = []
    for label, v in exam.variants.items():
        data, used = _variant_data(label, v)
        for sid, spec in used.items():
            specs.setdefault(sid, spec)
        variants.append(data)
    return _cohort_head(exam, specs) | {"variants": variants, "roster": [dict(r) for r in exam.roster]}


def _cohort_head(exam: Exam, specs: dict[str, Any]) -> dict[str, Any]:
    """A cohort's data before its variants (the order of exam.json's keys)."""
    return {"format": COHORT_FORMAT, "exam_id": exam.exam_id, "title": exam.title, "source": exam.source,
            "version": exam.version, "engine": exam.engine, "duration": exam.duration,
            "instructions": exam.instructions, "rounding": exam.rounding, "specs": dict(sorted(specs.items()))}


def _variant_data(label: str, v: Exam) -> tuple[dict[str, Any], dict[str, Any]]:
    """One variant's entry of a cohort's data, and the specs its problems use (id -> digest and document)."""
    specs: dict[str, Any] = {}
    problems = []
    for p in v.problems:
        d = to_data(p)
        spec = d.pop("spec")
        if spec is not None:
            specs.setdefault(p.spec_id, spec)
        problems.append(d)
    return {"id": label, "seed": v.seed, "problems": problems}, specs


@dataclass(frozen=True)
class VariantRecord:
    """One variant as a cohort's exam.json holds it, made where the variant is built (a worker process):
    its indented text at its depth in the file, the canonical bytes of its data and of its key view (each
    zlib-compressed: a 2,000-student cohort's records stay small in memory), and the specs it uses."""

    text: bytes
    canonical: bytes
    key: bytes
    specs: dict[str, Any]


def variant_record(label: str, v: Exam) -> VariantRecord:
    """The record of variant `label`: what cohort_json_text joins instead of encoding every variant again."""
    import zlib

    data, specs = _variant_data(label, v)
    data = json.loads(json.dumps(data))  # as a reader loads it, like exam_json_text's body
    key = key_view({"format": COHORT_FORMAT, "variants": [data]})["variants"][0]
    # Inside exam.json a variant is an item of "variants" (depth 2): every line after its first gets 2 more spaces.
    text = indented_json(data).replace("\n", "\n  ").encode("utf-8")
    return VariantRecord(zlib.compress(text, 1), zlib.compress(canonical(data), 1), zlib.compress(canonical(key), 1),
                         specs)


#: A stand-in for the variants while the rest of a cohort is encoded (a NUL: no text of an exam holds one).
_VARIANTS_MARK = "\x00variants\x00"


def cohort_json_chunks(exam: Exam, records: dict[str, VariantRecord]) -> Iterator[bytes]:
    """exam_json_text(cohort_to_data(exam)) as UTF-8 pieces, from each variant's record (encoded once, where built)."""
    import zlib

    specs: dict[str, Any] = {}
    for label in exam.variants:
        for sid, spec in records[label].specs.items():
            specs.setdefault(sid, spec)
    head = json.loads(json.dumps(_cohort_head(exam, specs) | {"variants": _VARIANTS_MARK,
                                                             "roster": [dict(r) for r in exam.roster]}))
    mark = json.dumps(_VARIANTS_MARK).encode()  # the same escaped text with or without ensure_ascii
    join = [records[label] for label in exam.variants]
    content, key = canonical(head), canonical(key_view({**head, "variants": []}) | {"variants": _VARIANTS_MARK})
    integrity = {"algorithm": ALGORITHM,
                 "content": _joined_digest(content, mark, [r.canonical for r in join]),
                 "key": _joined_digest(key, mark, [r.key for r in join])}
    text = (json.dumps({**head, "integrity": integrity}, indent=1) + "\n").encode("utf-8")
    if text.count(mark) != 1 or content.count(mark) != 1 or key.count(mark) != 1:
        yield exam_json_text(cohort_to_data(exam)).encode("utf-8")  # the mark is elsewhere too: encode it all
        return
    before, _, after = text.partition(mark)
    yield before + b"[\n  "
    for i, r in enumerate(join):
        yield (b",\n  " if i else b"") + zlib.decompress(r.text)
    yield b"\n ]" + after


def cohort_json_text(exam: Exam, records: dict[str, VariantRecord]) -> str:
    """exam_json_text(cohort_to_data(exam)), joined from each variant's record."""
    return b"".join(cohort_json_chunks(exam, records)).decode("utf-8")


def _joined_digest(encoded: bytes, mark: bytes, items: list[bytes]) -> str:
    """SHA-256 of `encoded` with the mark replaced by the JSON list of the (compressed) `items`, piece by piece."""
    import zlib

    before, _, after = encoded.partition(mark)
    h = hashlib.sha256(before + b"[")
    for i, item in enumerate(items):
        if i:
            h.update(b",")
        h.update(zlib.decompress(item))
    h.update(b"]" + after)
    return h.hexdigest()


def write_exam_data(exam: Exam, out: Path | str, records: dict[str, VariantRecord] | None = None) -> Path:
    """Write exam.json into the folder `out`, atomically; its path. `records`: a cohort's variants already encoded."""
    path = Path(out) / EXAM_FILE
    if exam.is_cohort and records is not None:
        atomic_write_bytes(path, cohort_json_chunks(exam, records))  # piece by piece: never the whole text at once
    else:
        atomic_write_text(path, exam_json_text(exam_to_data(exam)))
    return path


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Checked data of any readable format in today's layout (older files: no specs, option texts unknown)."""
    if data["format"] >= SELF_CONTAINED:
        return data
    problems = []
    for prob in data["problems"]:
        parts = []
        for part in prob["parts"]:
            # Formats 1 and 2 kept the option texts inside the part text, which stays as it was.
            correct = set(_letters(part["blanks"][0]["expected"])) if part["reasons"] else set()
            options = [{"letter": chr(65 + i), "text": "", "correct": chr(65 + i) in correct, "reason": r,
                        "mistake": None} for i, r in enumerate(part["reasons"])]
            parts.append({**{k: v for k, v in part.items() if k != "reasons"}, "options": options})
        problems.append({**{k: v for k, v in prob.items() if k != "options"}, "parts": parts, "spec": None})
    return {**data, "problems": problems}


def _letters(encoded: Any) -> list[str]:
    """The letters of an encoded choice key ({"set": [...]}), or none."""
    inner = encoded.get("set") if isinstance(encoded, dict) else None
    return [x for x in inner if isinstance(x, str)] if isinstance(inner, list) else []


def load_exam(folder: Exam | Path | str = "exam", *, accept_modified: bool = False) -> Exam:
    """The exam `generate` wrote into `folder`, checked (an Exam passes through); typed errors say why not."""
    if isinstance(folder, Exam):
        return folder
    folder = Path(folder)
    path = folder / EXAM_FILE if folder.is_dir() or not folder.suffix else folder
    if not path.exists():
        raise NotFoundError(f"no exam in '{folder}' ({EXAM_FILE} is missing)",
                            fix="run `i2dl generate` first, or pass --exam DIR")
    checked = read_exam_data(path, accept_modified=accept_modified)
    if checked.data["format"] in COHORT_FORMATS:
        return _load_cohort(checked, path)
    data = upgrade(checked.data)
    try:
        problems = [from_data(p, f"{path} problems[{i}].spec.document") for i, p in enumerate(data["problems"])]
    except (KeyError, TypeError, ValueError) as exc:  # the schema should have caught it: say so, never a traceback
        raise ExamError(f"cannot rebuild the exam from its data ({type(exc).__name__}: {exc})", where=str(path),
                        fix="regenerate the exam with the seed it was made with") from None
    return Exam(data["exam_id"], data["title"], data["seed"], data["source"], data["instructions"],
                problems, data["version"], data["engine"], data["duration"], warnings=checked.warnings,
                integrity=checked.integrity, rounding=data.get("rounding"))


def _load_cohort(checked: ExamFile, path: Path) -> Exam:
    """The cohort of a checked format 5 file: an Exam per variant, each spec compiled once for all of them."""
    from i2dl.spec.load import SpecSource, compile_spec

    data = checked.data
    sources = {sid: SpecSource(s["document"], s["digest"], f"{path} specs.{sid}.document")
               for sid, s in data["specs"].items()}
    compiled: dict[str, Any] = {}
    for sid, src in sources.items():
        try:
            compiled[sid] = compile_spec(src)
        except I2dlError:
            pass  # compiled again (and the error reported) where a problem needs it
    variants: dict[str, Exam] = {}
    for i, v in enumerate(data["variants"]):
        problems = []
        for j, p in enumerate(v["problems"]):
            try:
                inst = from_data({**p, "spec": None}, f"{path} variants[{i}].problems[{j}]")
            except (KeyError, TypeError, ValueError) as exc:
                raise ExamError(f"cannot rebuild variant '{v['id']}' from its data ({type(exc).__name__}: {exc})",
                                where=str(path), fix="regenerate the cohort") from None
            if p["kind"] == "spec":
                inst.spec = sources[p["spec_id"]]
                inst._compiled = compiled.get(p["spec_id"])
            problems.append(inst)
        variants[v["id"]] = Exam(data["exam_id"], data["title"], v["seed"], data["source"], data["instructions"],
                                 problems, data["version"], data["engine"], data["duration"],
                                 warnings=checked.warnings, integrity=checked.integrity, variant=v["id"],
                                 rounding=data.get("rounding"))
    first = next(iter(variants.values()))
    return Exam(data["exam_id"], data["title"], 0, data["source"], data["instructions"], first.problems,
                data["version"], data["engine"], data["duration"], warnings=checked.warnings,
                integrity=checked.integrity, variants=variants, roster=[dict(r) for r in data["roster"]],
                rounding=data.get("rounding"))


def spec_changes(exam: Exam, library: Library | None = None, numbers: set[int] | None = None) -> list[dict[str, Any]]:
    """Specs whose file in `library` now differs from the copy the exam carries (problems `numbers`, or all)."""
    library = library or Library()
    by_spec: dict[str, list[Any]] = {}
    for prob in exam.problems:
        if prob.spec is not None and (numbers is None or prob.number in numbers):
            by_spec.setdefault(prob.spec_id, []).append(prob)
    out = []
    for spec_id, probs in by_spec.items():
        written = probs[0].spec.digest
        try:
            now = library.digest(spec_id)
        except I2dlError as exc:  # unreadable now: still not the file the exam was made from
            now, why = None, f"cannot be read now ({exc.message})"
        else:
            why = "has changed"
        if now == written or (now is None and spec_id not in library.paths):
            continue  # unchanged, or no longer in the library: the exam needs neither
        numbers_text = ", ".join(str(p.number) for p in probs)
        out.append({"spec": spec_id, "problems": [p.number for p in probs], "path": str(library.paths[spec_id]),
                    "digest_exam": written, "digest_now": now,
                    "note": f"spec '{spec_id}' (problem {numbers_text}) {why} since the exam was generated "
                            f"({library.paths[spec_id]}); the exam's own copy of it is used"})
    return out


# ---------------------------------------------------------------------------- reading


@dataclass
class ExamFile:
    """exam.json read and checked: its data, and what became of its digest."""

    data: dict[str, Any]
    integrity: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def read_exam_data(path: Path, *, accept_modified: bool = False) -> ExamFile:
    """exam.json at `path` checked for schema, values, digest and sanity; ExamError (or ExamModifiedError) if not."""
    data = _load_json(path)
    regen = _regenerate_hint(data)
    if not isinstance(data, dict):
        raise ExamError(f"(top level): expected an object with format, exam_id and problems, got {data_type(data)}",
                        where=str(path), fix=regen)
    _check_format(data, path, regen)
    stored = data.get("integrity") if isinstance(data.get("integrity"), dict) else None
    try:
        computed = digests(data)
    except (RecursionError, ValueError):  # nesting json.loads took but json.dumps refuses
        raise ExamError("nested too deeply to be exam data", where=str(path), fix=regen) from None
    modified = stored is not None and stored.get("content") != computed["content"]
    also = " (and the file no longer matches its digest: it was changed after generation)" if modified else ""
    model = {7: CohortExamData, 6: ExamData, 5: CohortExamData5, 4: ExamData4, 3: ExamData3}.get(
        data["format"], LegacyExamData)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(exc, data, path, regen, also) from None
    views = _variant_views(data)
    bad = _cohort_problems(data) + [(prefix + k, m) for prefix, view in views for k, m in _value_problems(view)]
    if bad:
        keypath, message = bad[0]
        raise ExamError(f"{keypath}: {message}{also}", where=str(path), fix=regen)
    problems = [(prefix + k, m) for prefix, view in views for k, m in _sanity_problems(view)]
    if problems and not modified:
        keypath, message = problems[0]
        raise ExamError(f"{keypath}: {message}", where=str(path), fix=regen)
    warnings: list[str] = []
    if data["format"] == 1:
        integrity = {"status": "unverified", "note": "format 1 exam.json has no digest: edits cannot be detected"}
        warnings.append(f"{path}: written before exams carried a digest (format 1), so changes to it cannot be "
                        "detected; regenerate it with its seed to make it tamper-evident")
    elif modified:
        key_changed = stored.get("key") != computed["key"]
        what = "its key, points or tolerances changed" if key_changed else "only its wording changed, not its key"
        if not accept_modified:
            detail = f"; first inconsistency: {problems[0][0]}: {problems[0][1]}" if problems else ""
            raise ExamModifiedError(f"exam.json was modified after it was generated: {what}{detail}",
                                    where=str(path),
                                    fix=f"{regen}; if you edited it on purpose, pass --accept-modified "
                                        "(grade then records in summary.json that the exam was modified)")
        integrity = {"status": "modified", "accepted": True, "key_changed": key_changed,
                     "digest_written": stored.get("content"), "digest_now": computed["content"],
                     "note": f"exam.json was modified after generation ({what}); accepted with --accept-modified"}
        warnings.append(f"{path}: modified after generation ({what}); used as it is now because of "
                        "--accept-modified, which grade records in summary.json")
    else:
        integrity = {"status": "verified", "digest": computed["content"]}
    if data["format"] < SELF_CONTAINED:
        warnings.append(f"{path}: written before exams carried their own specs (format {data['format']}), so "
                        "follow-through credit and worked steps use the specs on disk now, which may have changed "
                        "since; regenerate it with its seed to make it self-contained")
    if problems:
        keypath, message = problems[0]
        raise ExamError(f"{keypath}: {message}", where=str(path),
                        fix="correct the edit so parts add up and tolerances stay small, or regenerate the exam")
    return ExamFile(data, integrity, warnings)


def _load_json(path: Path) -> Any:
    """The JSON of `path`, or an ExamError locating why it cannot be read (line and column for bad JSON)."""
    fix = "regenerate the exam with `i2dl generate` and the seed it was made with"
    if not path.is_file():
        raise ExamError("not a regular file", where=str(path), fix="pass --exam the folder `i2dl generate` wrote")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ExamError(f"larger than the {MAX_BYTES // 2**20} MB an exam.json can be", where=str(path), fix=fix)
        raw = path.read_bytes()
    except OSError as exc:
        raise ExamError(f"cannot read the exam data: {exc.strerror or exc}", where=str(path), fix=fix) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ExamError(f"not UTF-8 text (byte {exc.start})", where=f"{path}:{line}", fix=fix) from None
    if not text.strip():
        raise ExamError("the file is empty", where=str(path), fix=fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = "" if text.rstrip().endswith(("}", "]")) else " (the file looks truncated)"
        raise ExamError(f"not valid JSON: {exc.msg}{truncated}", where=f"{path}:{exc.lineno}:{exc.colno}",
                        fix=fix) from None
    except ValueError:  # an integer literal of thousands of digits: Python refuses to convert it
        raise ExamError("holds a number too long to be exam data", where=str(path), fix=fix) from None
    except RecursionError:
        raise ExamError("nested too deeply to be exam data", where=str(path), fix=fix) from None


def _variant_views(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key path prefix, format 3 layout) of each variant of a cohort; the file itself otherwise."""
    if data["format"] not in COHORT_FORMATS:
        return [("", data)]
    out = []
    for i, v in enumerate(data["variants"]):
        problems = [{**p, "spec": data["specs"].get(p["spec_id"]) if p["kind"] == "spec" else None}
                    for p in v["problems"]]
        out.append((f"variants[{i}].", {"format": data["format"], "problems": problems}))
    return out


def _layout(problems: list[dict[str, Any]]) -> list[Any]:
    """What every variant of a cohort shares: problem numbers and points, part numbers and points."""
    return [(p["number"], p["points"], [(q["number"], q["points"]) for q in p["parts"]]) for p in problems]


def _cohort_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(key path, what is wrong) of a cohort's own rules: unique variants and students, one layout, known specs."""
    if data["format"] not in COHORT_FORMATS:
        return []
    out: list[tuple[str, str]] = []
    ids: set[str] = set()
    first = _layout(data["variants"][0]["problems"])
    for i, v in enumerate(data["variants"]):
        if v["id"] in ids:
            out.append((f"variants[{i}].id", f"variant '{v['id']}' appears twice"))
        ids.add(v["id"])
        if _layout(v["problems"]) != first:
            out.append((f"variants[{i}].problems", f"variant '{v['id']}' does not have the problems, parts and "
                                                    "points of the first variant"))
        for j, p in enumerate(v["problems"]):
            if p["kind"] == "spec" and p["spec_id"] not in data["specs"]:
                out.append((f"variants[{i}].problems[{j}].spec_id", f"spec '{p['spec_id']}' is not in specs"))
    for sid, spec in data["specs"].items():
        if spec["document"].get("id") != sid:
            out.append((f"specs.{sid}.document.id", f"the stored spec is {short_json(spec['document'].get('id'))}"))
    students: set[str] = set()
    for i, r in enumerate(data["roster"]):
        key = r["student_id"].casefold()
        if key in students:
            out.append((f"roster[{i}].student_id", f"student '{r['student_id']}' is on the roster twice"))
        students.add(key)
        if r["variant"] not in ids:
            out.append((f"roster[{i}].variant", f"no variant '{r['variant']}'"))
    return out


def _regenerate_hint(data: Any) -> str:
    """How to remake the exam, with its source and seed when the file still says them."""
    if isinstance(data, dict) and data.get("format") in COHORT_FORMATS and isinstance(data.get("source"), str):
        return (f"regenerate it in its course: i2dl generate {data['source']} --roster ROSTER --exam-id "
                f"{data.get('exam_id')} --out DIR --force (the course secret gives the same variants)")
    if isinstance(data, dict) and isinstance(data.get("source"), str) and type(data.get("seed")) is int:
        return (f"regenerate it: i2dl generate {data['source']} --seed {data['seed']} --out DIR "
                "(the same seed gives the same exam; add any --param pins it was made with)")
    return "regenerate the exam with `i2dl generate` and the seed it was made with"


def _check_format(data: dict[str, Any], path: Path, regen: str) -> None:
    fmt = data.get("format")
    if "format" not in data:
        raise ExamError("missing key 'format' (the exam data format number)", where=f"{path} format", fix=regen)
    if type(fmt) is not int:
        raise ExamError(f"format must be a whole number, got {data_type(fmt)}", where=f"{path} format", fix=regen)
    if fmt > READABLE[-1]:
        raise ExamError(f"exam data format {fmt} is newer than this i2dl reads "
                        f"(formats {READABLE[0]} to {READABLE[-1]})", where=f"{path} format",
                        fix="upgrade i2dl, or regenerate the exam with this version")
    if fmt not in READABLE:
        raise ExamError(f"unknown exam data format {fmt} (this i2dl reads formats {READABLE[0]} to {READABLE[-1]})",
                        where=f"{path} format", fix=regen)
    if fmt >= 2 and "integrity" not in data:
        raise ExamError("missing key 'integrity' (the digests a format 2 exam carries)",
                        where=f"{path} integrity", fix=regen)


_EXPECTED = {
    "int_type": "a whole number", "float_type": "a number", "string_type": "text", "bool_type": "true or false",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object", "finite_number": "a finite number",
    "string_pattern_mismatch": "text of the form written by `i2dl generate`", "model_attributes_type": "an object",
}


def _data_loc(data: Any, loc: tuple[Any, ...], keep_last: bool) -> tuple[Any, ...]:
    """The part of pydantic's error location that indexes the data (union member names dropped)."""
    out: list[Any] = []
    cur = data
    for i, key in enumerate(loc):
        if isinstance(cur, dict) and key in cur or isinstance(cur, list) and type(key) is int and 0 <= key < len(cur):
            out.append(key)
            cur = cur[key]
        elif keep_last and i == len(loc) - 1:
            out.append(key)
    return tuple(out)


def _schema_error(exc: ValidationError, data: Any, path: Path, regen: str, also: str) -> ExamError:
    """The first schema error as an ExamError: the key path, what was expected, what was found."""
    errors = exc.errors()
    err = errors[0]
    kind = err["type"]
    loc = _data_loc(data, err["loc"], keep_last=kind == "missing")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        message = f"missing key '{loc[-1]}'"
    elif kind == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'"
    elif kind == "literal_error":
        message = f"expected one of {ctx.get('expected', 'the listed values')}, got {short_json(err.get('input'))}"
    elif kind in ("greater_than_equal", "less_than_equal"):
        sign = ">=" if kind == "greater_than_equal" else "<="
        bound = ctx.get("ge", ctx.get("le"))
        message = f"expected a number {sign} {bound}, got {short_json(err.get('input'))}"
    elif kind in ("too_short", "too_long"):
        message = "expected at least one entry" if kind == "too_short" else "too many entries"
    else:
        want = _EXPECTED.get(kind)
        message = f"expected {want}, got {data_type(err.get('input'))}" if want else err["msg"]
    more = f" (and {len(errors) - 1} more schema errors)" if len(errors) > 1 else ""
    return ExamError(f"{fmt_path(loc)}: {message}{more}{also}", where=str(path), fix=regen)


# ---------------------------------------------------------------------------- values and sanity


def _value_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(key path, what is wrong) for what the schema cannot see: encoded values, keys of their kind, numbering."""
    out: list[tuple[str, str]] = []
    numbers: set[int] = set()
    parts_seen: set[str] = set()
    own = data["format"] >= SELF_CONTAINED
    for i, prob in enumerate(data["problems"]):
        at = ("problems", i)
        if prob["number"] in numbers:
            out.append((fmt_path(at + ("number",)), f"problem number {prob['number']} appears twice"))
        numbers.add(prob["number"])
        for section in ("params", "values"):
            for name, v in prob[section].items():
                why = _encoding_problem(v)
                if why:
                    out.append((fmt_path(at + (section, name)), why))
        for j, part in enumerate(prob["parts"]):
            pat = at + ("parts", j)
            if not part["number"].startswith(f"{prob['number']}."):
                out.append((fmt_path(pat + ("number",)),
                            f"part {part['number']} is numbered outside problem {prob['number']}"))
            if part["number"] in parts_seen:
                out.append((fmt_path(pat + ("number",)), f"part number {part['number']} appears twice"))
            parts_seen.add(part["number"])
            names = [b["name"] for b in part["blanks"]]
            for k, b in enumerate(part["blanks"]):
                bat = pat + ("blanks", k)
                if names.index(b["name"]) != k:
                    out.append((fmt_path(bat + ("name",)), f"blank '{b['name']}' appears twice"))
                why = _kind_problem(b["expected"], b["kind"], b["options"])
                if why:
                    out.append((fmt_path(bat + ("expected",)), why))
                for a, alt in enumerate(b["alternatives"]):
                    why = _kind_problem(alt["value"], b["kind"], b["options"])
                    if why:
                        out.append((fmt_path(bat + ("alternatives", a, "value")), why))
        if own:  # after the keys' own checks: a malformed key is the clearer message
            out += _spec_problems(prob, at)
            for j, part in enumerate(prob["parts"]):
                out += _option_problems(part, at + ("parts", j))
                out += _checklist_problems(part, at + ("parts", j))
    return out


def _checklist_problems(part: dict[str, Any], at: tuple[Any, ...]) -> list[tuple[str, str]]:
    """A short answer is one text blank whose full items add up to the part's points; partials name a full item."""
    out: list[tuple[str, str]] = []
    for k, b in enumerate(part["blanks"]):
        items = b.get("checklist") or []
        if not items and b.get("model_answer") is None and b.get("lines") is None:
            continue
        bat = at + ("blanks", k)
        if b["kind"] != "text" or len(part["blanks"]) != 1:
            out.append((fmt_path(bat), "a model answer, checklist and lines belong to a short answer: the one "
                                       "blank of its part, of kind text"))
            continue
        if b.get("model_answer") is None or len(items) < 2:
            out.append((fmt_path(bat), "a short answer needs its model_answer and at least two checklist items"))
            continue
        ids = [t["id"] for t in items]
        full = {t["id"]: t["points"] for t in items if t["points"] > 0 and t["instead_of"] is None}
        for m, t in enumerate(items):
            if ids.index(t["id"]) != m:
                out.append((fmt_path(bat + ("checklist", m, "id")), f"checklist item '{t['id']}' appears twice"))
            if t["instead_of"] is not None and not 0 < t["points"] < full.get(t["instead_of"], 0):
                out.append((fmt_path(bat + ("checklist", m, "instead_of")),
                            f"a partial item is worth more than 0 and less than the full item it replaces "
                            f"('{t['instead_of']}')"))
        if not math.isclose(sum(full.values()), part["points"], abs_tol=1e-6):
            out.append((fmt_path(bat + ("checklist",)), f"the full items add up to {sum(full.values()):g} points, "
                                                        f"but the part has {part['points']:g}"))
    return out


def _spec_problems(prob: dict[str, Any], at: tuple[Any, ...]) -> list[tuple[str, str]]:
    """A spec problem carries the spec it names; a multiple-choice block carries none."""
    spec = prob["spec"]
    if prob["kind"] in ("mcq", "short"):
        what = "a multiple-choice" if prob["kind"] == "mcq" else "a short-answer"
        return [] if spec is None else [(fmt_path(at + ("spec",)), f"{what} problem has no spec: expected null")]
    if spec is None:
        return [(fmt_path(at + ("spec",)), f"problem {prob['number']} was made from spec '{prob['spec_id']}' but "
                                           "does not carry it: expected {\"digest\": ..., \"document\": {...}}")]
    if spec["document"].get("id") != prob["spec_id"]:
        return [(fmt_path(at + ("spec", "document", "id")),
                 f"the stored spec is {short_json(spec['document'].get('id'))}, but the problem names "
                 f"{short_json(prob['spec_id'])}")]
    return []


def _option_problems(part: dict[str, Any], at: tuple[Any, ...]) -> list[tuple[str, str]]:
    """A question's options are lettered A, B, ... and agree with its choice blank's key."""
    options = part["options"]
    if not options:
        return []
    letters = [o["letter"] for o in options]
    if letters != [chr(65 + i) for i in range(len(options))]:
        return [(fmt_path(at + ("options",)), f"options must be lettered A, B, ... in order, got {''.join(letters)}")]
    blank = part["blanks"][0]
    if len(part["blanks"]) != 1 or blank["kind"] != "choice" or blank["options"] != len(options):
        return [(fmt_path(at + ("blanks",)), f"a question with {len(options)} options has one choice blank "
                                             f"with options: {len(options)}")]
    right = sorted(o["letter"] for o in options if o["correct"])
    key = sorted(_letters(blank["expected"]))
    if right != key:
        return [(fmt_path(at + ("options",)), f"the options marked correct ({''.join(right) or 'none'}) are not "
                                              f"the key of the blank ({''.join(key) or 'none'})")]
    return []


def _sanity_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(key path, what is wrong) for what makes grading absurd: parts that do not add up, huge tolerances."""
    out: list[tuple[str, str]] = []
    for i, prob in enumerate(data["problems"]):
        at = ("problems", i)
        total = sum(part["points"] for part in prob["parts"])
        if not math.isclose(total, prob["points"], abs_tol=1e-6):
            out.append((fmt_path(at + ("points",)),
                        f"the parts of problem {prob['number']} add up to {total:g} points, "
                        f"but the problem has {prob['points']:g}"))
        for j, part in enumerate(prob["parts"]):
            for k, b in enumerate(part["blanks"]):
                if not kinds.get(b["kind"]).numeric:
                    continue  # other kinds are compared exactly
                bat = at + ("parts", j, "blanks", k)
                if b["tol_rel"] > MAX_TOL_REL:
                    out.append((fmt_path(bat + ("tol_rel",)), f"a relative tolerance of {b['tol_rel']:g} accepts "
                                                              f"almost any answer (at most {MAX_TOL_REL:g})"))
                limit = max(1.0, MAX_TOL_ABS_PER_UNIT * _magnitude(b["expected"]))
                if b["tol_abs"] > limit:
                    out.append((fmt_path(bat + ("tol_abs",)), f"an absolute tolerance of {b['tol_abs']:g} accepts "
                                                              f"almost any answer (at most {limit:g} for a key of "
                                                              "this size)"))
    return out


def _magnitude(encoded: Any) -> float:
    """The largest |entry| of an encoded number or array."""
    if isinstance(encoded, dict):
        encoded = encoded.get("array")
    flat = _flatten(encoded)
    return max((abs(x) for x in flat), default=0.0)


def _flatten(v: Any) -> list[float]:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [float(v)] if finite_number(v) else []


def _kind_problem(v: Any, kind: str, options: int) -> str | None:
    """Why an encoded key value is not of `kind`, or None."""
    return kinds.get(kind).data_problem(v, options)


def _shape(v: Any, finite: bool = True) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of numbers (finite ones unless `finite` is False), or None."""
    if finite_number(v) or not finite and isinstance(v, float):
        return ()
    if not isinstance(v, list):
        return None
    if not v:
        return (0,)
    inner = {_shape(x, finite) for x in v}
    if None in inner or len(inner) != 1:
        return None
    return (len(v),) + inner.pop()  # type: ignore[operator]


def _encoding_problem(v: Any, depth: int = 0) -> str | None:
    """Why an encoded parameter or value cannot be decoded, or None."""
    if depth > MAX_DEPTH:
        return "nested too deeply"
    if isinstance(v, dict):
        tags = set(v) & {"array", "set", "tuple", "dict"}
        if len(v) == 1 and tags:
            (tag,) = tags
            inner = v[tag]
            if tag == "array":
                return None if _shape(inner, finite=False) is not None else \
                    "expected {\"array\": [...]} of numbers in equally long rows"
            if tag == "set":
                return None if isinstance(inner, list) and all(isinstance(x, str) for x in inner) else \
                    "expected {\"set\": [text, ...]}"
            if tag == "tuple":
                return _encoding_problem(inner, depth + 1) if isinstance(inner, list) else "expected {\"tuple\": [...]}"
            if isinstance(inner, dict):
                return next((w for w in (_encoding_problem(x, depth + 1) for x in inner.values()) if w), None)
            return "expected {\"dict\": {...}}"
        return "expected a value written by `i2dl generate` (an object with one of array, set, tuple, dict)"
    if isinstance(v, list):
        return next((w for w in (_encoding_problem(x, depth + 1) for x in v) if w), None)
    return None
