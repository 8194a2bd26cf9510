"""The `labkit` command line: a thin layer over :class:`labkit.Lab`.

Each group of commands lives in its own module and registers itself on
:data:`main` when imported. Commands print progress and end with a hint of what
to do next; a :class:`labkit.errors.LabkitError` becomes one clear message and
exit code 1.
"""

from __future__ import annotations

from labkit.cli import app_cmds as _app_cmds  # noqa: F401
from labkit.cli import argocd_cmds as _argocd_cmds  # noqa: F401
from labkit.cli import drift_cmds as _drift_cmds  # noqa: F401
from labkit.cli import flux_cmds as _flux_cmds  # noqa: F401
from labkit.cli import githttp_cmds as _githttp_cmds  # noqa: F401
from labkit.cli import lab_cmds as _lab_cmds  # noqa: F401
from labkit.cli import pipeline_cmds as _pipeline_cmds  # noqa: F401
from labkit.cli import repo_cmds as _repo_cmds  # noqa: F401
from labkit.cli import timeline_cmds as _timeline_cmds  # noqa: F401
from labkit.cli import toolchain_cmds as _toolchain_cmds  # noqa: F401
from labkit.cli.base import main

__all__ = ["main"]
