"""Course folders: i2dl.toml, the course's own problems and rubrics, its secret, its roster.

A course is a folder with an `i2dl.toml`; commands run inside it (or given `--course DIR`) find
the course's specs, questions, blueprints and rubrics before the shipped library. The secret
derives each student's variant seed: HMAC-SHA256(secret, exam id, student id), so a sheet, which
prints only the exam and student ids, gives nobody the key without the secret.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from i2dl.errors import I2dlError, NotFoundError, SpecError, UsageError
from i2dl.rounding import DEFAULT_ROUNDING, Rounding

CONFIG_FILE = "i2dl.toml"
SECRET_FILE = ".i2dl-secret"
#: The course secret from the environment wins over the file (CI, or a secret kept in a vault).
SECRET_ENV = "I2DL_COURSE_SECRET"
ROSTER_FILE = "roster.csv"
#: Library folders inside a course, by the kind `spec.load.builtin_dir` names them.
COURSE_DIRS = {"specs": "problems/specs", "mcq": "problems/mcq", "short": "problems/short", "blueprints": "problems/blueprints",
               "rubrics": "rubrics"}
MIN_SECRET_CHARS = 32  # 128 bits of hex: short secrets can be guessed by trying


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class GradeBoundary(_Model):
    """One grade and the least percentage of the points that earns it."""

    grade: str = Field(min_length=1)
    min_percent: float = Field(ge=0, le=100)


#: Grades when i2dl.toml has no [[grades]]: the German 1.0-5.0 scale, passing at half the points.
DEFAULT_GRADES: tuple[GradeBoundary, ...] = tuple(
    GradeBoundary(grade=g, min_percent=p) for g, p in (
        ("1.0", 90), ("1.3", 86), ("1.7", 82), ("2.0", 78), ("2.3", 74), ("2.7", 70), ("3.0", 66),
        ("3.3", 62), ("3.7", 58), ("4.0", 50), ("5.0", 0)))

class ReviewConfig(_Model):
    """[review]: how hand-marked short answers are graded."""

    #: An answer identical to the model answer (whitespace aside) gets every full item without a TA.
    auto_award_exact: bool = False


class CourseConfig(_Model):
    """i2dl.toml: the course's name and the defaults its commands use."""

    title: str = Field(min_length=1)
    term: str = ""
    blueprint: str = "default"
    engine: str | None = None
    #: The exam-wide rounding rule of the course's exams ([rounding] decimals = 3); a blueprint's own wins.
    rounding: Rounding | None = None
    #: Further course-wide defaults for exams, kept as data.
    defaults: dict[str, Any] = Field(default_factory=dict)
    #: Grade boundaries for `i2dl stats` ([[grades]] grade = "1.0" min_percent = 90, ...); None: DEFAULT_GRADES.
    grades: list[GradeBoundary] | None = None

    @field_validator("grades")
    @classmethod
    def _grades_cover_every_score(cls, grades: list[GradeBoundary] | None) -> list[GradeBoundary] | None:
        """Distinct grades and thresholds, one of them at 0 so that every score gets a grade."""
        if grades is None:
            return None
        if not grades:
            raise ValueError("the list of grades is empty")
        names = [g.grade for g in grades]
        if len(set(names)) != len(names):
            raise ValueError(f"grade '{next(n for n in names if names.count(n) > 1)}' is listed twice")
        mins = [g.min_percent for g in grades]
        if len(set(mins)) != len(mins):
            raise ValueError(f"two grades start at {next(m for m in mins if mins.count(m) > 1):g}%")
        if min(mins) != 0:
            raise ValueError(f"the lowest grade starts at {min(mins):g}%, so a lower score would get no grade")
        return sorted(grades, key=lambda g: -g.min_percent)
    review: ReviewConfig = Field(default_factory=ReviewConfig)


@dataclass(frozen=True)
class Course:
    """A course folder and its validated i2dl.toml."""

    root: Path
    config: CourseConfig

    def dir(self, kind: str) -> Path:
        """The course's folder of `kind` ('specs', 'mcq', 'blueprints', 'rubrics')."""
        return self.root / COURSE_DIRS[kind]

    @property
    def secret_file(self) -> Path:
        return self.root / SECRET_FILE


# ---------------------------------------------------------------------------- finding the course

_ACTIVE: list[Course | None] = []  # set by --course (or use_course); else found from the working folder


