"""The command line: parse, call one library function, render with rich. Nothing else lives here.

Start-up is part of every command's time, so this module imports only typer and i2dl.errors: each
command imports the library (and numpy, rich, ...) inside its own function, and prints through
_console() and _table(), which import rich when first called. `i2dl --help` loads no more than that.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from i2dl import __version__
from i2dl.errors import I2dlError, UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

ENGINE_HELP = "Engine: auto (torch when installed), torch or numpy. Also $I2DL_ENGINE."


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Built per call so CliRunner's captured streams, NO_COLOR and COLUMNS are honoured.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 120
    return Console(stderr=stderr, highlight=False, soft_wrap=True, no_color="NO_COLOR" in os.environ, width=width)


def _table(*columns: str, **kw: Any) -> Table:
    """A rich table whose cells wrap (and fold long words) instead of being cut off with an ellipsis."""
    from rich.table import Column, Table

    return Table(*(Column(c, overflow="fold") for c in columns), **kw)


JSON_HELP = "Print JSON for scripts (nothing else on stdout; errors too, as {\"error\": ...})."


def _json_mode(ctx: typer.Context, on: bool) -> bool:
    """Remember that this command answers in JSON, so that an error is printed as JSON too."""
    if on and isinstance(ctx.obj, dict):
        ctx.obj["json"] = True
    return on


def _emit_json(ctx: typer.Context | None, data: Any) -> None:
    """The one JSON writer of every command: plain data, indented, keys in the order built."""
    import json

    from i2dl.io import to_plain

    typer.echo(json.dumps(to_plain(data), indent=1, ensure_ascii=False, default=str))
    if ctx is not None and isinstance(ctx.obj, dict):
        ctx.obj["json_done"] = True


class _Group(TyperGroup):
    """Turns every typed i2dl error into one clear message and its exit code: the one place."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except I2dlError as exc:
            obj = ctx.obj if isinstance(ctx.obj, dict) else {}
            if obj.get("json") and not obj.get("json_done"):
                _emit_json(None, {"error": {"type": type(exc).__name__, "exit_code": exc.exit_code,
                                            "where": exc.where, "message": exc.message, "fix": exc.fix}})
            err = _console(stderr=True)
            err.print(f"[bold red]error:[/] {_escape(str(exc.where) + ': ' if exc.where else '')}"
                      f"{_escape(exc.message)}")
            if exc.fix:
                err.print(f"[yellow]fix:[/] {_escape(exc.fix)}")
            raise typer.Exit(exc.exit_code) from None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's first sentence in full, wrapped: click's default cuts it off with "...".
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _epilog() -> str:
    from i2dl.errors import exit_codes_help

    # \b keeps click from re-flowing the lines of the table.
    return "\b\nExit codes (README, 'Exit codes'):\n" + exit_codes_help()


