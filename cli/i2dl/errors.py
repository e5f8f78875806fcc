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