def load_course(root: Path) -> Course:
    """The course at `root` (its i2dl.toml read and validated); errors name the key and line."""
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no {CONFIG_FILE} in '{root}'", where=str(root),
                            fix=f"run `i2dl init {root}` to make a course there, or pass the course folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {CONFIG_FILE}: {exc}", where=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML: {exc}", where=str(path),
                        fix="write key = \"value\" lines, text in double quotes") from None
    try:
        config = CourseConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        line = _toml_line(text, str(err["loc"][0])) if err["loc"] else None
        where = f"{path}:{line} {key}" if line else f"{path} {key}"
        if err["type"] == "missing":
            raise SpecError(f"missing required key '{key}'", where=where, fix=f'add {key} = "..."') from None
        if err["type"] == "extra_forbidden":
            raise SpecError(f"unknown key '{key}'", where=where,
                            fix="known keys: " + ", ".join(CourseConfig.model_fields)) from None
        raise SpecError(f"{key}: {err['msg']}", where=where,
                        fix=_TOML_FIXES.get(key, _TOML_FIXES.get(str(err["loc"][0]) if err["loc"] else "",
                                                                 "see README, running a course"))) from None
    if config.engine is not None:
        from i2dl.engine import resolve_name

        try:
            resolve_name(config.engine)
        except I2dlError as exc:
            raise SpecError(exc.message, where=f"{path}:{_toml_line(text, 'engine')} engine",
                            fix='engine = "auto", "numpy" or "torch"') from None
    return Course(root.resolve(), config)


_TOML_FIXES = {"title": 'title = "Introduction to Deep Learning"', "term": 'term = "WS 2026"',
               "blueprint": 'blueprint = "default" (a blueprint in problems/blueprints or shipped)',
               "defaults": "[defaults] is a table of key = value lines",
               "rounding": "[rounding] then decimals = 3 and/or significant = 2",
               "grades": "one [[grades]] table per grade, e.g. grade = \"1.0\" and min_percent = 90; "
                         "the lowest at min_percent = 0",
               "review": "[review] then auto_award_exact = true or false"}


def _toml_line(text: str, key: str) -> int | None:
    """The line (1-based) where top-level `key` is set, or a [key] table starts."""
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.split("=", 1)[0].strip() == key or s in (f"[{key}]", f"[[{key}]]"):
            return i
    return None


