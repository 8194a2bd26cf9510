"""The processes of a kwok cluster, found through the pid files kwokctl writes.

kwokctl's binary runtime starts each component in the background and records
its pid in ``<cluster_dir>/pids/<component>.pid``. Used by
:mod:`labkit.cluster.kwok` to tell a running lab from a stale one (a lab.json
whose processes died with a reboot or a ``kill -9``), to make sure ``down``
leaves no process behind, and by tests to check listeners. A pid counts as
the lab's only while its command line names the cluster directory, so a
recycled pid never gets killed by mistake.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def pids(cluster_dir: Path) -> dict[str, int]:
    """Component name -> pid, from the pid files (unreadable files are skipped)."""
    found: dict[str, int] = {}
    for pidfile in sorted((cluster_dir / "pids").glob("*.pid")):
        try:
            found[pidfile.stem] = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
    return found


def _cmdline(pid: int) -> str:
    # A process caught in the middle of execve shows an empty command line for a moment.
    for _ in range(20):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return ""
        if raw:
            return raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.01)
    return ""


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        return ""
    return ""


def is_ours(pid: int, cluster_dir: Path) -> bool:
    """Whether ``pid`` is alive (not a zombie) and its command line names ``cluster_dir``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    if _state(pid) in ("Z", "X"):
        return False
    return str(cluster_dir) in _cmdline(pid)


def alive(cluster_dir: Path) -> dict[str, int]:
    """The components of this cluster whose processes are still alive."""
    return {name: pid for name, pid in pids(cluster_dir).items() if is_ours(pid, cluster_dir)}


def all_alive(cluster_dir: Path, names: Iterable[str]) -> bool:
    living = alive(cluster_dir)
    return all(name in living for name in names)


def stop(cluster_dir: Path, grace_s: float = 10.0) -> list[int]:
    """SIGTERM every live component, SIGKILL what is left after ``grace_s``; return the pids signalled."""
    targets = list(alive(cluster_dir).values())
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(is_ours(p, cluster_dir) for p in targets):
        time.sleep(0.1)
    for pid in targets:
        if is_ours(pid, cluster_dir):
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_ours(p, cluster_dir) for p in targets):
        time.sleep(0.05)
    return targets


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file, indented, or "" when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line[:300] for line in text.strip().splitlines()[-lines:])
