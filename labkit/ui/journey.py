"""One commit's journey across the actors, as a table and as a swimlane plot.

The notebook section "the flow: push → the agent notices → it syncs" and
the dashboard's live plot (:mod:`labkit.ui.panel`) call :func:`swimlane`;
:func:`commit_events` is the same data as a table. Computed from the
timeline only, through :func:`labkit.metrics.events_frame`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from labkit.ui.figures import LabFigure, PlotError, new_figure, no_data
from labkit.ui.source import Source, as_int, flag, present, records

if TYPE_CHECKING:
    import pandas as pd

LANES = ("git", "pipeline", "controller", "drift")
LANE_COLORS = {"git": "tab:purple", "pipeline": "tab:orange", "controller": "tab:blue", "drift": "tab:red"}
EVENT_COLUMNS = ["t_s", "actor", "kind", "label", "ts_ns"]
BOOKKEEPING = frozenset({"reconciled"})
"""Events kept for the what-if model's fit (one per reconcile), not steps of a commit's journey."""


def _pick_revision(rows: list[dict[str, Any]], app: str, revision: str | None) -> str | None:
    """The full sha meant by ``revision`` (a prefix is fine); without one, the latest push."""
    if revision is None:
        pushed = [r["revision"] for r in rows if r["kind"] == "pushed" and not flag(r.get("deleted"))]
        seen = [r["revision"] for r in rows if r["app"] == app and present(r["revision"])]
        latest = [r for r in pushed if present(r)] or seen
        return latest[-1] if latest else None
    revisions = {r["revision"] for r in rows if present(r["revision"])}
    matches = sorted(r for r in revisions if r.startswith(revision))
    if len(matches) > 1:
        raise PlotError(
            f"revision {revision!r} matches {len(matches)} commits: {', '.join(m[:10] for m in matches)}",
            hint="give more characters of the sha",
        )
    return matches[0] if matches else None


def _text(row: dict[str, Any], key: str, default: str = "?") -> str:
    value = row.get(key)
    return str(value) if present(value) else default


def _label(row: dict[str, Any]) -> str:
    """A few words for one event, as a learner would say it."""
    kind = row["kind"]
    if kind == "pushed":
        return f"push {_text(row, 'revision')[:7]}"
    if kind == "refresh_started":
        return f"refresh ({_text(row, 'trigger')})"
    if kind == "diff_computed":
        return f"diff: {_text(row, 'sync')}"
    if kind == "resource_applied":
        return f"{_text(row, 'code', 'applied')} {_text(row, 'resource', '').split(' ')[-1]}"
    if kind == "sync_finished":
        return "dry run done" if flag(row.get("dry_run")) else f"sync {_text(row, 'phase', 'finished')}"
    if kind == "self_heal_attempt":
        return f"self-heal #{as_int(row.get('attempt'))}"
    if kind == "drift_injected":
        return f"drift: {_text(row, 'drift_kind', _text(row, 'how', 'injected'))[:28]}"
    names = {"revision_detected": "new revision seen", "webhook_received": "webhook"}
    return names.get(kind, kind.replace("_", " "))


def _commit_rows(
    rows: list[dict[str, Any]], app: str, revision: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(full sha, the events of that commit of ``app`` with ``t_s`` set); ("", []) when there are none."""
    rows = [r for r in rows if r["kind"] not in BOOKKEEPING]
    rev = _pick_revision(rows, app, revision)
    # The push pipeline deploys the same commit (often as its own app): its lane belongs in the picture.
    own = [
        r
        for r in rows
        if r["revision"] == rev and (r["app"] == app or not present(r["app"]) or r["actor"] == "pipeline")
    ]
    if rev is None or not own:
        return "", []
    pushes = [r for r in rows if r["kind"] == "pushed" and not flag(r.get("deleted"))]
    own_pushes = [p for p in pushes if p["revision"] == rev]
    start = own_pushes[-1]["ts_ns"] if own_pushes else own[0]["ts_ns"]
    next_any = next((p["ts_ns"] for p in pushes if p["ts_ns"] > start), math.inf)
    next_same = next((p["ts_ns"] for p in own_pushes if p["ts_ns"] > start), math.inf)
    detected = [r["ts_ns"] for r in own if r["kind"] == "revision_detected" and r["ts_ns"] >= start]
    seen_at = detected[0] if detected else math.inf
    picked = [r for r in own if start <= r["ts_ns"] < next_same]
    for r in rows:
        mine = r["app"] == app or (r["actor"] == "drift" and not present(r["app"]))
        no_rev = mine and not present(r["revision"]) and start <= r["ts_ns"] < next_any
        if no_rev and (r["kind"] != "refresh_started" or r["ts_ns"] <= seen_at):
            picked.append(r)  # later refreshes of this app are polls that found nothing new
    picked.sort(key=lambda r: r["ts_ns"])
    return rev, [{**r, "t_s": (r["ts_ns"] - start) / 1e9, "label": _label(r)} for r in picked]