def find_course(start: Path | None = None) -> Course | None:
    """The course whose i2dl.toml is in `start` (default: the working folder) or a folder above it."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return load_course(folder)
    return None


def active_course() -> Course | None:
    """The course commands use now: the one set by --course, else the one around the working folder."""
    if _ACTIVE:
        return _ACTIVE[-1]
    return find_course()


@contextmanager
def use_course(course: Course | Path | None) -> Iterator[Course | None]:
    """Make `course` (a folder, or None: no course) the active one inside the block."""
    c = load_course(Path(course)) if isinstance(course, (str, Path)) else course
    _ACTIVE.append(c)
    try:
        yield c
    finally:
        _ACTIVE.pop()


def set_course(course: Course | None) -> None:
    """Make `course` the active one for the rest of the process (the CLI's --course)."""
    _ACTIVE.clear()
    _ACTIVE.append(course)


def reset_course() -> None:
    """Back to finding the course from the working folder."""
    _ACTIVE.clear()


# ---------------------------------------------------------------------------- init


_GITIGNORE = f"""\
# The course secret derives every student's variant: whoever has it can rebuild every key.
{SECRET_FILE}
# Generated exams (they hold the keys) and grading results (they hold students' marks).
exams/
results/
submissions/
"""

_EXAMPLE_ROSTER = "student_id,name\nge00aaa,Ada Example\nge00bbb,Ben Example\nge00ccc,Cem Example\n"


def init_course(root: Path, *, title: str | None = None, term: str = "") -> dict[str, Any]:
    """Write a new course at `root`: i2dl.toml, problem and rubric folders, .gitignore, roster, secret."""
    root = Path(root)
    if (root / CONFIG_FILE).exists():
        raise UsageError(f"'{root}' is already a course ({CONFIG_FILE} exists)", where=str(root / CONFIG_FILE),
                         fix="choose a new folder, or edit the existing i2dl.toml")
    title = title or root.resolve().name
    written: list[Path] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for rel in COURSE_DIRS.values():
            (root / rel).mkdir(parents=True, exist_ok=True)
            keep = root / rel / ".gitkeep"
            keep.touch()
        toml = (f"# i2dl course settings (README: running a course)\n"
                f"title = {_toml_str(title)}\n"
                f"term = {_toml_str(term)}\n"
                f"# the blueprint `i2dl generate` uses when none is named (problems/blueprints or shipped)\n"
                f'blueprint = "default"\n'
                f"# auto (torch when installed), numpy or torch; --engine and $I2DL_ENGINE override it\n"
                f'engine = "auto"\n\n'
                f"# How students round (the sheet states it; tolerances follow it); a blueprint's own rule wins.\n"
                f"[rounding]\n"
                f"decimals = {DEFAULT_ROUNDING.decimals}\n"
                f"significant = {DEFAULT_ROUNDING.significant}\n\n"
                f"# Grade boundaries for `i2dl stats`, one [[grades]] table each (README: grades); without them\n"
                f"# the 1.0 (90%) to 5.0 (0%) scale. For example:\n"
                f"# [[grades]]\n# grade = \"1.0\"\n# min_percent = 90\n\n"
                f"# Further course-wide defaults for every exam.\n"
                f"[defaults]\n")
        for name, text in ((CONFIG_FILE, toml), (".gitignore", _GITIGNORE), (ROSTER_FILE, _EXAMPLE_ROSTER)):
            (root / name).write_text(text, encoding="utf-8")
            written.append(root / name)
        secret_path = root / SECRET_FILE
        if not secret_path.exists():
            fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        written.append(secret_path)
    except OSError as exc:
        raise UsageError(f"cannot write the course: {exc.strerror or exc}", where=str(root),
                         fix="choose a folder you can write to") from None
    return {"course": str(root), "title": title, "term": term, "files": [str(p) for p in written],
            "folders": [str(root / rel) for rel in COURSE_DIRS.values()]}


def grade_boundaries(course: Course | None = None) -> list[GradeBoundary]:
    """The course's grade boundaries, highest first (DEFAULT_GRADES outside a course or without [[grades]])."""
    course = course if course is not None else active_course()
    if course is not None and course.config.grades is not None:
        return list(course.config.grades)
    return list(DEFAULT_GRADES)


def _toml_str(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------- the secret and variants


def course_secret(course: Course | None = None) -> bytes:
    """The course secret: $I2DL_COURSE_SECRET, else the course's secret file; UsageError if neither."""
    env = os.environ.get(SECRET_ENV)
    if env is not None and env.strip():
        secret = env.strip()
        where = f"${SECRET_ENV}"
    else:
        course = course if course is not None else active_course()
        if course is None:
            raise UsageError("per-student variants need a course secret",
                             fix=f"run inside a course made by `i2dl init` (or pass --course DIR), "
                                 f"or set {SECRET_ENV}")
        where = str(course.secret_file)
        try:
            secret = course.secret_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise NotFoundError("the course has no secret file", where=where,
                                fix=f"set {SECRET_ENV}, or restore the file from your backup (a new secret "
                                    "gives every student new variants)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the course secret: {exc}", where=where) from None
    if len(secret) < MIN_SECRET_CHARS:
        raise UsageError(f"the course secret is shorter than {MIN_SECRET_CHARS} characters, so it could be guessed",
                         where=where, fix="use the secret `i2dl init` writes (64 hex digits), e.g. "
                                          "python -c 'import secrets; print(secrets.token_hex(32))'")
    return secret.encode("utf-8")


def variant_seed(secret: bytes, exam_id: str, student_id: str) -> int:
    """seed = the first 8 bytes of HMAC-SHA256(secret, exam id NUL student id), as an int < 2^63."""
    msg = exam_id.encode("utf-8") + b"\0" + unicodedata.normalize("NFC", student_id).encode("utf-8")
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# ---------------------------------------------------------------------------- rosters


@dataclass(frozen=True)
class RosterStudent:
    student_id: str
    name: str


def read_roster(path: Path) -> list[RosterStudent]:
    """The students of a roster CSV (a student_id column, optionally name); errors name the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"no roster '{path}'", fix="pass a CSV with a student_id column (and name)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the roster: {exc}", where=str(path), fix="save it as UTF-8 CSV") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise UsageError("the roster is empty", where=str(path), fix="a header line student_id,name, then a line "
                                                                    "per student")
    header = [h.strip().lower() for h in rows[0]]
    if "student_id" not in header:
        raise UsageError(f"the roster has no student_id column (columns: {', '.join(rows[0])})",
                         where=f"{path}:1", fix="name the id column student_id")
    sid_col, name_col = header.index("student_id"), header.index("name") if "name" in header else None
    out: list[RosterStudent] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        sid = unicodedata.normalize("NFC", row[sid_col].strip()) if sid_col < len(row) else ""
        if not sid:
            raise UsageError("a student without an id", where=f"{path}:{line}", fix="fill in the student_id column")
        if not sid.isprintable() or len(sid) > 100:
            raise UsageError(f"student id '{sid[:40]}' has control characters or is too long",
                             where=f"{path}:{line}", fix="ids are one line of at most 100 characters")
        key = sid.casefold()
        if key in seen:
            raise UsageError(f"student id '{sid}' is on the roster twice (also line {seen[key]})",
                             where=f"{path}:{line}", fix="keep one line per student")
        seen[key] = line
        name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
        out.append(RosterStudent(sid, " ".join(name.split())))
    if not out:
        raise UsageError("the roster lists no students", where=str(path), fix="add a line per student")
    return out
