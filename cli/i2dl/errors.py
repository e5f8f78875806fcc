"""Typed errors: every failure the user can cause says where, what was expected and how to fix it."""

from __future__ import annotations


class I2dlError(Exception):
    """Base of every error the CLI turns into a message and an exit code."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class UsageError(I2dlError):
    """A command-line argument or option is wrong."""

    exit_code = 2


class NotFoundError(I2dlError):
    """A spec, problem number, exam folder or file does not exist, or a folder holds no answer files."""

    exit_code = 3


class SpecError(I2dlError):
    """A problem spec, rubric or blueprint breaks its schema."""

    exit_code = 4


class ExprError(I2dlError):
    """An expression cannot be parsed or evaluated."""

    exit_code = 4


class BudgetError(ExprError):
    """An expression would build a value larger than the evaluation budget allows."""


class SamplingError(I2dlError):
    """No instance met the spec's constraints within the retry budget."""

    exit_code = 5


class SamplingTimeout(SamplingError):
    """Sampling a spec ran longer than its wall-clock budget."""


class EngineError(I2dlError):
    """An engine operation got arguments it cannot work with."""

    exit_code = 6

    def __init__(self, op: str, arg: str, message: str, *, shapes: dict | None = None):
        detail = f"{op}: argument '{arg}': {message}"
        if shapes:
            detail += " (shapes: " + ", ".join(f"{k}={tuple(v)}" for k, v in shapes.items()) + ")"
        super().__init__(detail)
        self.op = op
        self.arg = arg
        self.shapes = shapes or {}


class EngineUnavailable(I2dlError):
    """The requested engine cannot be loaded (torch not installed)."""

    exit_code = 7


class AnswerParseError(I2dlError):
    """A student's answer cannot be read: invalid, which is not the same as wrong."""

    exit_code = 8


class ExamError(SpecError):
    """An exam's data file (exam.json) is malformed, of an unknown format, or inconsistent."""


class ExamModifiedError(ExamError):
    """exam.json no longer matches the digest written with it: it was edited after generation."""


class SubmissionError(I2dlError):
    """A submission file cannot be graded as a whole."""

    exit_code = 9


class GradingIncomplete(I2dlError):
    """Some answer files could not be graded; the others were, and their results were written."""

    exit_code = 10


class OutputError(I2dlError):
    """The results folder cannot be written (a file, read-only, full disk); earlier results are kept."""

    exit_code = 11


#: What every exit code means: (short form for `i2dl --help`, the README's wording). The README's
#: "Exit codes" table and the --help text are made from this; a test checks both.
EXIT_CODES: dict[int, tuple[str, str]] = {
    0: ("success", "success (for `grade`: every submission was graded)"),
    1: ("error", "an error without a more specific class; also an unexpected internal error (a bug: please "
                 "report it)"),
    2: ("wrong argument or option", "a wrong argument or option (e.g. a FIFO or `/dev/null` given to `grade`, "
                                    "an unknown `--id-case`)"),
    3: ("not found", "a spec, problem, exam folder or file does not exist, or a folder holds no answer files "
                     "or responses"),
    4: ("invalid spec, rubric, blueprint or exam", "a spec, rubric, blueprint or exam file breaks its schema; an "
        "expression cannot be parsed or evaluated, or exceeds a size or time budget; an exam.json is malformed, "
        "or was modified after `generate` (`--accept-modified` grades it anyway); `validate` exits 4 when it "
        "found errors"),
    5: ("sampling failed", "no instance met the spec's constraints within the retry budget, or within the "
                           "sampling time budget"),
    6: ("engine argument error", "an engine operation got arguments it cannot work with"),
    7: ("engine unavailable", "the requested engine cannot be loaded (torch not installed)"),
    8: ("unreadable answer", "a student's answer cannot be read (inside `grade` this is an invalid blank, "
                             "never an exit)"),
    9: ("submission not gradable", "an answer file or responses row cannot be graded as a whole (inside "
                                   "`grade` it is listed as not graded)"),
    10: ("some submissions not graded", "`grade`: some submissions could not be graded (an unreadable file, an "
         "empty `student_id`, a file or row for another exam, a malformed CSV row, an id given twice, an id not "
         "on a cohort's roster): each is a 'not graded' line, and each roster student who handed nothing in a "
         "'no submission' line; the others were graded and their results written"),
    11: ("results not written", "`grade`: the results folder cannot be written (a file, read-only, full disk); "
                                "the earlier results are unchanged; `practice`: the history in the data folder "
                                "cannot be opened or written"),
}


def error_classes() -> list[type[I2dlError]]:
    """Every error class of this module, by name."""
    found, todo = [], [I2dlError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted({c for c in found if c.__module__ == __name__}, key=lambda c: c.__name__)


def _classes_by_code() -> dict[int, list[str]]:
    by_code: dict[int, list[str]] = {}
    for cls in sorted(error_classes(), key=lambda c: (len(c.__mro__), c.__name__)):  # base classes first
        by_code.setdefault(cls.exit_code, []).append(cls.__name__)
    return by_code


def exit_codes_markdown() -> str:
    """The README's exit code table: code, error classes, meaning."""
    by_code = _classes_by_code()
    lines = ["| code | error class | meaning |", "|---|---|---|"]
    for code, (_, meaning) in sorted(EXIT_CODES.items()):
        classes = ", ".join(f"`{n}`" for n in by_code.get(code, []))
        lines.append(f"| {code} | {classes} | {meaning} |")
    return "\n".join(lines) + "\n"


def exit_codes_help() -> str:
    """The exit codes as `i2dl --help` lists them, one line each."""
    return "\n".join(f"  {code:>2}  {short}" for code, (short, _) in sorted(EXIT_CODES.items()))
