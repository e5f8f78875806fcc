"""The marks store: RESULTS/marks.sqlite, every TA action one transaction (a killed app loses nothing committed).

Tables (schema version in `PRAGMA user_version`):
- marks: one row per (student, part, blank): the rubric item ids applied, a comment, the answer text
  marked, the TA and the time. Points are never stored per answer: they are the sum of the items'
  points, computed when read, so editing an item's points re-grades every answer that has it.
- item_points: rubric items whose points a TA edited (part, blank, question id, item -> points).
- groups: which answer group each student's answer is in, per question, as the TA left it.
A question is (part number, blank name, question id): the id (the part's id in exam.json) tells the
questions of a cohort's variants apart when they differ at one part number.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from i2dl.errors import OutputError, UsageError
from i2dl.grade.batch import MARKS_FILE
from i2dl.grade.manual import Mark
from i2dl.io import display_path

STORE_FILE = MARKS_FILE  # RESULTS/marks.sqlite: grade carries it into every new results folder
SCHEMA_VERSION = 1

Key = tuple[str, str, str]  # (student id, part number, blank name)
QuestionKey = tuple[str, str, str]  # (part number, blank name, question id)

_SCHEMA = """
CREATE TABLE marks (
    student TEXT NOT NULL, part TEXT NOT NULL, blank TEXT NOT NULL,
    items TEXT NOT NULL,           -- JSON list of rubric item ids
    comment TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL,          -- the answer text the items were applied to
    ta TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL,            -- UTC, ISO 8601
    PRIMARY KEY (student, part, blank)
);
CREATE TABLE item_points (
    part TEXT NOT NULL, blank TEXT NOT NULL, question TEXT NOT NULL, item TEXT NOT NULL,
    points REAL NOT NULL, ta TEXT NOT NULL DEFAULT '', time TEXT NOT NULL,
    PRIMARY KEY (part, blank, question, item)
);
CREATE TABLE groups (
    part TEXT NOT NULL, blank TEXT NOT NULL, question TEXT NOT NULL, student TEXT NOT NULL, grp INTEGER NOT NULL,
    PRIMARY KEY (part, blank, question, student)
);
"""


@dataclass(frozen=True)
class StoredMark:
    """A mark as stored: the Mark's fields and who made it when."""

    items: tuple[str, ...]
    comment: str
    answer: str
    ta: str
    time: str

    def mark(self) -> Mark:
        return Mark(items=self.items, comment=self.comment, answer=self.answer)


