"""Plots of what the lab measured: one commit's swimlane, latency ECDFs, drift and replicas.

The notebooks call these; the dashboard (:mod:`labkit.ui.panel`) draws
:func:`swimlane` live. Every plot is computed from the timeline only, through
:mod:`labkit.metrics` (a :class:`labkit.events.Timeline`, a path, events, or
a frame from :func:`labkit.metrics.events_frame`), except
:func:`replicas_over_time`, which draws what :func:`sample_replicas` read
from the Deployment. Each returns its Figure and never calls ``plt.show``,
so tests can check titles, labels and artists, and nothing leaks into
pyplot's global state (see :mod:`labkit.ui.figures`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from matplotlib.ticker import MaxNLocator

from labkit import metrics
from labkit.ui.figures import LabFigure, PlotError, new_figure, no_data
from labkit.ui.journey import LANES, commit_events, swimlane
from labkit.ui.sampling import sample_replicas
from labkit.ui.source import Source, as_int, as_source, flag, present, records
from labkit.ui.summary import summary_picture

if TYPE_CHECKING:
    import pandas as pd


# -- latency distributions -------------------------------------------------------------------------


def latency_ecdf(frames: Mapping[str, Iterable[float]], title: str, xlabel: str = "seconds") -> LabFigure:
    """One ECDF line per series: the fraction of runs done within x seconds (NaN runs left out)."""
    import numpy as np
    import pandas as pd

    fig, ax = new_figure(8, 4)
    drawn = 0
    for label, series in frames.items():
        values = np.sort(pd.to_numeric(pd.Series(list(series), dtype=object), errors="coerce").dropna())
        if values.size == 0:
            ax.plot([], [], label=f"{label} (no runs)")  # keep it in the legend: "none measured" is news
            continue
        y = np.arange(1, values.size + 1) / values.size
        stats = f"n={values.size}, median {float(np.median(values)):.2f} s"
        ax.step(np.r_[values[0], values], np.r_[0.0, y], where="post", marker="o", label=f"{label} ({stats})")
        drawn += 1
    if not drawn:
        no_data(ax, "no runs measured yet")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs done (ECDF)")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def push_vs_pull(timeline: Source, app: str | None = None) -> LabFigure:
    """Push (the CI pipeline applies) vs pull (the agent syncs): seconds from git push to applied."""
    source = as_source(timeline)
    runs = metrics.pipeline_latencies(source)
    if app is not None:
        runs = runs[runs["app"] == app]
    pull = metrics.commit_latencies(source, app)
    frames = {"push: CI pipeline applies": runs["applied_s"], "pull: agent syncs": pull["synced_s"]}
    return latency_ecdf(
        frames, "Push vs pull: from git push until the cluster is changed", "seconds after git push"
    )


def trigger_mode(trigger: Any) -> str:
    """How a refresh was triggered, in two words a plot can group by: webhook, poll, or the trigger."""
    text = str(trigger) if present(trigger) else ""
    if "webhook" in text.split(","):
        return "webhook"
    return "poll" if text == "poll" else (text or "not detected")


def commit_modes(timeline: Source, app: str | None = None) -> pd.DataFrame:
    """``metrics.commit_latencies`` plus ``trigger`` and ``mode``: what made the agent see each commit."""
    source = as_source(timeline)
    table = metrics.commit_latencies(source, app)
    detections = [r for r in records(source) if r["kind"] == "revision_detected"]
    triggers = []
    for row in table.to_dict("records"):
        found = [
            d.get("trigger")
            for d in detections
            if d["app"] == row["app"] and d["revision"] == row["revision"] and d["ts"] >= row["pushed_at"]
        ]
        triggers.append(found[0] if found else None)
    table["trigger"] = triggers
    table["mode"] = [trigger_mode(t) for t in triggers]
    return table


def poll_vs_webhook(timeline: Source, app: str | None = None) -> LabFigure:
    """Seconds from git push to synced, one ECDF per way the agent learnt of the commit."""
    table = commit_modes(timeline, app)
    order = ["webhook", "poll", *sorted(set(table["mode"]) - {"webhook", "poll"})]
    frames = {mode: table[table["mode"] == mode]["synced_s"] for mode in order}
    return latency_ecdf(frames, "Poll vs webhook: from git push until synced", "seconds after git push")


# -- drift ------------------------------------------------------------------------------------------

DRIFT_ROWS = {
    "drift_injected": ("drift injected", "tab:red", "X"),
    "drift_detected": ("drift detected", "tab:orange", "o"),
    "self_heal_attempt": ("self-heal attempt", "tab:blue", "^"),
    "healed": ("healed", "tab:green", "s"),
}


def _drift_spans(rows: list[dict[str, Any]], end: float) -> list[tuple[float, float, bool]]:
    """(start, stop, healed) of each stretch where the cluster differed from Git."""
    spans, opened = [], None
    for r in rows:
        if r["kind"] in ("drift_injected", "drift_detected") and opened is None:
            opened = r["t_s"]
        elif r["kind"] == "healed" and opened is not None:
            spans.append((opened, r["t_s"], True))
            opened = None
    return spans + ([(opened, end, False)] if opened is not None else [])


def drift_timeline(timeline: Source, app: str) -> LabFigure:
    """Drift injected, detected, self-heal attempts and healed over time, with drifted stretches shaded."""
    rows = [
        r
        for r in records(timeline)
        if r["kind"] in DRIFT_ROWS and (r["app"] == app or (r["actor"] == "drift" and not present(r["app"])))
    ]
    fig, ax = new_figure(10, 3.6)
    names = [name for name, _, _ in DRIFT_ROWS.values()]
    ax.set_yticks(range(len(names)), labels=names[::-1])
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set_title(f"{app}: drift and self-heal")
    ax.set_xlabel("time since the first drift event (s)")
    if not rows:
        no_data(ax, "no drift yet: change the cluster with kubectl, or inject drift")
        return fig
    t0 = rows[0]["ts_ns"]
    for r in rows:
        r["t_s"] = (r["ts_ns"] - t0) / 1e9
    end = max(r["t_s"] for r in rows)
    for kind, (name, color, marker) in DRIFT_ROWS.items():
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        y = len(names) - 1 - names.index(name)
        ax.scatter([r["t_s"] for r in mine], [y] * len(mine), color=color, marker=marker, s=60, label=name)
        for r in mine if kind == "self_heal_attempt" else []:
            number = f"#{as_int(r.get('attempt'))}"
            ax.annotate(number, (r["t_s"], y), xytext=(0, 8), textcoords="offset points")
    for i, (start, stop, healed) in enumerate(_drift_spans(rows, end * 1.05 + 0.5)):
        label = "cluster differs from Git" if i == 0 else None
        ax.axvspan(start, stop, color="tab:red" if healed else "tab:gray", alpha=0.12, label=label)
        if not healed:
            said = [r.get("self_heal") for r in rows if r["kind"] == "drift_detected"]
            off = any(present(v) and not flag(v) for v in said)
            note = "not healed (self-heal is off)" if off else "not healed yet"
            ax.annotate(note, (stop, len(names) - 1.5), ha="right", fontsize=8, color="0.3")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


# -- replicas ---------------------------------------------------------------------------------------


def _samples_frame(samples: Any) -> pd.DataFrame:
    import pandas as pd

    frame = samples if isinstance(samples, pd.DataFrame) else pd.DataFrame(list(samples))
    if not isinstance(samples, pd.DataFrame) and not frame.empty:
        frame = frame.iloc[:, :3].set_axis(["t_s", "desired", "ready"], axis=1)
    missing = {"t_s", "desired", "ready"} - set(frame.columns)
    if missing and not frame.empty:
        raise PlotError(
            f"samples lack the columns {sorted(missing)}",
            hint="pass sample_replicas(...)'s frame, or a list of (t_s, desired, ready)",
        )
    return frame


def replicas_over_time(samples: Any, marks: Mapping[str, float] | None = None, title: str = "") -> LabFigure:
    """Desired vs ready replicas of a Deployment over time; ``marks`` (label -> t_s) draw vertical lines.

    ``samples``: the frame :func:`sample_replicas` returns (its ``attrs["marks"]``
    are drawn too) or a list of ``(t_s, desired, ready)``.
    """
    frame = _samples_frame(samples)
    fig, ax = new_figure(8, 3.8)
    ax.set_title(title or "Desired vs ready replicas")
    ax.set_xlabel("time since sampling started (s)")
    ax.set_ylabel("replicas")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if frame.empty:
        no_data(ax, "no samples")
        return fig
    ax.step(frame["t_s"], frame["desired"], where="post", linestyle="--", label="desired (spec.replicas)")
    ax.step(frame["t_s"], frame["ready"], where="post", label="ready (status.readyReplicas)")
    for i, (label, t) in enumerate({**getattr(frame, "attrs", {}).get("marks", {}), **(marks or {})}.items()):
        ax.axvline(t, color=f"C{i + 2}", linestyle=":", label=f"{label} at {t:.1f} s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


__all__ = [
    "LANES",
    "PlotError",
    "commit_events",
    "commit_modes",
    "drift_timeline",
    "latency_ecdf",
    "poll_vs_webhook",
    "push_vs_pull",
    "replicas_over_time",
    "sample_replicas",
    "summary_picture",
    "swimlane",
    "trigger_mode",
]
