"""Acting the way a learner would: try an action and print a refusal instead of a traceback.

Notebooks call :func:`attempt` around a lab action that may be refused (a
rollback while auto-sync is on, for instance). Changes to the repository go
through :mod:`labkit.course.gitshell`, which echoes every git command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.errors import LabkitError


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``action`` and return its result; if labkit refuses, print why (and the hint) and return None."""
    try:
        return action(*args, **kwargs)
    except LabkitError as e:
        print(f"refused: {e.message}")
        if e.hint:
            print(f"hint: {e.hint}")
        return None
