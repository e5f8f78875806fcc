"""Answer groups: identical after normalisation, then near-duplicates merged (rapidfuzz token-set ratio).

Pure functions on (student id, answer text) pairs; the order of every result is fixed by the input
texts alone (larger groups first, then by normalised text), so the same answers give the same groups.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: Two answers whose token-set ratio (0-100) reaches this are one group unless the TA splits them.
DEFAULT_THRESHOLD = 90.0


def normalise(text: str) -> str:
    """The text compared for grouping: NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(c)[0] in "PZC" else c for c in text)
    return " ".join(kept.split())


@dataclass(frozen=True)
class Group:
    """Answers graded together: their students (in input order) and the text shown for them."""

    students: tuple[str, ...]
    representative: str  # the most frequent exact answer text of the group (first of a tie)

    def __len__(self) -> int:
        return len(self.students)


def _exact(answers: Sequence[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(normalised text, its answers) for each distinct normalised text: larger first, then by text."""
    by_norm: dict[str, list[tuple[str, str]]] = {}
    for student, text in answers:
        by_norm.setdefault(normalise(text), []).append((student, text))
    return sorted(by_norm.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _representative(members: list[tuple[str, str]]) -> str:
    counts: dict[str, int] = {}
    for _, text in members:
        counts[text] = counts.get(text, 0) + 1
    best = max(counts.values())
    return next(text for _, text in members if counts[text] == best)


def group_answers(answers: Sequence[tuple[str, str]], threshold: float = DEFAULT_THRESHOLD) -> list[Group]:
    """Groups of (student, text): equal normalised texts, then each joined to the earlier group whose leading
    text is most similar (token-set ratio >= threshold; the first on a tie); threshold > 100 keeps exact groups."""
    from rapidfuzz import fuzz, process

    clusters: list[tuple[str, list[tuple[str, str]]]] = []  # (leading normalised text, members)
    leads: list[str] = []
    for norm, members in _exact(answers):
        best = None
        if norm and threshold <= 100 and leads:
            best = process.extractOne(norm, leads, scorer=fuzz.token_set_ratio, score_cutoff=threshold)
        if best is not None:
            clusters[best[2]][1].extend(members)
        else:
            clusters.append((norm, list(members)))
            leads.append(norm)
    order = {s: i for i, (s, _) in enumerate(answers)}
    out = []
    for _, members in clusters:
        members.sort(key=lambda m: order[m[0]])
        out.append(Group(tuple(s for s, _ in members), _representative(members)))
    return out


def split_out(groups: Sequence[Group], student: str, texts: dict[str, str]) -> list[Group]:
    """The groups with `student`'s answer taken out of its group into a group of its own, placed after it."""
    out: list[Group] = []
    for g in groups:
        if student in g.students and len(g) > 1:
            rest = [(s, texts[s]) for s in g.students if s != student]
            out += [Group(tuple(s for s, _ in rest), _representative(rest)), Group((student,), texts[student])]
        else:
            out.append(g)
    return out


def split_by_threshold(group: Group, texts: dict[str, str], threshold: float) -> list[Group]:
    """One group regrouped with a stricter threshold (a higher one splits it; 101 leaves exact groups)."""
    return group_answers([(s, texts[s]) for s in group.students], threshold)
