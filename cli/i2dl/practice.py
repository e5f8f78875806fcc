"""Practice: fresh instances asked part by part, graded as `grade` grades them, with a local history.

A `Session` is the state machine behind `i2dl practice`: it is fed the lines a student types and
returns plain-data replies (a verdict, the worked steps, a skip, the end), so it runs without a
terminal. Every answer is read and judged by the grader itself (`grade.score.Grader` on the answers
given so far, so follow-through and named mistakes are the exam's own); the worked steps are the
explain module's, with the student's values set beside them. Each finished part is one row of a
SQLite history in the user's data folder; topics answered wrongly are drawn more often.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from i2dl.errors import NotFoundError, OutputError, UsageError
from i2dl.grade.manual import BLANK as BLANK_STATUS
from i2dl.grade.manual import MARKED as MARKED_STATUS
from i2dl.grade.manual import PENDING as PENDING_STATUS

DATA_ENV = "I2DL_DATA_DIR"
HISTORY_FILE = "history.sqlite3"
HISTORY_VERSION = 1
#: Practice always runs on the numpy engine: offline, and without importing torch.
ENGINE = "numpy"
#: The argument that practises the multiple-choice bank (weighted by its topics).
MCQ_WORD = "mcq"
STEPS_WORDS = ("?", "steps")
SKIP_WORDS = ("skip",)
QUIT_WORDS = ("quit", "exit")

# What a student is told about one answer (the grader's statuses, as practice reports them).
RIGHT, FOLLOW, PARTIAL, WRONG, INVALID, EMPTY, MANUAL = (
    "right", "follow-through", "partial", "wrong", "invalid", "empty", "manual")
SKIPPED = "skipped"
#: First-try outcomes that count as right in the history and its statistics.
COUNTS_RIGHT = (RIGHT, FOLLOW)


# ---------------------------------------------------------------------------- where the history lives


def data_dir(env: dict[str, str] | None = None) -> Path:
    """The user's i2dl data folder: $I2DL_DATA_DIR, else $XDG_DATA_HOME/i2dl, else ~/.local/share/i2dl."""
    env = os.environ if env is None else env
    if env.get(DATA_ENV):
        return Path(env[DATA_ENV]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]).expanduser() / "i2dl"
    return Path.home() / ".local" / "share" / "i2dl"


def history_path(env: dict[str, str] | None = None) -> Path:
    return data_dir(env) / HISTORY_FILE


_SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    topic TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    seed INTEGER NOT NULL,
    part TEXT NOT NULL,
    points REAL NOT NULL,
    score REAL NOT NULL,
    outcome TEXT NOT NULL,
    right INTEGER NOT NULL,
    tries INTEGER NOT NULL,
    steps INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    part_id INTEGER NOT NULL REFERENCES parts(id),
    blank TEXT NOT NULL,
    try INTEGER NOT NULL,
    answer TEXT NOT NULL,
    outcome TEXT NOT NULL,
    credit REAL NOT NULL,
    mistake TEXT
);
"""


@dataclass
class PartRecord:
    """One finished part as the history keeps it: the first try decides `outcome` and `right`."""

    topic: str
    item: str
    kind: str
    seed: int
    part: str
    points: float
    score: float
    outcome: str
    right: bool
    tries: int
    steps: bool
    at: str
    answers: list[dict[str, Any]] = field(default_factory=list)  # blank, try, answer, outcome, credit, mistake


class History:
    """The practice history: a SQLite file, one transaction per finished part."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else history_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            with self._db:
                self._db.executescript(_SCHEMA)
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    self._db.execute(f"PRAGMA user_version = {HISTORY_VERSION}")
                elif version > HISTORY_VERSION:
                    raise OutputError(f"the practice history was written by a newer i2dl (format {version})",
                                      where=str(self.path), fix="upgrade i2dl, or set I2DL_DATA_DIR to another folder")
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot open the practice history: {exc}", where=str(self.path),
                              fix=f"set {DATA_ENV} to a folder you can write") from None

    def record(self, rec: PartRecord) -> None:
        """Write one finished part and its answers in one transaction."""
        try:
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO parts (at, topic, item, kind, seed, part, points, score, outcome, right, tries, steps)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.at, rec.topic, rec.item, rec.kind, rec.seed, rec.part, rec.points, rec.score,
                     rec.outcome, int(rec.right), rec.tries, int(rec.steps)))
                self._db.executemany(
                    "INSERT INTO answers (part_id, blank, try, answer, outcome, credit, mistake)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(cur.lastrowid, a["blank"], a["try"], a["answer"], a["outcome"], a["credit"], a["mistake"])
                     for a in rec.answers])
        except sqlite3.Error as exc:
            raise OutputError(f"cannot write the practice history: {exc}", where=str(self.path),
                              fix=f"free some space, or set {DATA_ENV} to a folder you can write") from None

    def tallies(self) -> dict[str, tuple[int, int]]:
        """Topic -> (parts practised, parts right at the first try)."""
        rows = self._db.execute("SELECT topic, COUNT(*), SUM(right) FROM parts GROUP BY topic").fetchall()
        return {t: (int(n), int(r or 0)) for t, n, r in rows}

    def topic_stats(self) -> list[dict[str, Any]]:
        """Progress per topic: parts practised, share right at the first try, mean score, last practised."""
        rows = self._db.execute(
            "SELECT topic, COUNT(*), SUM(right), SUM(score), SUM(points), MAX(at), SUM(outcome = ?)"
            " FROM parts GROUP BY topic ORDER BY topic", (SKIPPED,)).fetchall()
        return [{"topic": t, "attempts": int(n), "right": int(r or 0), "share_right": (r or 0) / n,
                 "score_share": (s / p) if p else 0.0, "skipped": int(k or 0), "last": last}
                for t, n, r, s, p, last, k in rows]

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------------------- what can be practised


@dataclass(frozen=True)
class Item:
    """Something to practise: a problem spec or a bank question, with its topic."""

    kind: str  # "spec" or "mcq"
    id: str
    topic: str
    title: str


def catalogue(library: Any = None, bank: Any = None, *, questions: bool = True) -> list[Item]:
    """Every spec of the library and (unless `questions` is False) every question of the bank, by kind and id."""
    from i2dl.mcq import Bank
    from i2dl.spec.load import Library

    library = library or Library()
    specs = [Item("spec", sid, library.get(sid).spec.topic, library.get(sid).spec.title) for sid in library.ids()]
    if not questions:
        return specs
    bank = bank or Bank()
    return specs + [Item("mcq", q.qid, q.topic, q.question.id) for _, q in sorted(bank.questions.items())]


def resolve(target: str | None, items: list[Item]) -> list[Item]:
    """The items `target` names: none -> every spec, 'mcq' -> the bank, an id -> it, a topic -> its items."""
    if target is None or not target.strip():
        return [i for i in items if i.kind == "spec"]
    target = target.strip()
    if target == MCQ_WORD:
        return [i for i in items if i.kind == "mcq"]
    exact = [i for i in items if i.id == target or (i.kind == "mcq" and i.id.split(".")[-1] == target)]
    if exact:
        return exact[:1]
    topic = [i for i in items if i.topic == target]
    if topic:
        return topic
    import difflib

    names = sorted({i.topic for i in items} | {i.id for i in items if i.kind == "spec"})
    near = difflib.get_close_matches(target, names, n=3)
    raise NotFoundError(f"nothing to practise named '{target}'",
                        fix=(f"did you mean {', '.join(near)}? " if near else "")
                        + "give a spec id (`i2dl list`), a question id (`i2dl list --mcq`), a topic, or mcq; "
                        "topics: " + ", ".join(sorted({i.topic for i in items})))


