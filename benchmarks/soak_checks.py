"""The chaos soak's invariants (:mod:`benchmarks.bench_soak` calls them once the soak is over).

Each returns a :class:`Check`: its name, whether it holds, and what was measured.
They read the lab from outside — the Applications, a fresh diff against Git,
the timeline, /proc and the lab's own TMPDIR — never the controller's memory.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.apps import AppClient
from labkit.errors import LabkitError
from labkit.events import Event, Timeline
from labkit.gitops import heartbeat
from labkit.settings import Settings


@dataclass(frozen=True)
class Check:
    """One invariant after the soak."""

    name: str
    ok: bool
    measured: str


def equal_to_git(
    apps: AppClient, names: Sequence[str], head: str, say: Callable[[str], None], timeout_s: float = 120.0
) -> list[str]:
    """The apps that are Synced at ``head`` and whose fresh diff against Git is empty (waits to settle)."""
    equal = []
    deadline = time.monotonic() + timeout_s
    for name in names:
        while time.monotonic() < deadline:
            try:
                apps.wait(name, sync="Synced", revision=head, timeout_s=max(1.0, deadline - time.monotonic()))
                comparison = apps.diff(name)
                if comparison.revision == head and not any(r.diff.text for r in comparison.resources):
                    equal.append(name)
                    break
            except LabkitError as e:
                say(f"{name} not equal to Git yet: {e.message.splitlines()[0]}")
            time.sleep(1.0)
    return equal


def history(apps: AppClient, timeline: Timeline, names: Sequence[str]) -> Check:
    """Each app's ``status.history`` has one entry per successful sync on the timeline, ids 0..n-1,
    and every revision the timeline says was synced (nothing lost, nothing twice).

    A sync is one operation: its revision and its start time. A controller
    killed after it logged ``sync_finished`` but before the status write
    leaves the operation Running in the status; the next controller resumes
    it under the same start time and logs ``sync_finished`` again
    (``resumed``). Argo CD's history holds that operation once, and so must
    labkit's: the resumed line is not counted again.
    """
    lost, entries, syncs, broken = 0, 0, 0, []
    for name in names:
        synced = _operations(timeline, name)
        found = (apps.get(name).get("status") or {}).get("history") or []
        lost += len({e.revision for e in synced} - {h.get("revision") for h in found})
        ids = [int(h.get("id", -1)) for h in found]
        if ids != list(range(len(found))) or len(found) != len(synced):
            broken.append(f"{name}: {len(found)} entries for {len(synced)} syncs")
        entries, syncs = entries + len(found), syncs + len(synced)
    measured = f"{entries} entries for {syncs} syncs; {lost} revisions lost" + "".join(
        f"; {b}" for b in broken
    )
    return Check("history: one entry per sync, none lost", lost == 0 and not broken, measured)


def _operations(timeline: Timeline, app: str) -> list[Event]:
    """The successful, non-dry-run syncs of ``app``: one ``sync_finished`` per operation.

    An operation begins with a ``sync_started`` that is not ``resumed``. A
    controller killed after logging ``sync_finished`` but before writing the
    result leaves it Running; the next one resumes it and logs
    ``sync_started`` and ``sync_finished`` again, both ``resumed``: that
    finish belongs to the operation in flight and counts only if it was not
    logged finished before. (Start times cannot tell operations apart: they
    have the status's one-second resolution, and a self-heal often starts in
    the same second as the sync before it.)
    """
    found: list[Event] = []
    in_flight_finished = False
    for e in timeline.read(app=app):
        if e.kind not in ("sync_started", "sync_finished") or e.data.get("dry_run"):
            continue
        resumed = bool(e.data.get("resumed"))
        if e.kind == "sync_started":
            if not resumed:
                in_flight_finished = False
            continue
        if e.data.get("phase") == "Succeeded" and not (resumed and in_flight_finished):
            found.append(e)
        in_flight_finished = True
    return found


def agent_outages(timeline: Timeline, since_ns: int, worst_restart_s: float) -> Check:
    """No stretch without the agent's heartbeat longer than the worst restart plus one beat."""
    gaps = [float(e.data.get("down_s") or 0) for e in timeline.read(kind="agent_up", since_ns=since_ns)]
    bound, worst = worst_restart_s + heartbeat.RENEW_S + 0.5, max(gaps, default=0.0)
    measured = f"max {worst:.2f} s <= {bound:.2f} s ({len(gaps)} take-overs)"
    return Check("agent outage <= worst restart + one beat", worst <= bound, measured)


@contextlib.contextmanager
def private_tmp(path: Path) -> Iterator[Path]:
    """TMPDIR for every process the soak's lab starts, so what they leave behind is theirs alone."""
    path.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old


def leftovers(settings: Settings, tmp: Path, timeout_s: float = 15.0) -> list[Check]:
    """After `labkit down`: processes that still name the lab (or its TMPDIR), and files left in TMPDIR."""
    deadline = time.monotonic() + timeout_s
    orphans = _orphans(settings.state_dir, tmp)
    while orphans and time.monotonic() < deadline:
        time.sleep(0.5)
        orphans = _orphans(settings.state_dir, tmp)
    files = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
    return [
        Check("no orphan processes", not orphans, f"{len(orphans)} " + "; ".join(orphans[:3])),
        Check("no temp files left", not files, f"{len(files)} " + ", ".join(files[:5])),
    ]


def _orphans(state_dir: Path, tmp: Path) -> list[str]:
    marks = (str(state_dir).encode(), f"TMPDIR={tmp}".encode())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            text = cmdline + b"\0" + (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(mark in text for mark in marks):
            found.append(f"{proc.name}: {cmdline[:60]!r}")
    return found