def now() -> str:
    """The current UTC time as stored (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class MarkStore:
    """One open marks.sqlite; each write method is one transaction (committed when it returns)."""

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        self.where = display_path(self.path)
        if not create and not self.path.exists():
            raise UsageError("no marks store here", where=self.where, fix="open it with `i2dl review RESULTS` first")
        try:
            # isolation_level=None: no implicit transactions; each action opens and commits its own.
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise OutputError(f"cannot open the marks store: {exc}", where=self.where,
                              fix="restore marks.sqlite from a copy, or re-import an exported marks CSV "
                                  "into a new one") from None

    # ------------------------------------------------------------------ plumbing

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise OutputError(f"the marks store has schema version {version}; this i2dl knows up to "
                              f"{SCHEMA_VERSION}", where=self.where, fix="upgrade i2dl")
        if version == 0:
            with self.transaction() as db:
                # executescript would commit on its own: the statements run one by one inside this transaction
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> MarkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ marks

    def marks(self, part: str | None = None, blank: str | None = None) -> dict[Key, StoredMark]:
        """Every stored mark (of one question if part and blank are given)."""
        sql = "SELECT student, part, blank, items, comment, answer, ta, time FROM marks"
        args: tuple[str, ...] = ()
        if part is not None:
            sql, args = sql + " WHERE part = ? AND blank = ?", (part, blank or "")
        out = {}
        for s, p, b, items, comment, answer, ta, time in self.db.execute(sql + " ORDER BY student, part, blank", args):
            out[(s, p, b)] = StoredMark(tuple(json.loads(items)), comment, answer, ta, time)
        return out

    def set_marks(self, answers: Mapping[Key, str], items: Iterable[str], comment: str, ta: str,
                  time: str | None = None) -> None:
        """Mark every answer of `answers` (key -> the answer text) with the same items and comment."""
        items_json = json.dumps(list(items))
        stamp = time or now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO marks (student, part, blank, items, comment, answer, ta, time) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (student, part, blank) DO UPDATE SET items=excluded.items, comment=excluded.comment,"
                " answer=excluded.answer, ta=excluded.ta, time=excluded.time",
                [(s, p, b, items_json, comment, text, ta, stamp) for (s, p, b), text in answers.items()])

    def put_marks(self, rows: Mapping[Key, StoredMark],
                  edits: Iterable[tuple[QuestionKey, str, float, str, str]] = ()) -> None:
        """Write stored marks as they are, and edited items (question, item, points, ta, time): one transaction."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO item_points (part, blank, question, item, points, ta, time) "
                           "VALUES (?,?,?,?,?,?,?)", [(*q, i, float(p), ta, t or now()) for q, i, p, ta, t in edits])
            db.executemany(
                "INSERT OR REPLACE INTO marks (student, part, blank, items, comment, answer, ta, time)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [(s, p, b, json.dumps(list(m.items)), m.comment, m.answer, m.ta, m.time)
                 for (s, p, b), m in rows.items()])

    def clear_marks(self, keys: Iterable[Key]) -> None:
        """Remove the marks of these answers (they are ungraded again)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM marks WHERE student = ? AND part = ? AND blank = ?", list(keys))

    # ------------------------------------------------------------------ item points

    def item_points(self) -> dict[tuple[str, str, str, str], float]:
        """Edited points: (part, blank, question id, item id) -> points."""
        return {k: v[0] for k, v in self.item_edits().items()}

    def item_edits(self) -> dict[tuple[str, str, str, str], tuple[float, str, str]]:
        """Edited points with who edited them when: (part, blank, question, item) -> (points, ta, time)."""
        return {(p, b, q, i): (pts, ta, t) for p, b, q, i, pts, ta, t in
                self.db.execute("SELECT part, blank, question, item, points, ta, time FROM item_points "
                                "ORDER BY part, blank, question, item")}

    def set_item_points(self, question: QuestionKey, item: str, points: float, ta: str,
                        time: str | None = None) -> None:
        """Give a rubric item new points (every answer that has it is re-graded when marks are read)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO item_points (part, blank, question, item, points, ta, time) "
                       "VALUES (?,?,?,?,?,?,?)", (*question, item, float(points), ta, time or now()))

    # ------------------------------------------------------------------ groups

    def groups(self, question: QuestionKey) -> dict[str, int]:
        """student -> group number, as last saved for this question."""
        return dict(self.db.execute("SELECT student, grp FROM groups WHERE part = ? AND blank = ? AND question = ? "
                                    "ORDER BY student", question))

    def set_groups(self, question: QuestionKey, assignment: Mapping[str, int]) -> None:
        """Save (or update) the group of each of these students' answers."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO groups (part, blank, question, student, grp) VALUES (?,?,?,?,?)",
                           [(*question, s, g) for s, g in assignment.items()])

    def integrity(self) -> str:
        """SQLite's own check: 'ok' for an intact file."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


def store_path(results_dir: Path | str) -> Path:
    return Path(results_dir) / STORE_FILE


def read_marks(results_dir: Path | str) -> dict[Key, Mark]:
    """Every mark in RESULTS/marks.sqlite as grading takes it; {} when there is no store."""
    path = store_path(results_dir)
    if not path.exists():
        return {}
    with MarkStore(path) as store:
        return {k: m.mark() for k, m in store.marks().items()}


def read_item_points(results_dir: Path | str) -> dict[tuple[str, str, str, str], float]:
    """The rubric items whose points a TA edited: (part, blank, question id, item id) -> points; {} without a store."""
    path = store_path(results_dir)
    if not path.exists():
        return {}
    with MarkStore(path) as store:
        return store.item_points()
