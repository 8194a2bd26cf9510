"""Latency tables from the timeline: how long each step of GitOps took, measured.

The notebooks, ``labkit.ui.plots`` and the benchmarks call these functions
on a lab's ``timeline.jsonl`` (a :class:`labkit.events.Timeline`, a path, or
any iterable of :class:`labkit.events.Event`); nothing else feeds them.
pandas is imported inside each function so ``import labkit`` stays light.

How events are joined (every latency is in seconds after the anchor event):

- **commit** (:func:`commit_latencies`): the anchor is a ``pushed`` event
  (actor ``git``). Controller events count for it when they carry the same
  ``revision``, happen at or after the push and before the next push of that
  same revision. One row per (app, pushed revision); a push no app reacted
  to yet gets one row with ``app`` empty. ``synced_s`` only counts a
  ``sync_finished`` that is not a dry run and whose ``phase`` is Succeeded.
- **pipeline** (:func:`pipeline_latencies`): one row per ``pipeline_started``;
  the anchor is the latest push of that revision at or before it. The outcome
  is the first ``pipeline_applied`` / ``pipeline_failed`` of that revision
  before the next ``pipeline_started`` of it.
- **drift** (:func:`drift_latencies`): one row per ``drift_injected``; the
  anchor is the injection. ``drift_detected``, ``healed`` and
  ``self_heal_attempt`` events of the same app (of any app when the
  injection names none) count for it from the injection until the next
  injection into that app, so each heal is credited to the latest drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.events import Event, Timeline

if TYPE_CHECKING:
    import pandas as pd

TimelineSource = Timeline | Path | str | Iterable[Event]
BASE_COLUMNS = ("ts", "ts_ns", "actor", "kind", "app", "revision")
_NS = 1e9


def _events(timeline: TimelineSource) -> list[Event]:
    if isinstance(timeline, str | Path):
        timeline = Timeline(Path(timeline))
    return sorted(timeline, key=lambda e: e.ts_ns)


def events_frame(timeline: TimelineSource) -> pd.DataFrame:
    """One row per event in time order: ts (UTC datetime), ts_ns, actor, kind, app, revision, data..."""
    import pandas as pd

    rows = [
        {**e.data, "ts_ns": e.ts_ns, "actor": e.actor, "kind": e.kind, "app": e.app, "revision": e.revision}
        for e in _events(timeline)
    ]
    df = pd.DataFrame(rows)
    for column in BASE_COLUMNS[1:]:
        if column not in df:
            df[column] = pd.Series(dtype="int64" if column == "ts_ns" else "object")
    df.insert(0, "ts", pd.to_datetime(df.pop("ts_ns").astype("int64"), unit="ns", utc=True))
    df.insert(1, "ts_ns", df["ts"].astype("int64"))
    data_columns = [c for c in df.columns if c not in BASE_COLUMNS]
    return df[[*BASE_COLUMNS, *data_columns]].reset_index(drop=True)


def _rows(df: pd.DataFrame, kind: str) -> list[dict[str, Any]]:
    return [dict(r) for r in df[df["kind"] == kind].to_dict("records")]


def _first_s(
    rows: Iterable[dict[str, Any]], start_ns: int, end_ns: float, ok: Callable[[dict[str, Any]], bool]
) -> float:
    """Seconds from ``start_ns`` to the first row in [start, end) that ``ok`` accepts; NaN if none."""
    for row in rows:
        if start_ns <= row["ts_ns"] < end_ns and ok(row):
            return (row["ts_ns"] - start_ns) / _NS
    return math.nan


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _window_end(rows: list[dict[str, Any]], i: int, key: str) -> float:
    """Time of the next row after ``rows[i]`` with the same ``key`` (any row when it has none)."""
    value = rows[i][key]
    return next((r["ts_ns"] for r in rows[i + 1 :] if not _present(value) or r[key] == value), math.inf)


def _sync_ok(row: dict[str, Any]) -> bool:
    """A real (not dry-run) sync that succeeded; events without a phase count as success."""
    if row["kind"] != "sync_finished" or row.get("dry_run") is True:
        return False
    return not _present(row.get("phase")) or row.get("phase") == "Succeeded"


def commit_latencies(timeline: TimelineSource, app: str | None = None) -> pd.DataFrame:
    """One row per (app, pushed revision): pushed_at, webhook_s, detected_s, synced_s, healthy_s."""
    import pandas as pd

    df = events_frame(timeline)
    controller = df[df["actor"] == "controller"].to_dict("records")
    pushes = [p for p in _rows(df, "pushed") if p.get("deleted") is not True and _present(p["revision"])]
    rows = []
    for i, push in enumerate(pushes):
        rev, start = push["revision"], push["ts_ns"]
        end = _window_end(pushes, i, "revision")
        mine = [r for r in controller if r["revision"] == rev and start <= r["ts_ns"] < end]
        apps = sorted({r["app"] for r in mine if _present(r["app"])})
        for name in [a for a in apps if app in (None, a)] or ([None] if app is None else []):
            own = [r for r in mine if r["app"] == name]
            rows.append(
                {
                    "app": name,
                    "revision": rev,
                    "message": push.get("message"),
                    "pushed_at": push["ts"],
                    "webhook_s": _first_s(mine, start, end, lambda r: r["kind"] == "webhook_received"),
                    "detected_s": _first_s(own, start, end, lambda r: r["kind"] == "revision_detected"),
                    "synced_s": _first_s(
                        own, start, end, lambda r: r["kind"] == "sync_finished" and _sync_ok(r)
                    ),
                    "healthy_s": _first_s(own, start, end, lambda r: r["kind"] == "healthy"),
                }
            )
    columns = ["app", "revision", "message", "pushed_at", "webhook_s", "detected_s", "synced_s", "healthy_s"]
    return pd.DataFrame(rows, columns=columns)


def pipeline_latencies(timeline: TimelineSource) -> pd.DataFrame:
    """One row per pipeline run: revision, app, pushed_at, started_s, applied_s, failed_s, outcome."""
    import pandas as pd

    df = events_frame(timeline)
    pushes = _rows(df, "pushed")
    runs = _rows(df, "pipeline_started")
    ends = df[df["kind"].isin(["pipeline_applied", "pipeline_failed"])].to_dict("records")
    rows = []
    for i, run in enumerate(runs):
        rev, started = run["revision"], run["ts_ns"]
        before = [p for p in pushes if p["revision"] == rev and p["ts_ns"] <= started]
        anchor = before[-1]["ts_ns"] if before else started
        end = _window_end(runs, i, "revision")
        own = [r for r in ends if r["revision"] == rev]
        applied = _first_s(own, started, end, lambda r: r["kind"] == "pipeline_applied")
        failed = _first_s(own, started, end, lambda r: r["kind"] == "pipeline_failed")
        outcome = "running"
        if not math.isnan(applied) or not math.isnan(failed):
            outcome = "applied" if math.isnan(failed) or applied < failed else "failed"
        shift = (started - anchor) / _NS
        rows.append(
            {
                "revision": rev,
                "app": run["app"],
                "pushed_at": before[-1]["ts"] if before else pd.NaT,
                "started_s": shift if before else math.nan,
                "applied_s": applied + shift if before else math.nan,
                "failed_s": failed + shift if before else math.nan,
                "run_s": applied if outcome == "applied" else failed,
                "outcome": outcome,
            }
        )
    columns = ["revision", "app", "pushed_at", "started_s", "applied_s", "failed_s", "run_s", "outcome"]
    return pd.DataFrame(rows, columns=columns)


def drift_latencies(timeline: TimelineSource) -> pd.DataFrame:
    """One row per ``drift_injected``: app, injected_at, detected_s, healed_s, heal_attempts, its data."""
    import pandas as pd

    df = events_frame(timeline)
    injections = _rows(df, "drift_injected")
    reactions = df[df["kind"].isin(["drift_detected", "healed", "self_heal_attempt"])].to_dict("records")
    rows = []
    for i, inj in enumerate(injections):
        name, start = inj["app"], inj["ts_ns"]
        end = _window_end(injections, i, "app")
        own = [r for r in reactions if not _present(name) or r["app"] == name]
        attempts = sum(1 for r in own if r["kind"] == "self_heal_attempt" and start <= r["ts_ns"] < end)
        what = {k: v for k, v in inj.items() if k not in BASE_COLUMNS and _present(v)}
        rows.append(
            {
                "app": name if _present(name) else None,
                "injected_at": inj["ts"],
                "detected_s": _first_s(own, start, end, lambda r: r["kind"] == "drift_detected"),
                "healed_s": _first_s(own, start, end, lambda r: r["kind"] == "healed"),
                "heal_attempts": attempts,
                **what,
            }
        )
    columns = ["app", "injected_at", "detected_s", "healed_s", "heal_attempts"]
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=columns)


def summary(df: pd.DataFrame, column: str) -> dict[str, float]:
    """count, p50, p95 and max of one latency column (NaN rows left out; NaN stats when empty)."""
    import pandas as pd

    values = pd.to_numeric(df[column], errors="coerce").dropna() if column in df else pd.Series(dtype=float)
    if values.empty:
        return {"count": 0, "p50": math.nan, "p95": math.nan, "max": math.nan}
    return {
        "count": int(values.size),
        "p50": float(values.quantile(0.5)),
        "p95": float(values.quantile(0.95)),
        "max": float(values.max()),
    }


__all__ = [
    "commit_latencies",
    "drift_latencies",
    "events_frame",
    "pipeline_latencies",
    "summary",
]
