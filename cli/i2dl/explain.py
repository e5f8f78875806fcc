"""Worked solutions from the answer graph (placeholder until the explain module lands)."""

from __future__ import annotations


def key_steps(exam) -> dict[str, str]:
    """Worked steps per part number, as Markdown, for the solution key."""
    return {}
