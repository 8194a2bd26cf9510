"""The lab's record on disk (``lab.json``) and the lock that serialises up/down/reset.

Used by :class:`labkit.Lab`. ``lab.json`` is written last by ``up``, so its
presence means "a lab was fully created here"; whether it is still running
is the backend's call (a reboot or ``kill -9`` leaves a stale record). The
lock is an ``fcntl`` lock on ``<state_dir>/.lock`` holding the owner's pid
and command, so a second ``labkit up`` waits for the first with a message
naming it, or gives up after ``ClusterSettings.lock_timeout_s``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import LabStateError

RECORD = "lab.json"
LOCK = ".lock"


@dataclass(frozen=True)
class LabRecord:
    """What ``lab.json`` holds (see docs/internals.md)."""

    backend: str
    kubeconfig: str
    context: str
    cluster_name: str
    created_at: str
    baseline_namespaces: list[str] = field(default_factory=list)
    """Namespaces that existed right after the cluster came up; reset never deletes them."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def read_record(state_dir: Path) -> LabRecord | None:
    """The lab record, or None when there is none (or it is unreadable: treated as no lab)."""
    try:
        data: dict[str, Any] = json.loads((state_dir / RECORD).read_text())
        return LabRecord(
            backend=str(data["backend"]),
            kubeconfig=str(data["kubeconfig"]),
            context=str(data["context"]),
            cluster_name=str(data["cluster_name"]),
            created_at=str(data["created_at"]),
            baseline_namespaces=[str(n) for n in data.get("baseline_namespaces", [])],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(state_dir: Path, record: LabRecord) -> None:
    tmp = state_dir / (RECORD + ".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(state_dir / RECORD)


@contextlib.contextmanager
def lab_lock(
    state_dir: Path,
    *,
    timeout_s: float,
    progress: Callable[[str], None],
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lab's lock; wait (telling who holds it) up to ``timeout_s``, then LabStateError."""
    deadline = time.monotonic() + timeout_s
    told = False
    path = state_dir / LOCK
    while True:
        try:
            # Re-made on every round: `down` removes the whole directory while we wait.
            state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(path)
            if time.monotonic() >= deadline:
                raise LabStateError(
                    f"the lab in {state_dir} is busy: {holder} holds {path} (waited {timeout_s:g} s)",
                    hint="wait for that command to finish (or stop it), then run this again",
                ) from None
            if not told:
                progress(f"another labkit command is working on this lab ({holder}); waiting for it…")
                told = True
            sleep(0.2)
            continue
        # `down` may have removed the directory (and the lock file) while we waited: lock the new file.
        if not _same_file(fd, path):
            os.close(fd)
            continue
        break
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {what} ({' '.join(sys.argv[:3])})".encode())
        yield
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"
