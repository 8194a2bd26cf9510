"""Errors labkit raises, each saying what went wrong and what to do next.

Per-resource outcomes of a sync are data (see ``labkit.gitops``), never
exceptions. Exceptions are for broken infrastructure: a cluster that does not
start, a git command that fails, a missing toolchain. Every module that talks
to an outside system turns that system's errors into one of these, chained
with ``raise ... from e``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class LabkitError(Exception):
    """Base class: a message plus an optional hint naming the next step."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  next step: {self.hint}"
        return self.message


class CommandError(LabkitError):
    """A shell-out failed. ``pretty_command`` can be pasted into a terminal."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int,
        output: str = "",
        hint: str = "",
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-15:])
        message = f"command failed (exit {returncode}): {self.pretty_command}"
        if tail:
            message += "\n" + tail
        super().__init__(message, hint)

    @property
    def pretty_command(self) -> str:
        return shlex.join(self.argv)


class ToolchainError(LabkitError):
    """The control-plane binaries are missing, broken or could not be built."""


class BackendError(LabkitError):
    """A cluster backend is unknown, unavailable or failed to start."""


class ClusterError(LabkitError):
    """The cluster is not reachable or not healthy."""


class GitError(LabkitError):
    """A git operation on the lab repositories failed."""


class KubeError(LabkitError):
    """A call to the Kubernetes API server failed for infrastructure reasons."""


class LabStateError(LabkitError):
    """The lab's state on disk is missing, stale or locked by another process."""
