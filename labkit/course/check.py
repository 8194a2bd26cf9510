"""One self-check question (:class:`Check`) and the two ways a notebook shows a set of them.

The question banks (:mod:`labkit.course.checkpoints`, :mod:`labkit.course.interview`)
are tuples of :class:`Check`. Notebooks call :func:`quiz` for the ``Quiz`` widget of
:mod:`labkit.ui.quiz`, imported only then so this module stays light, and
:func:`answers_markdown` for viewers that show no widgets.

:func:`quiz` shows each question's choices in an order of their own, shuffled
per learner (:func:`shuffled` with :func:`learner_seed`): two learners see
different orders, one learner sees the same order on every run, and the
position of the right answer in the bank teaches nothing.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import random
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


def learner_seed() -> str:
    """Who is taking the quiz, as a seed: the user name and the lab home (``LABKIT_HOME``)."""
    return f"{getpass.getuser()}@{os.environ.get('LABKIT_HOME', '~/.labkit')}"


def shuffled(check: Check, seed: str) -> Check:
    """``check`` with its choices in an order fixed by ``seed`` and the prompt; the right one follows."""
    order = list(range(len(check.choices)))
    random.Random(f"{seed}|{check.prompt}").shuffle(order)
    choices = tuple(check.choices[i] for i in order)
    return dataclasses.replace(check, choices=choices, answer_index=order.index(check.answer_index))


def quiz(checks: Iterable[Check], seed: str | None = None) -> Any:
    """A ``labkit.ui.widgets.Quiz`` for these checks, choices shuffled for this learner (or ``seed``)."""
    from labkit.ui import Question, Quiz

    seed = learner_seed() if seed is None else seed
    shown = [shuffled(c, seed) for c in checks]
    return Quiz(questions=[Question(c.prompt, c.choices, c.answer_index, c.explanation) for c in shown])


def answers_markdown(checks: Iterable[Check]) -> str:
    """The answers as a collapsed Markdown block, for readers whose viewer shows no widgets."""
    lines = ["<details><summary><b>Answers</b> (try the quiz first)</summary>", ""]
    for i, c in enumerate(checks, start=1):
        lines.append(f"{i}. *{c.prompt}* — **{c.choices[c.answer_index]}** {c.explanation}")
    return "\n".join([*lines, "", "</details>"])
