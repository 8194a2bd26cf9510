"""DataFrames and text views the notebooks display: commits, a checkout, an Application, latencies.

Notebooks call these to show what one object or the timeline says as a table;
:mod:`labkit.course.timeline` builds its tables with :func:`show_table` too.
Everything here only reads. pandas is imported inside the functions that need
it, so importing this module stays light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError
from labkit.events import Event, Timeline

if TYPE_CHECKING:
    import pandas as pd

    from labkit.git import CommitInfo

Manifest = dict[str, Any]


def show_table(rows: Iterable[Any], columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from dataclasses, mappings or tuples (``columns`` picks and orders them)."""
    import pandas as pd

    # Conditions and diff messages are sentences; pandas would cut them at 50 characters.
    pd.set_option("display.max_colwidth", None)
    records = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else r for r in rows]  # type: ignore[arg-type]
    frame = pd.DataFrame(records)
    if columns is not None:
        frame = frame.reindex(columns=columns)
    return frame


def commits_table(commits: Iterable[CommitInfo]) -> pd.DataFrame:
    """The audit trail: one row per commit with who, when, why and which files."""
    rows = [
        {
            "sha": c.short,
            "author": f"{c.author} <{c.email}>",
            "when": c.time.strftime("%Y-%m-%d %H:%M:%S"),
            "why (message)": c.subject,
            "files": ", ".join(c.files),
        }
        for c in commits
    ]
    return show_table(rows, ["sha", "author", "when", "why (message)", "files"])


def repo_tree(root: Path | str, max_depth: int = 6) -> str:
    """The folders and files of a checkout as an indented tree (``.git`` left out)."""
    root = Path(root)
    lines = [f"{root.name}/"]

    def walk(folder: Path, depth: int) -> None:
        entries = sorted(
            (p for p in folder.iterdir() if p.name != ".git"), key=lambda p: (p.is_file(), p.name)
        )
        for entry in entries:
            lines.append("    " * depth + entry.name + ("/" if entry.is_dir() else ""))
            if entry.is_dir() and depth < max_depth:
                walk(entry, depth + 1)

    walk(root, 1)
    return "\n".join(lines)


def who_changed(obj: Manifest | None) -> pd.DataFrame:
    """What the cluster itself knows about who wrote an object: its ``managedFields``.

    A field manager is a program name (``kubectl``, ``kubectl-client-side-apply``,
    ``labkit``...), a timestamp and the fields it owns — no person and no reason.
    """
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    rows = [
        {
            "manager": e.get("manager", ""),
            "operation": e.get("operation", ""),
            "time": e.get("time", ""),
            "fields it owns (top level)": ", ".join(
                sorted(k.removeprefix("f:") for k in (e.get("fieldsV1") or {}) if k.startswith("f:"))
            ),
        }
        for e in entries
    ]
    return show_table(rows, ["manager", "operation", "time", "fields it owns (top level)"])


def conditions(app_obj: Manifest) -> pd.DataFrame:
    """The Application's conditions (what is wrong, in words), empty when all is well."""
    rows = (app_obj.get("status") or {}).get("conditions") or []
    return show_table(rows, ["type", "message", "lastTransitionTime"])


def app_status(app_obj: Manifest) -> dict[str, str]:
    """Sync status, health, the revision compared with, and what the last operation did."""
    status = app_obj.get("status") or {}
    return {
        "sync": (status.get("sync") or {}).get("status", "Unknown"),
        "health": (status.get("health") or {}).get("status", "Unknown"),
        "revision": str((status.get("sync") or {}).get("revision", ""))[:7],
        "last operation": (status.get("operationState") or {}).get("phase", ""),
        "last synced revision": str(
            ((status.get("operationState") or {}).get("syncResult") or {}).get("revision", "")
        )[:7],
        "auto-sync": "on" if _auto_sync(app_obj) else "off",
    }