def topic_weights(topics: list[str], tallies: dict[str, tuple[int, int]]) -> dict[str, float]:
    """w_t = (wrong_t + 1) / (n_t + 2): the mean error rate under a uniform prior (0.5 for a new topic)."""
    out = {}
    for t in sorted(set(topics)):
        n, right = tallies.get(t, (0, 0))
        out[t] = (n - right + 1) / (n + 2)
    return out


def draw(pool: list[Item], tallies: dict[str, tuple[int, int]], rng: np.random.Generator,
         avoid: Item | None = None) -> Item:
    """A topic drawn in proportion to its weight, then one of its items uniformly (not `avoid` if it has others)."""
    if not pool:
        raise NotFoundError("nothing to practise", fix="check the problem library: `i2dl list`")
    weights = topic_weights([i.topic for i in pool], tallies)
    topics = list(weights)
    p = np.array([weights[t] for t in topics], dtype=float)
    topic = topics[int(rng.choice(len(topics), p=p / p.sum()))]
    within = [i for i in pool if i.topic == topic and i != avoid] or [i for i in pool if i.topic == topic]
    return within[int(rng.integers(len(within)))]


def make_exam(item: Item, seed: int, *, library: Any = None, bank: Any = None) -> Any:
    """A one-problem exam holding a fresh instance of `item` (a spec's, or a bank question's variant)."""
    from i2dl.engine import get_engine
    from i2dl.exam.build import build_exam
    from i2dl.exam.model import Exam
    from i2dl.mcq import Bank, make_variant, variant_part
    from i2dl.spec.instance import ProblemInstance

    if item.kind == "spec":
        return build_exam(item.id, seed, engine_name=ENGINE, library=library, exam_id=f"practice-{item.id}")
    bank = bank or Bank()
    variant = make_variant(bank.get(item.id), seed, get_engine(ENGINE))
    part = variant_part(variant, "1.1", 1.0)
    prob = ProblemInstance(number=1, spec_id="mcq", title=f"Multiple choice: {item.topic}", topic=item.topic,
                           statement="Any number of the options may be correct, none or all of them: give the "
                           "letters of every correct one (none for no option).",
                           seed=seed, params={}, values={}, parts=[part], points=part.points, kind="mcq")
    return Exam(f"practice-{item.id}", prob.title, seed, item.id, "", [prob], engine=ENGINE)


def item_seed(seed: int, n: int) -> int:
    """The seed of the n-th problem of a session started with `seed`."""
    return int(np.random.SeedSequence([seed, n]).generate_state(1)[0])


# ---------------------------------------------------------------------------- one problem, part by part


@dataclass
class Question:
    """What the session asks now: one blank of one part."""

    part: str
    text: str
    points: float
    blank: str
    label: str
    form: str
    first_of_part: bool  # the part's text has not been shown yet
    blanks_in_part: int
    options: list[tuple[str, str]]
    retry: bool  # the last answer to this blank was not right: answer again, ask for the steps, or skip


@dataclass
class Verdict:
    """The grader's judgement of one answer, as practice tells it."""

    part: str
    blank: str
    label: str
    outcome: str  # right, follow-through, partial, wrong, invalid, empty, manual
    status: str  # the grader's own status ('' for an empty line)
    credit: float
    read: str
    expected: str  # shown once the blank is done with (right, or given up)
    feedback: str
    mistake: str | None
    again: bool  # the same blank is asked again, nothing counted (invalid, empty)
    retry: bool  # not right: a retry is offered

    @property
    def done(self) -> bool:
        return not self.again and not self.retry


@dataclass
class Reply:
    """The session's answer to one typed line: kind verdict, steps, skip, quit or done."""

    kind: str
    verdict: Verdict | None = None
    steps: dict[str, Any] | None = None
    expected: str = ""
    finished: list[PartRecord] = field(default_factory=list)  # parts this line finished (written to the history)


