"""Running commands: one small injectable runner used by every shell-out.

Modules that shell out (``cluster/*``, ``drift``, ``push``, the toolchain)
take a ``Runner`` argument instead of calling :mod:`subprocess` directly, so
unit tests can hand them a fake that records the commands and answers with
canned output. The real runner raises :class:`labkit.errors.CommandError`,
whose message is the command as a line a learner can paste into a terminal.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from labkit.errors import CommandError


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    """Anything that can run a command and return a :class:`Result`."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Result: ...


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Result:
    """Run ``argv`` (no shell), capture output, raise CommandError if ``check``.

    ``env`` entries are added to the current environment, not replacing it.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        cp = subprocess.run(
            list(argv),
            env=full_env,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise CommandError(argv, 127, str(e), hint=f"install {argv[0]!r} or put it on PATH") from e
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise CommandError(argv, -1, f"timed out after {timeout} s\n{out}") from e
    result = Result(tuple(argv), cp.returncode, cp.stdout, cp.stderr)
    if check and cp.returncode != 0:
        raise CommandError(argv, cp.returncode, cp.stderr or cp.stdout)
    return result
