"""The interview checkpoint at the end of notebooks 01-09, and :func:`checkpoint` to show one.

Notebooks call ``course.checkpoint("03")`` in their last section; the questions
themselves live in :mod:`labkit.course.checkpoints_01_05` and
:mod:`labkit.course.checkpoints_06_09` to keep each file short.
"""

from __future__ import annotations

from typing import Any

from labkit.course.check import Check, quiz
from labkit.course.checkpoints_01_05 import CHECKPOINTS_01_05
from labkit.course.checkpoints_06_09 import CHECKPOINTS_06_09

CHECKPOINTS: dict[str, tuple[Check, ...]] = {**CHECKPOINTS_01_05, **CHECKPOINTS_06_09}
"""The interview checkpoint at the end of notebooks 01-09."""


def checkpoint(notebook: str, seed: str | None = None) -> Any:
    """The interview checkpoint quiz of one notebook ("01" ... "09"), choices shuffled per learner."""
    return quiz(CHECKPOINTS[notebook], seed)