class Session:
    """One problem asked blank by blank; `handle(line)` feeds what the student typed and returns a Reply."""

    def __init__(self, exam: Any, item: Item, *, history: History | None = None,
                 clock: Callable[[], datetime] | None = None):
        from i2dl.grade.score import Grader

        self.exam, self.item, self.history = exam, item, history
        self.problem = exam.problems[0]
        self.seed = self.problem.seed
        self.grader = Grader(exam, ENGINE)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.queue = [(part, b) for part in self.problem.parts for b in part.blanks]
        self.pos = 0
        self.retrying = False
        self.answers: dict[str, dict[str, str]] = {}  # part -> blank -> the answer that stands now
        self.firsts: dict[str, dict[str, str]] = {}  # part -> blank -> the first graded answer
        self.tries: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.first_outcome: dict[tuple[str, str], str] = {}
        self.steps_before: set[str] = set()  # parts whose steps were shown before their first answer
        self.steps_seen: set[str] = set()
        self.records: list[PartRecord] = []
        self.introduced: set[str] = set()  # parts whose text has been shown
        self._closed = False

    # -- what is asked

    def intro(self) -> dict[str, Any]:
        """The problem as the sheet opens it: title, topic, statement and the rounding rule it is graded by."""
        from i2dl.rounding import rule_of

        rule = rule_of(self.exam.rounding)
        return {"title": self.problem.title, "item": self.item.id, "kind": self.item.kind, "topic": self.item.topic,
                "seed": self.seed, "statement": self.problem.statement, "points": self.problem.points,
                "rounding": rule.sentence() if rule is not None and self.item.kind == "spec" else ""}

    def score(self) -> tuple[float, float]:
        """(points at the first tries, points) over the parts finished so far."""
        return sum(r.score for r in self.records), sum(r.points for r in self.records)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.queue)

    def question(self) -> Question | None:
        """The blank asked now, or None when every part is done."""
        if self.done:
            return None
        from i2dl.export.answers import blank_form

        part, b = self.queue[self.pos]
        return Question(part.number, part.text, part.points, b.name, b.label,
                        blank_form(b.kind, b.expected, b.options, b.rounding), part.number not in self.introduced,
                        len(part.blanks), [(o.letter, o.text) for o in part.options], self.retrying)

    # -- what the student typed

    def handle(self, line: str) -> Reply:
        """One typed line: an answer, '?'/'steps', 'skip' or 'quit'."""
        if self._closed:
            raise UsageError("this practice session has ended")
        word = line.strip()
        if not self.done:
            self.introduced.add(self.queue[self.pos][0].number)  # its text was shown with this question
        if word.lower() in QUIT_WORDS:
            return Reply("quit", finished=self.close())
        if self.done:
            return Reply("done")
        if word.lower() in STEPS_WORDS:
            return Reply("steps", steps=self.steps())
        if word.lower() in SKIP_WORDS or (not word and self.retrying):
            return self.skip()
        verdict = self.answer(word)
        if not verdict.done:
            return Reply("verdict", verdict=verdict)
        return Reply("verdict", verdict=verdict, expected=verdict.expected, finished=self._advance())

    def answer(self, text: str) -> Verdict:
        """Grade `text` as the answer to the blank asked now (the session moves on only via handle)."""
        from i2dl.grade import score as sc

        part, b = self.queue[self.pos]
        if not text.strip():
            return Verdict(part.number, b.name, b.label, EMPTY, "", 0.0, "", "", "nothing typed: give an answer, "
                           "? for the worked steps, skip to go on, quit to stop", None, True, False)
        result = self._blank_result(part, b, text)
        outcome = _outcome(result)
        if outcome in (INVALID, EMPTY):  # unreadable, or read as no answer ('-' for a number): asked again
            return Verdict(part.number, b.name, b.label, outcome, result.status, 0.0, result.read, "",
                           result.feedback, None, True, False)
        self.answers.setdefault(part.number, {})[b.name] = text
        key = (part.number, b.name)
        tries = self.tries.setdefault(key, [])
        if not tries:
            self.firsts.setdefault(part.number, {})[b.name] = text
            self.first_outcome[key] = outcome
        mistake = result.alternative if result.status in (sc.WRONG, sc.ALTERNATIVE, sc.PARTIAL) else None
        feedback = result.feedback
        if part.options:
            mistake, feedback = _mcq_mistakes(part, result, feedback)
        tries.append({"blank": b.name, "try": len(tries) + 1, "answer": text, "outcome": outcome,
                      "credit": float(result.credit), "mistake": mistake})
        retry = outcome in (WRONG, PARTIAL)
        self.retrying = retry
        return Verdict(part.number, b.name, b.label, outcome, result.status, float(result.credit), result.read,
                       "" if retry else result.expected, feedback, mistake, False, retry)

    def skip(self) -> Reply:
        """Go on to the next blank; the key of the one left is shown."""
        part, b = self.queue[self.pos]
        expected = self._expected(part, b)
        self.retrying = False
        return Reply("skip", expected=expected, finished=self._advance())

    def steps(self) -> dict[str, Any]:
        """The worked steps of the part asked now (or the last one), with the student's values beside them."""
        from i2dl.explain import explain_part

        part = self.queue[min(self.pos, len(self.queue) - 1)][0]
        if part.number not in self.firsts:
            self.steps_before.add(part.number)
        self.steps_seen.add(part.number)
        return explain_part(self.exam, part.number, engine_name=ENGINE, graded=self._graded(self.answers))

    def close(self) -> list[PartRecord]:
        """End the session: a part answered in part is recorded with the blanks answered."""
        if self._closed:
            return []
        self._closed = True
        if self.done:
            return []
        part = self.queue[self.pos][0]
        return [self._finish(part, ended=True)] if part.number in self.firsts else []

    # -- inside

    def _submission(self, answers: dict[str, dict[str, str]]) -> Any:
        from i2dl.grade.score import read_submission

        data = {"exam": self.exam.exam_id, "student_id": "practice", "answers": {k: dict(v) for k, v in answers.items()}}
        return read_submission(data, "practice", self.exam.exam_id)

    def _graded(self, answers: dict[str, dict[str, str]]) -> Any:
        return self.grader.grade(self._submission(answers))

    def _blank_result(self, part: Any, b: Any, text: str) -> Any:
        answers = {k: dict(v) for k, v in self.answers.items()}
        answers.setdefault(part.number, {})[b.name] = text
        result = self._graded(answers)
        pr = next(p for p in result.parts if p.number == part.number)
        return next(br for br in pr.blanks if br.name == b.name)

    def _expected(self, part: Any, b: Any) -> str:
        from i2dl import kinds

        return kinds.get(b.kind).format(b.expected)

    def _advance(self) -> list[PartRecord]:
        """Move to the next blank; a part whose last blank is done is written to the history."""
        part = self.queue[self.pos][0]
        self.pos += 1
        self.retrying = False
        if self.done or self.queue[self.pos][0] is not part:
            return [self._finish(part)]
        return []

    def _finish(self, part: Any, ended: bool = False) -> PartRecord:
        """The part's record: its score at the first tries (later parts as they stand), written at once.

        A part the session `ended` inside is judged on the blanks answered before the end.
        """
        firsts = self.firsts.get(part.number, {})
        outcomes = [self.first_outcome.get((part.number, b.name), SKIPPED) for b in part.blanks
                    if not ended or b.name in firsts]
        score = 0.0
        if firsts:
            answers = {k: dict(v) for k, v in self.answers.items()}
            answers[part.number] = dict(firsts)
            graded = self._graded(answers)
            score = next(p.score for p in graded.parts if p.number == part.number)
        outcomes = [o for o in outcomes if o != MANUAL] or [MANUAL]  # free text is judged by a person, not here
        answered = [o for o in outcomes if o != SKIPPED]
        if outcomes == [MANUAL]:
            outcome = MANUAL
        elif not answered:
            outcome = SKIPPED
        elif all(o == RIGHT for o in outcomes):
            outcome = RIGHT
        elif all(o in COUNTS_RIGHT for o in outcomes):
            outcome = FOLLOW
        elif score > 0:
            outcome = PARTIAL
        else:
            outcome = WRONG
        right = outcome in COUNTS_RIGHT and part.number not in self.steps_before
        rows = [t for b in part.blanks for t in self.tries.get((part.number, b.name), [])]
        rec = PartRecord(self.item.topic, self.item.id, self.item.kind, int(self.seed), part.number,
                         float(part.points), float(score), outcome, right,
                         max((len(self.tries.get((part.number, b.name), [])) for b in part.blanks), default=0),
                         part.number in self.steps_seen, self.clock().isoformat(timespec="seconds"), rows)
        if self.history is not None:
            self.history.record(rec)
        self.records.append(rec)
        return rec