def _auto_sync(app_obj: Manifest) -> bool:
    automated = ((app_obj.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    return automated is not None and automated.get("enabled", True) is not False


def resources_table(app_obj: Manifest) -> pd.DataFrame:
    """``status.resources``: each object of the app with its sync status and health."""
    rows = [
        {
            "kind": r.get("kind", ""),
            "name": r.get("name", ""),
            "namespace": r.get("namespace", ""),
            "sync": r.get("status", ""),
            "health": (r.get("health") or {}).get("status", ""),
        }
        for r in (app_obj.get("status") or {}).get("resources") or []
    ]
    return show_table(rows, ["kind", "name", "namespace", "sync", "health"])


def history_table(app_obj: Manifest) -> pd.DataFrame:
    """``status.history``: the deployments this Application made, oldest first, with their ids."""
    rows = [
        {
            "id": h.get("id"),
            "revision": str(h.get("revision", ""))[:7],
            "deployedAt": h.get("deployedAt", ""),
            "initiated by": (h.get("initiatedBy") or {}).get("username", ""),
        }
        for h in (app_obj.get("status") or {}).get("history") or []
    ]
    return show_table(rows, ["id", "revision", "deployedAt", "initiated by"])


def history_id(app_obj: Manifest, revision: str) -> int:
    """The id of the newest history entry that deployed ``revision`` (a sha or a prefix)."""
    entries = [
        h
        for h in (app_obj.get("status") or {}).get("history") or []
        if str(h.get("revision", "")).startswith(revision)
    ]
    if not entries:
        raise LabkitError(
            f"revision {revision[:7]} was never deployed by this Application",
            hint="look at `labkit app history NAME` for the revisions it deployed",
        )
    return int(entries[-1]["id"])


def diff_table(comparison: Any) -> pd.DataFrame:
    """One row per resource of a ``Comparison``: in sync or not, and which fields differ."""
    rows = [
        {
            "resource": str(r.key),
            "sync": r.status.value,
            "reason": r.diff.reason,
            "fields that differ": ", ".join(r.diff.changed_paths),
        }
        for r in comparison.resources
    ]
    return show_table(rows, ["resource", "sync", "reason", "fields that differ"])


def latency_table(columns: Mapping[str, Any]) -> pd.DataFrame:
    """count, p50, p95 and max for each named series of latencies in seconds (NaN left out)."""
    import pandas as pd

    rows = []
    for name, values in columns.items():
        series = pd.to_numeric(pd.Series(list(values), dtype=float), errors="coerce").dropna()
        rows.append(
            {
                "path": name,
                "count": int(series.size),
                "p50 (s)": round(float(series.quantile(0.5)), 2) if series.size else float("nan"),
                "p95 (s)": round(float(series.quantile(0.95)), 2) if series.size else float("nan"),
                "max (s)": round(float(series.max()), 2) if series.size else float("nan"),
            }
        )
    return show_table(rows, ["path", "count", "p50 (s)", "p95 (s)", "max (s)"])


def lab_numbers(timeline: Timeline | Iterable[Event]) -> pd.DataFrame:
    """The latencies this lab has measured so far, one row per path (count, p50, p95, max in seconds).

    Commit → synced by how the agent learnt of the commit (webhook or poll), drift → detected and
    → healed, and commit → applied by the push pipeline. Empty rows mean "not measured yet".
    """
    from labkit import metrics
    from labkit.ui.plots import commit_modes

    events = list(timeline)
    modes = commit_modes(events)
    drift = metrics.drift_latencies(events)
    push = metrics.pipeline_latencies(events)
    return latency_table(
        {
            "commit → synced, webhook": modes[modes["mode"] == "webhook"]["synced_s"],
            "commit → synced, poll": modes[modes["mode"] == "poll"]["synced_s"],
            "commit → applied, push pipeline": push["applied_s"],
            "drift → detected by the agent": drift.get("detected_s", []),
            "drift → healed by self-heal": drift.get("healed_s", []),
        }
    )