def commit_events(timeline: Source, app: str, revision: str | None = None) -> pd.DataFrame:
    """One commit of ``app``, event by event: t_s (seconds since its push), actor, kind, label, ts_ns.

    ``revision`` may be a prefix; without it, the latest push. Events carrying
    the revision count until the same revision is pushed again; events
    without one (a refresh, a drift injection) count until the next push,
    refreshes only up to the moment the revision was seen.
    """
    import pandas as pd

    _, picked = _commit_rows(records(timeline), app, revision)
    return pd.DataFrame([[r[c] for c in EVENT_COLUMNS] for r in picked], columns=EVENT_COLUMNS)


ROW_IN = 0.19
"""Height of one event's row in inches (7 pt text): every event gets a row of its own."""
LANE_GAP = 0.8
"""Rows of space between two lanes."""
LABEL_BOX = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1}


def _rows(events: pd.DataFrame, lanes: list[str]) -> tuple[dict[str, tuple[float, float]], float]:
    """Lanes top to bottom, each event on a row of its own (earliest at the top of its lane).

    Returns, per lane, (its bottom, its top) in rows, and the total height; the
    events of a lane sit at ``top - 0.5 - i``. Labels never share a row, so a
    burst of events 10 ms apart stays as readable as a 30 s wait.
    """
    spans: dict[str, tuple[float, float]] = {}
    y = 0.0
    for actor in reversed(lanes):
        n = max(int((events["actor"] == actor).sum()), 1)
        spans[actor] = (y, y + n)
        y += n + LANE_GAP
    return spans, y - LANE_GAP


def _draw_lane(ax: Any, lane: pd.DataFrame, actor: str, top: float, span: float) -> None:
    """One marker per event of ``actor`` and its label on the same row: "0.11 s  new revision seen"."""
    ys = [top - 0.5 - i for i in range(len(lane))]
    ax.scatter(lane["t_s"], ys, label=actor, color=LANE_COLORS.get(actor), zorder=3, s=18)
    for y, t, label in zip(ys, lane["t_s"], lane["label"], strict=True):
        late = t > span * 0.6  # late events are labelled on their left, so the text stays in the plot
        ax.text(
            t + (-1 if late else 1) * span * 0.012,
            y,
            f"{t:.2f} s  {label}",
            fontsize=7,
            va="center",
            ha="right" if late else "left",
            bbox=LABEL_BOX,
        )


def swimlane(timeline: Source, app: str, revision: str | None = None) -> LabFigure:
    """One commit across the actors (git, pipeline, controller, drift): what happened when, in seconds.

    Each actor has a lane and each event a row of its own in that lane, so
    events close in time never share or hide a label, however many there are.
    """
    import pandas as pd

    rows = records(timeline)
    rev, picked = _commit_rows(rows, app, revision)
    events = pd.DataFrame(picked, columns=EVENT_COLUMNS)
    lanes = list(LANES) + sorted(set(events["actor"]) - set(LANES))
    span = max(float(events["t_s"].max()), 1e-3) if not events.empty else 1.0
    spans, height = _rows(events, lanes)
    fig, ax = new_figure(11, 1.4 + height * ROW_IN)
    ax.set_yticks([sum(spans[a]) / 2 for a in lanes], labels=lanes)
    ax.set_ylim(-0.3, height + 0.3)
    ax.set_xlabel("time since git push (s)")
    ax.set_ylabel("actor")
    for bottom, top in spans.values():
        ax.axhspan(bottom - 0.1, top + 0.1, color="0.96", zorder=0)
    if events.empty:
        ax.set_title(f"{app}: no events for {revision or 'any commit'} yet")
        no_data(ax, "push a commit and the events of its journey appear here")
        return fig
    push = next((r for r in picked if r["kind"] == "pushed"), {})
    subject = f' "{push["message"]}"' if present(push.get("message")) else ""
    ax.set_title(f"{app}: one commit from git push to the cluster ({rev[:7]}{subject})")
    for actor in lanes:
        lane = events[events["actor"] == actor]
        if not lane.empty:
            _draw_lane(ax, lane, actor, spans[actor][1], span)
    synced = events[(events["kind"] == "sync_finished") & (events["label"] == "sync Succeeded")]
    if not synced.empty:
        t = float(synced["t_s"].iloc[0])
        ax.axvline(t, color="tab:green", linestyle="--", linewidth=1, label=f"synced after {t:.2f} s")
    ax.set_xlim(-span * 0.03, span * 1.05)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


__all__ = ["EVENT_COLUMNS", "LANES", "commit_events", "swimlane"]