def _outcome(result: Any) -> str:
    from i2dl.grade import score as sc

    if result.status == sc.INVALID:
        return INVALID
    if result.status == sc.CORRECT:
        return RIGHT
    if result.status == sc.FOLLOW:
        return FOLLOW
    if result.status in (PENDING_STATUS, MARKED_STATUS, BLANK_STATUS):  # written text: a person judges it
        return MANUAL
    if result.status == sc.MISSING:
        return EMPTY
    if result.status == sc.ALTERNATIVE and result.credit >= 1.0:
        return RIGHT  # an accepted variant the rubric gives full credit
    return PARTIAL if result.credit > 0 else WRONG


def _mcq_mistakes(part: Any, result: Any, feedback: str) -> tuple[str | None, str]:
    """For a bank question: the named mistakes behind the wrong options chosen, and how many are misjudged.

    Which options are misjudged, and why, is left to the worked steps: saying it here would give the retry away.
    """
    chosen = result.value or frozenset()
    wrong = [o for o in part.options if (o.letter in chosen) != o.correct]
    named = [o.mistake for o in wrong if o.mistake and o.letter in chosen]
    count = f"{len(wrong)} of {len(part.options)} options judged wrong" if wrong else ""
    return (", ".join(named) or None), "; ".join(f for f in [feedback, count] if f)


