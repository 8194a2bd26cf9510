"""Waiting for and summing up timeline events: marks, waits, apply order, per-app activity.

Notebooks call :func:`now_ns` to mark a moment and :func:`wait_for_event` to wait
for what follows it; :mod:`labkit.course.actions` and
:mod:`labkit.course.experiments` wait the same way. The table helpers only read
the timeline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from labkit.course.tables import show_table
from labkit.errors import LabkitError
from labkit.events import Event, Timeline

if TYPE_CHECKING:
    import pandas as pd


def now_ns() -> int:
    """The wall clock in nanoseconds, as the timeline stamps events (mark a moment, then wait after it)."""
    return time.time_ns()


def wait_for_event(
    timeline: Timeline,
    kinds: str | Iterable[str],
    *,
    app: str | None = None,
    revision: str | None = None,
    since_ns: int | None = None,
    timeout_s: float = 30.0,
    poll_s: float = 0.1,
) -> Event:
    """The first timeline event of one of ``kinds`` (for ``app``/``revision``) at or after ``since_ns``.

    Raises a LabkitError naming what it waited for when nothing comes within ``timeout_s``.
    """
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    deadline = time.monotonic() + timeout_s
    while True:
        for event in timeline.read(app=app, since_ns=since_ns):
            if event.kind in wanted and (revision is None or event.revision == revision):
                return event
        if time.monotonic() >= deadline:
            what = "/".join(sorted(wanted)) + " event" + (f" of {app}" if app else "")
            raise LabkitError(
                f"no {what} within {timeout_s:g} s",
                hint="look at the controller log and `labkit timeline`",
            )
        time.sleep(poll_s)


def apply_order(timeline: Timeline | Iterable[Event], app: str) -> pd.DataFrame:
    """The objects the latest sync of ``app`` touched, in order, with seconds since it started."""
    events = sorted((e for e in timeline if e.app == app), key=lambda e: e.ts_ns)
    starts = [e for e in events if e.kind == "sync_started" and not e.data.get("dry_run")]
    if not starts:
        return show_table([], ["t (s)", "resource", "result", "message"])
    t0 = starts[-1].ts_ns
    rows = [
        {
            "t (s)": round((e.ts_ns - t0) / 1e9, 2),
            "resource": e.data.get("resource", ""),
            "result": e.data.get("code", ""),
            "message": e.data.get("message", ""),
        }
        for e in events
        if e.kind == "resource_applied" and e.ts_ns >= t0
    ]
    return show_table(rows, ["t (s)", "resource", "result", "message"])


ACTIVITY_KINDS = ("sync_started", "self_heal_attempt", "drift_detected", "healed")


def activity(timeline: Timeline | Iterable[Event], apps: Iterable[str]) -> pd.DataFrame:
    """How often each app synced, tried to self-heal, saw drift and healed (one row per app)."""
    names = list(apps)
    counts = {name: dict.fromkeys(ACTIVITY_KINDS, 0) for name in names}
    for event in timeline:
        if event.app in counts and event.kind in ACTIVITY_KINDS:
            counts[event.app][event.kind] += 1
    return show_table([{"app": name, **counts[name]} for name in names], ["app", *ACTIVITY_KINDS])


def heal_attempts(timeline: Timeline | Iterable[Event], app: str) -> pd.DataFrame:
    """Self-heal attempts of ``app`` in order: seconds since the first, attempt number, wait before it."""
    attempts = sorted(
        (e for e in timeline if e.app == app and e.kind == "self_heal_attempt"), key=lambda e: e.ts_ns
    )
    rows, previous = [], None
    for e in attempts:
        t0 = attempts[0].ts_ns
        rows.append(
            {
                "t (s)": round((e.ts_ns - t0) / 1e9, 2),
                "attempt": e.data.get("attempt"),
                "waited since the previous one (s)": round((e.ts_ns - previous) / 1e9, 2)
                if previous
                else None,
            }
        )
        previous = e.ts_ns
    return show_table(rows, ["t (s)", "attempt", "waited since the previous one (s)"])