app = typer.Typer(cls=_Group, no_args_is_help=True, add_completion=True, rich_markup_mode=None,
                  pretty_exceptions_show_locals=False, epilog=_epilog(),
                  help="i2dl: generate, key, grade and explain deep learning exam problems.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"i2dl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    engine: str = typer.Option(None, "--engine", envvar="I2DL_ENGINE", help=ENGINE_HELP),
    course: Path | None = typer.Option(None, "--course", help="The course folder (default: the folder holding "
                                       "i2dl.toml, from here upwards; none: the shipped library alone)."),
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """i2dl: generate, key, grade and explain hand-computable deep learning exam problems."""
    if engine is not None:
        from i2dl.engine import resolve_name

        try:
            resolve_name(engine)
        except I2dlError as exc:
            _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
    if any(os.environ.get(v) for v in ("I2DL_MAX_ELEMENTS", "I2DL_MAX_STRING", "I2DL_MAX_DIGITS",
                                        "I2DL_SAMPLING_SECONDS")):
        from i2dl.limits import Budget

        try:
            Budget.from_env()  # a bad budget is one usage error now, not one per graded file later
        except I2dlError as exc:
            _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
    from i2dl.course import find_course, load_course, set_course

    try:
        found = load_course(course) if course is not None else find_course()
    except I2dlError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None
    set_course(found)  # every library lookup of this run: the course's files first, then the shipped ones
    if found is not None and ctx.invoked_subcommand != "validate":  # validate reports it among the rest
        from i2dl.spec.load import check_library_ids

        try:
            check_library_ids()
        except I2dlError as exc:
            _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
    if engine is None and found is not None and found.config.engine not in (None, "auto"):
        engine = found.config.engine
    ctx.obj = {"engine": engine, "course": found}


def _engine(ctx: typer.Context) -> str | None:
    return (ctx.obj or {}).get("engine")


@app.command()
def init(
    folder: Path = typer.Argument(..., help="The course folder to create."),
    title: str | None = typer.Option(None, "--title", help="The course title (default: the folder name)."),
    term: str = typer.Option("", "--term", help="The term, e.g. 'WS 2026' (part of cohort exam ids)."),
) -> None:
    """Create a course: i2dl.toml, its own problems/ and rubrics/, an example roster, a secret, a .gitignore.

    Example: i2dl init dl-course --title "Introduction to Deep Learning" --term "WS 2026"
    """
    from i2dl.course import SECRET_ENV, SECRET_FILE, init_course

    result = init_course(folder, title=title, term=term)
    con = _console()
    con.print(f"course [bold]{_escape(result['title'])}[/] in {_escape(result['course'])}")
    for f in result["files"]:
        con.print(f"  {_escape(f)}")
    con.print(f"Keep {SECRET_FILE} private and backed up: it derives every student's variant "
              f"(or set {SECRET_ENV} instead). .gitignore keeps it out of version control.")


def _pins(params: list[str]) -> dict[str, Any]:
    from i2dl.spec.instance import parse_pin

    return dict(parse_pin(p) for p in params)


@app.command()
def generate(
    ctx: typer.Context,
    source: str | None = typer.Argument(None, help="A blueprint name or path, or a single spec id "
                                        "(default: the course's blueprint, else 'default')."),
    seed: int | None = typer.Option(None, "--seed", help="Seed; a fresh one is drawn and printed if omitted."),
    out: Path = typer.Option(Path("exam"), "--out", help="Folder to write the exam into."),
    param: list[str] = typer.Option([], "--param", help="Pin a parameter of a single spec: name=value."),
    roster: Path | None = typer.Option(None, "--roster", help="A roster CSV (student_id, name): a variant per "
                                       "student, seeded from the course secret."),
    exam_id: str | None = typer.Option(None, "--exam-id", help="The exam's id (default: blueprint and a tag; "
                                       "for a roster: blueprint and the course's term)."),
    force: bool = typer.Option(False, "--force", help="Replace an exam already in --out."),
    fmt: list[str] = typer.Option([], "--format", help="Formats to write, repeatable: markdown, pdf (default: both)."),
    count: int | None = typer.Option(None, "--count", min=1, help="For a single spec: this many instances, seeds "
                                     "--seed, --seed + 1, ..., as one instances.jsonl in --out (one JSON line each)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate an exam: sheet and key (Markdown and PDF), blank answer file, responses CSV template and instance data; with --roster, a whole cohort.

    Example: i2dl generate --seed 7   |   i2dl generate conv2d-by-hand --param stride=2   |
    i2dl generate --roster roster.csv --out exams/endterm   |   i2dl generate conv2d-by-hand --count 1000 --seed 0
    """
    from i2dl.generate import generate_exam

    _json_mode(ctx, as_json)
    result = generate_exam(source, seed, out, pins=_pins(param), engine_name=_engine(ctx), roster=roster,
                           exam_id=exam_id, force=force, formats=fmt or None, count=count)
    if as_json:
        _emit_json(ctx, result)
        return
    con = _console()
    if result.get("instances"):
        con.print(f"[bold]{_escape(result['title'])}[/]  {result['instances']:,} instances, seeds "
                  f"[cyan]{result['seed']}[/] to [cyan]{result['seed'] + result['instances'] - 1}[/]  "
                  f"engine {result['engine']}")
        for kind, path in result["files"].items():
            con.print(f"  {kind:9} {_escape(path)}")
        return
    who = (f"{result['students']} students" if result["students"] else f"seed [cyan]{result['seed']}[/]")
    con.print(f"[bold]{_escape(result['title'])}[/]  exam [cyan]{result['exam_id']}[/]  "
              f"{who}  {result['points']:g} points  engine {result['engine']}")
    table = _table("problem", "title", "spec", "parts", "points")
    for p in result["problems"]:
        table.add_row(str(p["number"]), _escape(p["title"]), p["spec"], str(p["parts"]), f"{p['points']:g}")
    con.print(table)
    for kind, path in result["files"].items():
        con.print(f"  {kind:9} {_escape(path)}")
    for w in result["warnings"]:
        con.print(f"[yellow]warning:[/] {_escape(w)}")


@app.command()
def export(
    ctx: typer.Context,
    fmt: str = typer.Argument(..., metavar="FORMAT", help="moodle (Moodle XML), qti (a QTI 2.1 package), or a "
                              "sheet format (pdf, markdown) to re-render an exam folder."),
    source: str = typer.Argument("exam", help="An exam folder, or (moodle, qti) a spec or blueprint to make "
                                 "a fresh exam of."),
    variants: int = typer.Option(10, "--variants", help="Variants per problem (per multiple-choice question) "
                                 "in the LMS's question bank; the exam's own is the first."),
    out: Path | None = typer.Option(None, "--out", help="Folder to write into (default: the exam folder, or "
                                    "'lms' for a spec)."),
    seed: int = typer.Option(0, "--seed", help="The seed of the fresh exam when SOURCE is a spec or blueprint."),
    all_or_nothing: bool = typer.Option(False, "--all-or-nothing", help="moodle: multiple-choice questions with "
                                        "several correct options graded all-or-nothing, as qtype_multichoiceset "
                                        "(a Moodle plugin) does; without it, shares per option."),
    accept_modified: bool = typer.Option(False, "--accept-modified", help="Export an exam.json edited after "
                                         "generation."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Export an exam: its variant pool as a Moodle XML question bank or a QTI 2.1 package, or its sheets and keys again (pdf, markdown; a cohort: every student's).

    Example: i2dl export pdf exam   |   i2dl export moodle exam --variants 20   |   i2dl export qti conv2d-by-hand --variants 50 --out lms
    """
    from i2dl.errors import UsageError
    from i2dl.lms import LMS_FORMATS, export_lms

    _json_mode(ctx, as_json)
    if fmt in LMS_FORMATS:
        target = out or (Path(source) if (Path(source) / "exam.json").is_file() else Path("lms"))
        result = export_lms(fmt, source, target, variants=variants, seed=seed, engine_name=_engine(ctx),
                            all_or_nothing=all_or_nothing)
    else:
        from i2dl.export import export_exam
        from i2dl.io import display_path

        if out is not None:
            raise UsageError("--out is for the LMS formats; sheets are re-rendered into their exam folder",
                             fix=f"i2dl export {fmt} {source}")
        files = export_exam(fmt, Path(source), accept_modified=accept_modified)
        result = {"format": fmt, "files": {k: display_path(v) for k, v in files.items()}}
    if as_json:
        _emit_json(ctx, result)
        return
    con = _console()
    if fmt in LMS_FORMATS:
        table = _table("slot", "title", "variants", "points")
        for c in result["categories"]:
            table.add_row(c["slot"], _escape(c["title"]), str(c["variants"]), f"{c['points']:g}")
        con.print(table)
        con.print(f"{result['questions']} questions in {len(result['categories'])} categories: "
                  f"{_escape(result['file'])}")
        for note in result["notes"]:
            con.print(f"[yellow]not in the LMS:[/] {_escape(note)}")
    else:
        for kind, path in result["files"].items():
            con.print(f"  {kind:9} {_escape(path)}")


@app.command()
def solve(
    ctx: typer.Context,
    spec: str = typer.Argument(..., help="Spec id (see `i2dl list`), a bank question (mcq.TOPIC.ID) or a spec file."),
    param: list[str] = typer.Option([], "--param", help="Pin a parameter: name=value (matrices as [[1,2],[3,4]])."),
    seed: int = typer.Option(0, "--seed", help="Seed for the parameters that are not pinned."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Answer every part of a spec for explicit numbers.

    Example: i2dl solve conv2d-by-hand --param X="[[1,2],[3,4]]" --param K="[[1,0],[0,1]]"
    (a computed question of the bank too: i2dl solve mcq.cnn.pool-output-size --param n=20)
    """
    from i2dl.generate import solve_spec

    _json_mode(ctx, as_json)
    result = solve_spec(spec, _pins(param), seed=seed, engine_name=_engine(ctx))
    if as_json:
        _emit_json(ctx, result)
        return
    con = _console()
    con.print(f"[bold]{_escape(result['title'])}[/] ({result['spec']}, engine {result['engine']})")
    params = _table("parameter", "value", title="parameters")
    for k, v in result["params"].items():
        params.add_row(k, _escape(_short(v)))
    con.print(params)
    answers = _table("part", "answer", "value", title="answers")
    for part in result["parts"]:
        for b in part["blanks"]:
            answers.add_row(part["number"], _escape(b["label"]), _escape(_short(b["value"])))
    con.print(answers)
    for part in result["parts"]:  # multiple choice and property questions: each statement, judged
        for o in part.get("options", []):
            con.print(f"  {part['number']} {o['letter']} {'true ' if o['correct'] else 'false'}  {_escape(o['text'])}")
    for w in result["warnings"]:
        con.print(f"[yellow]warning:[/] {_escape(w)}")


def _short(v: Any) -> str:
    import numpy as np

    from i2dl.render import fmt_grid, fmt_value

    if isinstance(v, list) and v and isinstance(v[0], list) and np.asarray(v).ndim == 2:
        return fmt_grid(np.asarray(v))
    return fmt_value(v) if not isinstance(v, str) else v


@app.command("list")
def list_(
    ctx: typer.Context,
    spec: str | None = typer.Argument(None, help="A spec id (or bank question mcq.TOPIC.ID): list every name `solve --param` pins in it."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    mcq: bool = typer.Option(False, "--mcq", help="List the multiple-choice bank instead."),
    short: bool = typer.Option(False, "--short", help="List the short-answer bank instead."),
) -> None:
    """List the problem specs (or the multiple-choice or short-answer bank), or the pinnable names of one spec.

    Example: i2dl list --short   |   i2dl list conv1d-backprop
    """
    from i2dl.generate import list_bank, list_short, list_specs, spec_names

    _json_mode(ctx, as_json)
    if spec is not None:
        info = spec_names(spec)
        if as_json:
            _emit_json(ctx, info)
            return
        table = _table("name", "role", "type", "shape", "accepts", title=f"{info['id']}: {_escape(info['title'])}")
        for r in info["names"]:
            table.add_row(r["name"], r["role"], r["type"], "x".join(map(str, r["shape"])) if r["shape"] else "",
                          _escape(r["accepts"]))
        _console().print(table)
        return
    rows = list_short() if short else list_bank() if mcq else list_specs()
    if as_json:
        _emit_json(ctx, rows)
        return
    con = _console()
    if short:
        table = _table("id", "topic", "points", "lines", "items", "question", title=f"{len(rows)} questions")
        for r in rows:
            table.add_row(r["id"], r["topic"], f"{r['points']:g}", str(r["lines"]), str(r["items"]),
                          _escape(r["question"][:60] + ("..." if len(r["question"]) > 60 else "")))
    elif mcq:
        table = _table("id", "topic", "difficulty", "options", "computed", title=f"{len(rows)} questions")
        for r in rows:
            table.add_row(r["id"], r["topic"], str(r["difficulty"]), str(r["options"]),
                          "yes" if r["parameterized"] else "")
    else:
        table = _table("id", "topic", "title", "parts", "points", "parameters", title=f"{len(rows)} specs")
        for r in rows:
            table.add_row(r["id"], r["topic"], _escape(r["title"]), str(r["parts"]), f"{r['points']:g}",
                          ", ".join(r["params"]))
    con.print(table)


def _progress_console() -> Console | None:
    """A console on stderr for progress bars, only when stderr is a terminal (never in pipes or logs)."""
    return _console(stderr=True) if sys.stderr.isatty() else None


@contextmanager
def _stress_progress(console: Console | None) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing one transient bar per stress-tested file on `console` (None: no bar)."""
    if console is None:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("stress test {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                for t in tasks.values():
                    bar.remove_task(t)  # one line at a time: the file being sampled now
                tasks.clear()
                tasks[label] = bar.add_task(_escape(Path(label).name), total=total)
            bar.update(tasks[label], completed=done)

        yield update


@app.command()
def validate(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Spec, rubric, blueprint or bank files or folders (default: all shipped)."),
    samples: int = typer.Option(200, "--samples", help="Seeds to sample per spec in the stress test (0 to skip)."),
    class_size: int = typer.Option(300, "--class-size", min=2,
                                   help="Students per class for the collision figure: pairs expected to share an instance."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check specs, rubrics, blueprints and the question bank; stress-test each spec over many seeds.

    Each spec's report gives its distinct instances among the samples and, for a class of
    --class-size students, the pairs expected to share an instance.

    Example: i2dl validate problems/specs/conv2d-by-hand.yaml --samples 2000 --class-size 120
    """
    from i2dl.validate import validate_paths

    _json_mode(ctx, as_json)
    with _stress_progress(_progress_console()) as progress:
        report = validate_paths(paths or [], samples=samples, engine_name=_engine(ctx), progress=progress,
                                class_size=class_size)
    n_err = sum(len(r["errors"]) for r in report["files"])
    if as_json:
        _emit_json(ctx, {**report, "errors": n_err, "exit_code": 4 if n_err else 0})
        if n_err:
            raise typer.Exit(4)
        return
    con = _console()
    table = _table("file", "kind", "status", "tries/instance", "notes")
    for r in report["files"]:
        status = "[green]ok[/]" if r["ok"] else "[red]error[/]"
        table.add_row(_escape(r["path"]), r["kind"], status,
                      f"{r['tries_per_instance']:.2f}" if r.get("tries_per_instance") else "",
                      _escape("; ".join(r["notes"])))
    con.print(table)
    for r in report["files"]:
        for e in r["errors"]:
            con.print(f"[red]error:[/] {_escape(e)}")
        for w in r["warnings"]:
            con.print(f"[yellow]warning:[/] {_escape(w)}")
    con.print(f"{len(report['files'])} files, {n_err} errors, "
              f"{sum(len(r['warnings']) for r in report['files'])} warnings")
    if n_err:
        raise typer.Exit(4)


#: Without a terminal on stderr, a plain progress line this often (a long run is not silent).
PROGRESS_EVERY_SECONDS = 10.0


class _Progress:
    """Grading progress on stderr: a rich bar on a terminal, else a plain line every few seconds."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._start = self._last = self._clock()
        self._bar: Any = None
        self._task: Any = None
        self._tty = sys.stderr.isatty()

    def update(self, done: int, total: int) -> None:
        if total < 2:
            return
        if self._tty:
            if self._bar is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=_console(stderr=True), transient=True)
                self._bar.start()
                self._task = self._bar.add_task("grading", total=total)
            self._bar.update(self._task, completed=done)
            return
        now = self._clock()
        if now - self._last >= PROGRESS_EVERY_SECONDS or (done == total and now - self._start >= PROGRESS_EVERY_SECONDS):
            self._last = now
            typer.echo(f"grading: {done:,} of {total:,} submissions ({100 * done // total}%), "
                       f"{now - self._start:.0f} s",
                       err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


#: Beyond this many students, the report gives totals and problems only; --details lists them all.
SCREENFUL = 20


@app.command()
def grade(
    ctx: typer.Context,
    submissions: Path | None = typer.Argument(None, help="A folder of answer files (YAML or JSON) and/or responses "
                                              "CSVs, or one such file."),
    responses: Path | None = typer.Option(None, "--responses", help="A responses CSV to grade: i2dl's own layout, "
                                          "Moodle's quiz Responses report or Canvas's Student Analysis (the LMS's "
                                          "points are compared with i2dl's)."),
    exam: Path = typer.Option(Path("exam"), "--exam", help="The exam folder written by `i2dl generate`."),
    out: Path = typer.Option(Path("results"), "--out", help="The results folder (scores.csv, gradebook.csv, "
                             "summary.json, feedback/, manifest.json); replaced as a whole."),
    id_case: str = typer.Option("insensitive", "--id-case", help="Student ids that differ only in case are one "
                                "student (insensitive, reported as a collision) or two (sensitive)."),
    id_column: str | None = typer.Option(
        None, "--id-column", help="The LMS's name of the student id column (e.g. 'ID number' for Moodle, "
        "'SIS User ID' for Canvas): read from responses CSVs besides student_id, and gradebook.csv's first column."),
    details: bool = typer.Option(False, "--details", help=f"List every student and the mean per part (beyond "
                                 f"{SCREENFUL} students the report shows totals and problems only)."),
    accept_modified: bool = typer.Option(
        False, "--accept-modified", help="Grade with an exam.json edited after generation (recorded in summary.json)."),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help="Worker processes (default: one per core); the "
                                    "results are the same as with --jobs 1, byte for byte."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Grade answer files and responses CSVs with partial credit, tolerant numbers and follow-through credit.

    Example: i2dl grade submissions/ --exam exam/ --jobs 2   |   i2dl grade --responses moodle-responses.csv --exam exam/
    """
    from i2dl.errors import GradingIncomplete, UsageError
    from i2dl.exam import load_exam
    from i2dl.grade.batch import feedback_markdown, grade_folder, summary_data
    from i2dl.io import display_path
    from i2dl.review.store import read_item_points, read_marks

    _json_mode(ctx, as_json)
    if (submissions is None) == (responses is None):
        raise UsageError("give the submissions to grade: a folder or file, or --responses FILE (one of the two)",
                         fix="e.g. i2dl grade submissions/   or   i2dl grade --responses responses.csv")
    submissions = submissions or responses
    # Loaded (and checked) before any grading, so that its warnings come first.
    for w in load_exam(exam, accept_modified=accept_modified).warnings:
        _console(stderr=True).print(f"[yellow]warning:[/] {_escape(w)}")
    single: list[Any] = []
    progress = _Progress()

    def observe(done: int, total: int, result: Any) -> None:
        progress.update(done, total)
        if total == 1 and result is not None:
            single.append(result)

    try:
        # The TAs' marks of free-text answers (i2dl review) live in the results folder being replaced.
        batch = grade_folder(submissions, exam_dir=exam, out=out, engine_name=_engine(ctx), id_case=id_case,
                             observe=observe, accept_modified=accept_modified, id_column=id_column, jobs=jobs,
                             marks=read_marks(out), item_points=read_item_points(out))
    finally:
        progress.close()
    written = f" and written to {display_path(out)}" if batch.files else ""
    incomplete = None
    if batch.failed:
        total = len(batch.failed) + len(batch.students)
        incomplete = GradingIncomplete(f"{len(batch.failed)} of {total} submissions could not be graded"
                                       + (f"; {len(batch.missing)} roster students have no submission"
                                          if batch.missing else ""),
                                       fix="see the 'not graded' lines; the others were graded" + written)
    elif batch.missing:
        incomplete = GradingIncomplete(f"{len(batch.missing)} of {len(batch.exam.roster)} roster students have no "
                                       "submission", fix="see the 'no submission' lines; everyone else was graded"
                                       + written)
    for change in batch.spec_changes:
        _console(stderr=True).print(f"[yellow]notice:[/] {_escape(change['note'])}")
    if as_json:
        data = summary_data(batch, batch.exam)
        data["files"] = batch.files
        data["exit_code"] = incomplete.exit_code if incomplete else 0
        _emit_json(ctx, data)
    else:
        con = _console()
        if submissions.is_file() and submissions.suffix.lower() != ".csv" and single:
            from rich.markdown import Markdown

            con.print(Markdown(feedback_markdown(single[0], batch.exam)))
        else:
            _print_batch(con, batch, batch.exam, details=details)
        waiting = batch.pending()
        if waiting["answers"]:  # not in the totals until a TA marks them
            con.print(f"[yellow]pending:[/] {waiting['answers']:,} answers of {waiting['students']:,} students await "
                      f"manual grading ({waiting['points']:g} points not yet in the totals)")
        for k, v in batch.files.items():
            con.print(f"  {k:9} {_escape(v)}")
        for n in batch.notices:
            con.print(f"[yellow]notice:[/] {_escape(n)}")
        # Every submission not graded gets its own line, however many: nothing is skipped unnamed.
        for f in batch.skipped:
            con.print(f"[yellow]skipped:[/] {_escape(f['file'])}: {_escape(f['reason'])}")
        for f in batch.failed:
            con.print(f"[red]not graded:[/] {_escape(f['error'])}")
        for m in batch.missing:
            con.print(f"[red]no submission:[/] {_escape(m['student_id'])}"
                      + (f" ({_escape(m['name'])})" if m["name"] else "") + " is on the roster but handed nothing in")
        if batch.exam.is_cohort:
            con.print(f"{len(batch.students)} of {len(batch.exam.roster)} roster students graded, "
                      f"{len(batch.missing)} without a submission, {len(batch.failed)} submissions not graded")
    if incomplete is not None:
        raise incomplete


@app.command()
def review(
    ctx: typer.Context,
    results: Path = typer.Argument(..., help="The results folder of `i2dl grade` (its --out)."),
    exam: Path = typer.Option(Path("exam"), "--exam", help="The exam folder the results were graded against."),
    ta: str | None = typer.Option(None, "--ta", help="Your name, stored with every mark you make ($USER if not given)."),
    export: Path | None = typer.Option(None, "--export", help="Write every mark and edited item to this CSV."),
    import_: Path | None = typer.Option(None, "--import", help="Merge another TA's exported CSV (conflicts are "
                                        "reported and skipped)."),
    replace: bool = typer.Option(False, "--replace", help="With --import: take the file's marks where they "
                                 "conflict with yours."),
    accept_modified: bool = typer.Option(
        False, "--accept-modified", help="Use an exam.json edited after generation."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP + " With --export or --import."),
) -> None:
    """Mark free-text answers: a keyboard-driven queue of answer groups and rubric items (marks in RESULTS/marks.sqlite).

    Example: i2dl review results --exam exam --ta anna   |   i2dl review results --export anna.csv
    """
    from i2dl.review.queue import export_marks, import_marks, open_queue, queue_progress

    _json_mode(ctx, as_json)
    ta = ta if ta is not None else os.environ.get("USER", "")
    con = _console()
    if export is not None and import_ is not None:
        raise UsageError("--export and --import are two runs", fix="export first, then import in another run")
    if export is not None:
        done = export_marks(results, exam, export, accept_modified=accept_modified)
        if as_json:
            _emit_json(ctx, done)
            return
        con.print(f"{done['marks']} marks and {done['edited_items']} edited items written to {_escape(done['file'])}")
        return
    if import_ is not None:
        done = import_marks(results, exam, import_, ta=ta, replace=replace, accept_modified=accept_modified)
        if as_json:
            _emit_json(ctx, done)
            return
        con.print(f"{_escape(done['file'])}: {done['added']} marks added, {done['updated']} updated, "
                  f"{done['same']} already the same, {done['edited_items']} edited items taken")
        for line in done["skipped"]:
            con.print(f"[yellow]skipped:[/] {_escape(line)}")
        if done["conflicts"]:
            con.print(f"[yellow]{done['conflicts']} conflicting marks were kept as they are here[/]: agree on "
                      "each, then mark it again in `i2dl review` or import again with --replace to take the file's")
        return
    if as_json:
        raise UsageError("--json goes with --export or --import", fix="leave out --json to open the app")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the review app needs a terminal (stdin and stdout are not one)",
                         fix="run `i2dl review RESULTS` in a terminal; scripts use --export and --import")
    queue = open_queue(results, exam, ta=ta, accept_modified=accept_modified)
    try:
        from i2dl.review.app import run  # Textual is imported only when the app opens

        run(queue)
    finally:
        queue.store.close()
    for q in queue_progress(queue):
        con.print(f"{_escape(q['question'])}: {q['marked']}/{q['answers']} answers marked")


def _print_batch(con: Console, batch: Any, exam: Any, *, details: bool = False) -> None:
    """The batch in a screenful: students (when few, or --details), totals, problems, distribution."""
    from i2dl.grade.batch import batch_stats

    students = sorted(batch.students, key=lambda r: r.student_id)
    if details or len(students) <= SCREENFUL:
        table = _table("student", *[f"P{p.number}" for p in exam.problems], "total", "%", title=f"exam {exam.exam_id}")
        for r in students:
            table.add_row(_escape(r.student_id),
                          *["pending" if i in r.pending_problems else f"{s:g}" for i, s in enumerate(r.problems)],
                          f"{r.total:g}/{r.max_points:g}" + (f" (+{r.pending:g} pending)" if r.pending else ""),
                          f"{r.percent:.1f}")
        con.print(table)
    counts = f"{len(students):,} graded, {len(batch.failed):,} not graded" + (
        f", {len(batch.skipped):,} skipped" if batch.skipped else "")
    if not students:
        con.print(f"exam {exam.exam_id}: {counts}")
        return
    summary = batch_stats(batch, exam)
    totals = sorted(r.total for r in students)
    mid = len(totals) // 2
    median = totals[mid] if len(totals) % 2 else (totals[mid - 1] + totals[mid]) / 2
    con.print(f"exam {exam.exam_id}: {counts}; total of {exam.points:g}: mean {summary['mean']:g}, "
              f"median {median:g}, min {totals[0]:g}, max {totals[-1]:g}")
    probs = _table("problem", "title", "points", "mean", "mean %", title="mean score per problem")
    for i, prob in enumerate(exam.problems):
        m = sum(r.problems[i] for r in batch.students) / len(batch.students)
        probs.add_row(str(prob.number), _escape(prob.title), f"{prob.points:g}", f"{m:.2f}",
                      f"{100 * m / prob.points:.0f}" if prob.points else "")
    con.print(probs)
    dist = _table("band", "students", title="distribution of the total")
    top = max(b["count"] for b in summary["distribution"]) or 1
    for b in summary["distribution"]:
        bar = "#" * round(30 * b["count"] / top)  # scaled: 2,000 students still fit on a line
        dist.add_row(f"{b['from']:.0f}-{b['to']:.0f}%", f"{bar} {b['count']:,}")
    con.print(dist)
    if details:
        parts = _table("part", "points", "mean", "mean %", title="mean score per part")
        for _, part in exam.parts():
            m = summary["mean_per_part"][part.number]
            parts.add_row(part.number, f"{part.points:g}", f"{m:.2f}", f"{100 * m / part.points:.0f}")
        con.print(parts)
    elif len(students) > SCREENFUL:
        con.print(f"{len(students):,} students: one row each in scores.csv and gradebook.csv; --details lists "
                  "them here, with the mean per part")


@app.command()
def stats(
    ctx: typer.Context,
    results: Path = typer.Argument(..., help="A results folder written by `i2dl grade` (its summary.json)."),
    exam: Path | None = typer.Option(None, "--exam", help="The exam folder: describes the parts for results "
                                     "graded before i2dl recorded them in summary.json."),
    report: Path | None = typer.Option(None, "--report", help="Also write a self-contained HTML report with "
                                       "charts (e.g. stats.html) to share."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Item statistics of graded results: difficulty, discrimination, alpha, options, mistakes, grades.

    Example: i2dl stats results/ --report stats.html   |   i2dl stats results/midterm --json
    """
    from i2dl.stats import results_stats, write_report

    _json_mode(ctx, as_json)
    data = results_stats(results, exam)
    if report is not None:
        data["report"] = str(write_report(data, report))
    if as_json:
        _emit_json(ctx, data)
        return
    _print_stats(_console(), data)


def _print_stats(con: Console, s: dict[str, Any]) -> None:
    """The statistics as rich tables and a histogram drawn in characters."""
    def f(x: Any, d: int = 2) -> str:
        return "-" if x is None else f"{x:.{d}f}"

    def pct(x: Any) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    con.print(f"exam {_escape(s['exam_id'])}: {s['students']:,} students, mean {f(s['mean'])} of "
              f"{s['max_points']:g} ({f(s['mean_percent'], 1)}%), sd {f(s['sd'])}, Cronbach's alpha {f(s['alpha'])}; "
              f"upper and lower groups of {s['groups']['size']} ({s['groups']['share']:.0%})")
    parts = _table("part", "item", "pts", "mean", "p", "sd", "r_it", "D", "invalid", "blank", "named mistakes",
                   "flags", title="parts (p = mean/max; r_it = corrected item-total r; D = upper-lower index)")
    for p in s["parts"]:
        named = ", ".join(f"{m['name']} {pct(m['share'])}" for m in p["mistakes"])
        parts.add_row(p["number"], _escape(p["id"]), f"{p['points']:g}", f(p["mean"]), f(p["difficulty"]),
                      f(p["sd"]), f(p["item_total_r"]), f(p["discrimination"]), pct(p["invalid"]), pct(p["blank"]),
                      _escape(named), "[red]" + _escape(", ".join(p["flags"])) + "[/]" if p["flags"] else "")
    con.print(parts)
    probs = _table("problem", "pts", "mean", "p", "sd", "r_it", "D", "flags", title="problems")
    for p in s["problems"]:
        probs.add_row(str(p["number"]), f"{p['points']:g}", f(p["mean"]), f(p["difficulty"]), f(p["sd"]),
                      f(p["item_total_r"]), f(p["discrimination"]), _escape(", ".join(p["flags"])))
    con.print(probs)
    mcq = _table("part", "option", "all", "upper", "lower", title="multiple choice: options chosen (* the key)")
    for p in s["parts"]:
        for data in (p.get("options") or {}).values():
            for o in data["options"]:
                mcq.add_row(p["number"], o["letter"] + (" *" if o["correct"] else "") +
                            (f" ({_escape(o['mistake'])})" if o["mistake"] else ""),
                            str(o["all"]), str(o["upper"]), str(o["lower"]))
            mcq.add_row(p["number"], "none / no answer", f"{data['none']} / {data['no_answer']}", "", "")
    if mcq.row_count:
        con.print(mcq)
    top = max((b["count"] for b in s["histogram"]), default=0) or 1
    hist = _table("percent", "students", title="score histogram")
    for b in s["histogram"]:
        hist.add_row(f"{b['from']:.0f}-{b['to']:.0f}", "█" * round(40 * b["count"] / top) + f" {b['count']:,}")
    con.print(hist)
    grades = _table("grade", "from", "students", "share", title="grades (course settings: [[grades]])")
    for g in s["grades"]:
        grades.add_row(_escape(g["grade"]), f"{g['min_percent']:g}%", f"{g['count']:,}", pct(g["share"]))
    con.print(grades)
    if s["flags"]:
        con.print("[bold]to review:[/] " + "; ".join(f"{_escape(str(x['item']))}: {_escape(x['flag'])}"
                                                   for x in s["flags"]))
    if s.get("report"):
        con.print(f"  report    {_escape(s['report'])}")


@app.command()
def explain(
    ctx: typer.Context,
    target: list[str] = typer.Argument(..., help="'problem 3.6', '3.6', 'problem 3' (every part), or a spec id."),
    exam: Path = typer.Option(Path("exam"), "--exam", help="The exam folder written by `i2dl generate`."),
    entry: str | None = typer.Option(None, "--entry", help="Work out one output entry only, counted as the sheet counts (from 1 unless the spec says index_base: 0): 2 or 1,2."),
    fmt: str = typer.Option("text", "--format", help="text (terminal) or md (Markdown with LaTeX, for handouts)."),
    student: Path | None = typer.Option(None, "--student", help="A student's answer file: show their values "
                                           "next to each step, where they diverge, and the rubric outcome."),
    param: list[str] = typer.Option([], "--param", help="For a spec id: pin a parameter, name=value (as in solve)."),
    seed: int = typer.Option(0, "--seed", help="For a spec id: seed for the parameters that are not pinned."),
    accept_modified: bool = typer.Option(False, "--accept-modified", help="Explain an exam.json edited after generation."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP + " Replaces --format."),
) -> None:
    """Explain a part, a problem or a spec step by step, from the answer graph that made the key.

    Example: i2dl explain problem 3.6   |   i2dl explain 3 --format md   |
    i2dl explain 3.6 --student answers/ge42xyz.yaml   |   i2dl explain conv1d-backprop --param j=2
    """
    from i2dl.errors import UsageError
    from i2dl.explain import explain_target, explanation_markdown, explanation_renderable

    _json_mode(ctx, as_json)
    if fmt not in ("text", "md"):
        raise UsageError(f"unknown --format '{fmt}'", fix="use --format text or --format md")
    engine = _engine(ctx)

    def grade(path: Path, exam_: Any) -> Any:
        from i2dl.grade.batch import grade_file

        return grade_file(path, exam_, engine_name=engine)

    result = explain_target(target, exam_dir=exam, pins=_pins(param), seed=seed, engine_name=engine,
                            entry=entry, student=student, accept_modified=accept_modified, grade=grade)
    if as_json:
        _emit_json(ctx, result)
        return
    if fmt == "md":
        typer.echo(explanation_markdown(result), nl=False)
        return
    _console().print(explanation_renderable(result))


@app.command()
def functions(
    fmt: str = typer.Option("table", "--format", help="table (the terminal) or md (docs/functions.md)."),
) -> None:
    """List the functions that spec expressions may call, with their signatures.

    Example: i2dl functions --format md > docs/functions.md
    """
    from i2dl.functions import function_rows, functions_markdown

    if fmt not in ("table", "md"):
        raise UsageError(f"unknown format '{fmt}'", where="--format", fix="use table or md")
    if fmt == "md":
        typer.echo(functions_markdown(), nl=False)
        return
    table = _table("function", "category", "meaning")
    for row in function_rows():
        table.add_row(row["function"], row["category"], row["meaning"])
    _console().print(table)


# ---------------------------------------------------------------------------- practice (the loop around practice.Session)


@app.command()
def practice(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="A spec id, a bank question id, a topic, or 'mcq' for the "
                                        "bank (default: every spec, weighted towards the topics you get wrong)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the session's draws (a fresh one if omitted)."),
    stats: bool = typer.Option(False, "--stats", help="Show your progress per topic and exit."),
    as_json: bool = typer.Option(False, "--json", help="With --stats: the progress as JSON (nothing else on stdout; errors too, "
                                 "as {\"error\": ...})."),
) -> None:
    """Practise in the terminal: fresh problems asked part by part, graded and explained at once.

    At the prompt: an answer, ? or steps (the worked steps with your values), skip, quit. Your
    history is kept in $I2DL_DATA_DIR (else $XDG_DATA_HOME/i2dl, else ~/.local/share/i2dl).

    Example: i2dl practice linear-regression-step   |   i2dl practice mcq   |   i2dl practice --stats --json
    """
    from i2dl.practice import History, Practice

    _json_mode(ctx, as_json)
    if as_json and not stats:
        raise UsageError("practice is interactive; --json goes with --stats", fix="i2dl practice --stats --json")
    con = _console()
    history = History()
    try:
        if stats:
            if as_json:
                _emit_json(ctx, {"history": str(history.path), "topics": history.topic_stats()})
                return
            _practice_stats(con, history)
            return
        run = Practice(target, seed, history=history)
        con.print(f"[bold]practice[/]: {_escape(target or 'every problem, weighted towards your weak topics')}, "
                  f"seed {run.seed}; history in {_escape(str(history.path))}")
        con.print("Type your answer; [bold]?[/] or [bold]steps[/] shows the worked steps, [bold]skip[/] goes on, "
                  "[bold]quit[/] stops (Ctrl-D and Ctrl-C too).")
        _practice_loop(con, run)
    finally:
        history.close()


def _practice_loop(con: Console, run: Any) -> None:
    """Problems until the student quits; EOF and Ctrl-C end it the same way, the history kept."""
    session, done = None, 0
    try:
        while True:
            session = run.next_session()
            _practice_intro(con, session.intro())
            while not session.done:
                q = session.question()
                if q.first_of_part:
                    _practice_part(con, q)
                reply = session.handle(con.input(f"[bold]{_escape(q.label)}[/]{' (again)' if q.retry else ''}> "))
                done += len(reply.finished)
                if reply.kind == "quit":
                    break
                _practice_reply(con, reply)
            if not session.done:
                break
            got, of = session.score()
            con.print(f"\n[bold]problem done[/]: {got:g} of {of:g} points at the first try")
            if con.input("Another problem? (Enter for yes, quit to stop) ").strip().lower() in ("quit", "exit", "q", "n", "no"):
                break
    except (EOFError, KeyboardInterrupt):
        con.print()
        if session is not None:
            done += len(session.close())
    con.print(f"Goodbye: {done} part{'s' if done != 1 else ''} practised this session, kept in your history "
              "(i2dl practice --stats).")


def _practice_intro(con: Console, intro: dict[str, Any]) -> None:
    from i2dl.explain import text_to_unicode

    con.print(f"\n[bold]{_escape(intro['title'])}[/]  ({_escape(intro['item'])}, topic {_escape(intro['topic'])}, "
              f"{intro['points']:g} point{'' if intro['points'] == 1 else 's'})")
    if intro["statement"]:
        con.print(_escape(text_to_unicode(intro["statement"].strip())))
    if intro["rounding"]:
        con.print(f"[dim]{_escape(intro['rounding'])}[/]")


def _practice_part(con: Console, q: Any) -> None:
    from i2dl.explain import text_to_unicode

    con.print(f"\n[bold]{q.part}[/] ({q.points:g} p) {_escape(text_to_unicode(q.text))}")
    for letter, text in q.options:
        con.print(f"  [bold]{letter}[/] {_escape(text_to_unicode(text))}")
    con.print(f"[dim]{_escape(q.label)}: {_escape(q.form)}[/]")


def _practice_reply(con: Console, reply: Any) -> None:
    from i2dl.explain import explanation_renderable, text_to_unicode

    if reply.kind == "steps":
        con.print(explanation_renderable(reply.steps))
        return
    if reply.kind == "skip":
        con.print(f"the answer: [bold]{_escape(reply.expected)}[/]")
        return
    v = reply.verdict
    if v is None:
        return
    feedback = _escape(text_to_unicode(v.feedback))
    note = f": {feedback}" if feedback else ""
    if v.outcome == "invalid":
        con.print(f"[yellow]invalid[/] (not counted){note}; please answer again")
    elif v.outcome == "empty":
        con.print(f"[yellow]{_escape(v.feedback)}[/]")
    elif v.outcome == "right":
        con.print(f"[green]right[/]: {_escape(v.read)}" + (f" [dim]({feedback})[/]" if feedback else ""))
    elif v.outcome == "follow-through":
        con.print(f"[green]right for your own earlier value[/]{note}; the key from the right values is "
                  f"{_escape(v.expected)}")
    elif v.outcome == "manual":
        con.print(f"a free-text answer: compare it with the key: {_escape(v.expected)}")
    else:
        word = "partly right" if v.outcome == "partial" else "wrong"
        mistake = f" [bold]mistake: {_escape(v.mistake)}[/]." if v.mistake else ""
        con.print(f"[red]{word}[/] (you gave {_escape(v.read)}).{mistake}" + (f" {feedback}" if feedback else ""))
        con.print("[dim]Try again, ? for the worked steps with your values, Enter or skip to go on.[/]")


def _practice_stats(con: Console, history: Any) -> None:
    rows = history.topic_stats()
    if not rows:
        con.print(f"No practice yet (history: {_escape(str(history.path))}). Start with: i2dl practice")
        return
    table = _table("topic", "parts", "right", "share right", "score", "skipped", "last practised",
                   title="practice per topic (first tries)")
    for r in rows:
        table.add_row(_escape(r["topic"]), str(r["attempts"]), str(r["right"]), f"{100 * r['share_right']:.0f}%",
                      f"{100 * r['score_share']:.0f}%", str(r["skipped"]), r["last"][:16].replace("T", " ") + " UTC")
    con.print(table)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
