"""The `labkit` command line: a thin layer over :class:`labkit.Lab`.

Each group of commands lives in its own module and registers itself on
:data:`main`. Commands print progress and end with a hint of what to do next;
a :class:`labkit.errors.LabkitError` becomes one clear message and exit code 1.
"""

from __future__ import annotations

import sys

from labkit.cli.base import main

# Command modules register themselves on `main` when imported.
from labkit.cli import app_cmds as _app_cmds  # noqa: E402,F401  (isort: skip)
from labkit.cli import lab_cmds as _lab_cmds  # noqa: E402,F401  (isort: skip)

__all__ = ["main"]


def run() -> None:
    main(prog_name="labkit")


if __name__ == "__main__":
    sys.exit(run())