# ---------------------------------------------------------------------------- a practice run


class Practice:
    """A run of problems: each drawn from the target (weighted by the history), one Session at a time."""

    def __init__(self, target: str | None = None, seed: int | None = None, *, history: History | None = None,
                 library: Any = None, bank: Any = None, clock: Callable[[], datetime] | None = None):
        from i2dl.exam.build import fresh_seed
        from i2dl.spec.load import Library

        self.library, self.bank = library or Library(), bank
        specs_only = target is None or target in self.library.paths  # the bank is not read for nothing
        self.pool = resolve(target, catalogue(self.library, self.bank, questions=not specs_only))
        self.seed = fresh_seed() if seed is None else int(seed)
        self.history, self.clock = history, clock
        self.count = 0
        self.last: Item | None = None  # the item practised last: not drawn twice in a row when there are others

    def next_item(self) -> tuple[Item, int]:
        """The next item and its instance seed: topic by weight (from the history as it is now), then item."""
        rng = np.random.default_rng(item_seed(self.seed, self.count))
        tallies = self.history.tallies() if self.history is not None else {}
        item = draw(self.pool, tallies, rng, avoid=self.last)
        self.count += 1
        self.last = item
        return item, int(rng.integers(0, 2**31))

    def next_session(self) -> Session:
        """The next problem as a Session, a fresh instance of the next item."""
        item, seed = self.next_item()
        return Session(make_exam(item, seed, library=self.library, bank=self.bank), item, history=self.history,
                       clock=self.clock)
