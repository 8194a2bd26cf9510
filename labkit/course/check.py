"""One self-check question (:class:`Check`) and the two ways a notebook shows a set of them.

The question banks (:mod:`labkit.course.checkpoints`, :mod:`labkit.course.interview`)
are tuples of :class:`Check`. Notebooks call :func:`quiz` for the ``Quiz`` widget of
:mod:`labkit.ui.quiz`, imported only then so this module stays light, and
:func:`answers_markdown` for viewers that show no widgets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Check:
    """One self-check question: the prompt, the choices, which one is right and why."""

    prompt: str
    choices: tuple[str, ...]
    answer_index: int
    explanation: str
    topic: str = ""
    """For notebook 10's bank: which follow-up question (a key of :data:`TOPICS`) it belongs to."""


def quiz(checks: Iterable[Check]) -> Any:
    """A ``labkit.ui.widgets.Quiz`` for these checks: pick an answer, get feedback and the why."""
    from labkit.ui import Question, Quiz

    questions = [Question(c.prompt, list(c.choices), c.answer_index, c.explanation) for c in checks]
    return Quiz(questions=questions)


def answers_markdown(checks: Iterable[Check]) -> str:
    """The answers as a collapsed Markdown block, for readers whose viewer shows no widgets."""
    lines = ["<details><summary><b>Answers</b> (try the quiz first)</summary>", ""]
    for i, c in enumerate(checks, start=1):
        lines.append(f"{i}. *{c.prompt}* — **{c.choices[c.answer_index]}** {c.explanation}")
    return "\n".join([*lines, "", "</details>"])
