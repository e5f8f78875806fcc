"""The grading queue as a keyboard-driven Textual app: a view of a Queue; every action is saved at once.

Keys: up/down group, left/right question, [ ] answer within the group, 1-9 toggle a rubric item,
a apply to the group, c comment, x split the answer out, t split by a threshold, e edit an item's
points, n next ungraded, u unmark the group, q quit. Items whose keywords occur in the answer are
marked "suggested"; they are awarded only when the TA toggles them and applies.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Static

from i2dl.errors import I2dlError
from i2dl.render import fmt_number
from i2dl.review.queue import Queue, suggested

_PROMPTS = {
    "comment": "Comment for this group (Enter to keep, empty to clear):",
    "points": "Item number and its new points, e.g. `2 0.5` (every answer with it is re-graded):",
    "threshold": "Split this group at a stricter similarity (0-100; 101 keeps identical answers only):",
}


class ReviewApp(App):
    """Free-text answers grouped per question, rubric items toggled and applied to whole groups."""

    TITLE = "i2dl review"
    AUTO_FOCUS = None  # keys go to the app's bindings; the prompt takes focus only while it is open
    CSS = """
    #title { height: auto; padding: 0 1; background: $boost; }
    #body { height: 1fr; }
    #groups { width: 45%; border: round $primary; padding: 0 1; }
    #side { width: 55%; }
    #question, #items, #answer { height: auto; border: round $secondary; padding: 0 1; }
    #status { height: auto; padding: 0 1; color: $warning; }
    #prompt { display: none; }
    #prompt.open { display: block; }
    """
    BINDINGS = [
        Binding("down,j", "group(1)", "next group"),
        Binding("up,k", "group(-1)", "previous group"),
        Binding("right,l", "question(1)", "next question"),
        Binding("left,h", "question(-1)", "previous question"),
        Binding("right_square_bracket", "member(1)", "next answer", show=False),
        Binding("left_square_bracket", "member(-1)", "previous answer", show=False),
        *[Binding(str(i), f"toggle({i})", f"item {i}", show=False) for i in range(1, 10)],
        Binding("a,enter", "apply", "apply to group"),
        Binding("c", "ask('comment')", "comment"),
        Binding("x", "split_out", "split answer out"),
        Binding("t", "ask('threshold')", "split by threshold"),
        Binding("e", "ask('points')", "edit points"),
        Binding("n", "next_ungraded", "next ungraded"),
        Binding("u", "unmark", "unmark", show=False),
        Binding("q", "quit", "quit"),
        Binding("escape", "cancel", "cancel", show=False),
    ]

    def __init__(self, queue: Queue):
        super().__init__()
        self.queue = queue
        self.qi = 0
        self.gi = 0
        self.mi = 0  # the answer selected within the group
        self.selected: set[str] = set()
        self.comment = ""
        self.asking: str | None = None
        self.message = ""

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with Horizontal(id="body"):
            yield VerticalScroll(Static(id="group_list"), id="groups")
            with Vertical(id="side"):
                yield Static(id="question")
                yield Static(id="items")
                yield Static(id="answer")
                yield Static(id="status")
        yield Input(id="prompt", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        if self.queue.questions:
            # The first group with an unmarked answer; when all are marked, the first question with answers.
            spot = self.queue.next_ungraded(len(self.queue.questions) - 1, 10**9)
            if spot is None:
                spot = next(((i, 0) for i in range(len(self.queue.questions)) if self.queue.groups(i)), (0, 0))
            self.qi, self.gi = spot
        self._load_group()

    # ------------------------------------------------------------------ state

    @property
    def groups(self):
        return self.queue.groups(self.qi) if self.queue.questions else []

    @property
    def question(self):
        return self.queue.questions[self.qi]

    def _load_group(self) -> None:
        """Take the current group's mark as the toggles (nothing is pre-selected for an unmarked group)."""
        self.mi = 0
        mark = self.queue.group_mark(self.qi, self.gi) if self.groups else None
        self.selected = set(mark.items) if mark else set()
        self.comment = mark.comment if mark else ""
        self._render()

    def _render(self) -> None:
        title = self.query_one("#title", Static)
        if not self.queue.questions:
            title.update("No free-text answers in these results: nothing to mark.")
            return
        q, groups = self.question, self.groups
        done, total = self.queue.progress(self.qi)
        marked_groups = sum(1 for j in range(len(groups)) if self.queue.group_mark(self.qi, j) is not None)
        overall = [self.queue.progress(i) for i in range(len(self.queue.questions))]
        title.update(Text.from_markup(
            f"[b]Question {self.qi + 1}/{len(self.queue.questions)}: {escape(q.title)}[/b] "
            f"({fmt_number(q.points)} points) · marked {done}/{total} answers, {marked_groups}/{len(groups)} "
            f"groups · all questions {sum(d for d, _ in overall)}/{sum(t for _, t in overall)}"))
        lines = []
        for j, g in enumerate(groups):
            mark = self.queue.group_mark(self.qi, j)
            partly = mark is None and any(self.queue.mark(self.qi, s) for s in g.students)
            state = (f"[green]{fmt_number(self.queue.points(q, mark.items))}p[/]" if mark else
                     "[yellow]mixed[/]" if partly else "[red]--[/]")
            pointer = "▶" if j == self.gi else " "
            lines.append(f"{pointer} {len(g):>3}× {state} {escape(_short(g.representative, 60))}")
        self.query_one("#group_list", Static).update(Text.from_markup("\n".join(lines) or "(no answers)"))
        # Keep the selected group on screen however long the list (a few rows of context above it).
        self.query_one("#groups", VerticalScroll).scroll_to(y=max(self.gi - 3, 0), animate=False)
        model = f"\n[dim]model answer:[/] {escape(q.model_answer)}" if q.model_answer else ""
        self.query_one("#question", Static).update(Text.from_markup(f"{escape(q.text)}{model}"))
        group = groups[self.gi] if groups else None
        hint = suggested(q, group.representative) if group else set()
        rows = []
        for i, it in enumerate(q.items, 1):
            box = "[b]\\[x][/b]" if it.id in self.selected else "\\[ ]"
            pts = self.queue.item_points(q, it)
            edited = "*" if pts != it.points else ""
            tip = " [reverse] suggested [/]" if it.id in hint and it.id not in self.selected else ""
            key = str(i) if i <= 9 else " "
            rows.append(f"{key} {box} {fmt_number(pts):>5}p{edited} {escape(it.id)}: {escape(it.text)}{tip}")
        chosen = self.queue.points(q, sorted(self.selected))
        rows.append(f"[b]= {fmt_number(chosen)} / {fmt_number(q.points)} points[/b]"
                    + (f" · comment: {escape(self.comment)}" if self.comment else ""))
        self.query_one("#items", Static).update(Text.from_markup("\n".join(rows)))
        if group is not None:
            student = group.students[self.mi]
            text = self.queue.answers[q.key][student]
            self.query_one("#answer", Static).update(Text.from_markup(
                f"[dim]answer {self.mi + 1}/{len(group)} of this group ({escape(student)}):[/]\n{escape(text)}"))
        else:
            self.query_one("#answer", Static).update("")
        self.query_one("#status", Static).update(escape(self.message))

    # ------------------------------------------------------------------ actions

    def action_group(self, step: int) -> None:
        if self.groups:
            self.gi = (self.gi + step) % len(self.groups)
            self._load_group()

    def action_question(self, step: int) -> None:
        if self.queue.questions:
            self.qi = (self.qi + step) % len(self.queue.questions)
            self.gi = 0
            self._load_group()

    def action_member(self, step: int) -> None:
        if self.groups:
            self.mi = (self.mi + step) % len(self.groups[self.gi])
            self._render()

    def action_toggle(self, n: int) -> None:
        if not self.queue.questions or n > len(self.question.items):
            return
        self.selected ^= {self.question.items[n - 1].id}
        self._render()

    def action_apply(self) -> None:
        if not self.groups:
            return
        self.queue.apply(self.qi, self.gi, sorted(self.selected), self.comment)
        g = self.groups[self.gi]
        pts = self.queue.points(self.question, sorted(self.selected))
        self.message = (f"marked {len(g)} answer{'s' * (len(g) != 1)}: {fmt_number(pts)} point"
                        f"{'s' * (pts != 1)}{' each' * (len(g) > 1)}")
        self._render()

    def action_unmark(self) -> None:
        if self.groups:
            self.queue.unmark(self.qi, self.gi)
            self.message = "group unmarked"
            self._load_group()

    def action_split_out(self) -> None:
        if not self.groups or len(self.groups[self.gi]) < 2:
            self.message = "a group of one answer cannot be split"
            self._render()
            return
        student = self.groups[self.gi].students[self.mi]
        self.queue.split_out(self.qi, self.gi, student)
        self.message = f"answer of {student} is now a group of its own (the next one)"
        self._load_group()

    def action_next_ungraded(self) -> None:
        if not self.queue.questions:
            return
        spot = self.queue.next_ungraded(self.qi, self.gi)
        if spot is None:
            self.message = "every answer is marked"
            self._render()
            return
        self.qi, self.gi = spot
        self.message = ""
        self._load_group()

    def action_ask(self, what: str) -> None:
        if not self.groups:
            return
        self.asking = what
        prompt = self.query_one("#prompt", Input)
        prompt.placeholder = _PROMPTS[what]
        prompt.value = self.comment if what == "comment" else ""
        prompt.disabled = False
        prompt.add_class("open")
        prompt.focus()
        self.message = _PROMPTS[what]
        self._render()

    def action_cancel(self) -> None:
        self._close_prompt()
        self._render()

    def _close_prompt(self) -> None:
        self.asking = None
        prompt = self.query_one("#prompt", Input)
        prompt.remove_class("open")
        prompt.disabled = True
        prompt.value = ""
        self.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        what, value = self.asking, event.value.strip()
        self._close_prompt()
        self.message = ""
        try:
            if what == "comment":
                self.comment = value
                self.message = "comment set: press a to apply it with the items"
            elif what == "points":
                self._edit_points(value)
            elif what == "threshold":
                n = self.queue.split_threshold(self.qi, self.gi, float(value))
                self.message = f"the group became {n} group{'s' * (n != 1)}"
                self._load_group()
                return
        except ValueError:
            self.message = f"not a number: {value!r}"
        except I2dlError as exc:
            self.message = str(exc)
        self._render()

    def _edit_points(self, value: str) -> None:
        n, pts = value.split()
        q = self.question
        if not n.isdigit() or not 1 <= int(n) <= len(q.items):
            raise ValueError(value)
        item = q.items[int(n) - 1]
        self.queue.set_item_points(self.qi, item.id, float(pts))
        self.message = f"item {item.id} is now worth {fmt_number(float(pts))} points for every answer that has it"


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def run(queue: Queue) -> None:
    """Open the app on a terminal until the TA quits."""
    ReviewApp(queue).run()
