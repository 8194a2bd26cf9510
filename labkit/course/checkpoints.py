"""The interview checkpoint at the end of notebooks 01-09, 11 and 12, and :func:`checkpoint` to show one.

Notebooks call ``course.checkpoint("03")`` in their last section; the questions
themselves live in :mod:`labkit.course.checkpoints_01_05`,
:mod:`labkit.course.checkpoints_06_09`, :mod:`labkit.course.checkpoints_11` and
:mod:`labkit.course.checkpoints_12`
to keep each file short. (Notebook 10 has its own bank, :mod:`labkit.course.interview`.)
"""

from __future__ import annotations

from typing import Any

from labkit.course.check import Check, quiz
from labkit.course.checkpoints_01_05 import CHECKPOINTS_01_05
from labkit.course.checkpoints_06_09 import CHECKPOINTS_06_09
from labkit.course.checkpoints_11 import CHECKPOINTS_11
from labkit.course.checkpoints_12 import CHECKPOINTS_12

CHECKPOINTS: dict[str, tuple[Check, ...]] = {
    **CHECKPOINTS_01_05,
    **CHECKPOINTS_06_09,
    **CHECKPOINTS_11,
    **CHECKPOINTS_12,
}
"""The interview checkpoint at the end of notebooks 01-09, 11 and 12."""


def checkpoint(notebook: str, seed: str | None = None) -> Any:
    """The interview checkpoint quiz of one notebook ("01" ... "09", "11", "12"), choices shuffled."""
    return quiz(CHECKPOINTS[notebook], seed)
