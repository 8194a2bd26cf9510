"""Build ``Application.status`` from comparisons and sync runs (Argo CD's shape).

Pure functions that turn controller results into the dicts stored in the
Application's status subresource (called by ``labkit.gitops.record`` and
``labkit.gitops.operations``), so that ``kubectl get applications.labkit.dev -o yaml``
reads like Argo CD's ``argocd app get``: ``sync``, ``health``, ``resources``,
``conditions``, ``operationState``, ``history`` and ``reconciledAt``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labkit.gitops.application import AppSpec, SyncOperation
from labkit.gitops.compare import Comparison
from labkit.gitops.sync import SyncRun
from labkit.gitops.types import OperationPhase, ResourceKey, SyncStatus

Manifest = dict[str, Any]

# Condition types, as Argo CD names them.
INVALID_SPEC = "InvalidSpecError"
COMPARISON_ERROR = "ComparisonError"
SYNC_ERROR = "SyncError"
SHARED_RESOURCE_WARNING = "SharedResourceWarning"


def iso(ts: float) -> str:
    """A Kubernetes-style UTC timestamp (second precision, as the API server keeps them)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sync_status(spec: AppSpec, comparison: Comparison | None, revision: str | None) -> Manifest:
    status = comparison.sync_status if comparison else SyncStatus.Unknown
    out: Manifest = {
        "status": status.value,
        "comparedTo": {
            "source": {"repoURL": spec.repo_url, "path": spec.path, "targetRevision": spec.target_revision},
            "destination": {"namespace": spec.dest_namespace},
        },
    }
    if revision:
        out["revision"] = revision
    return out


def health_status(comparison: Comparison | None) -> Manifest:
    if comparison is None:
        return {"status": "Unknown", "message": "not compared yet"}
    out: Manifest = {"status": comparison.health.status.value}
    if comparison.health.message:
        out["message"] = comparison.health.message
    return out


def conditions(errors: dict[str, str], now: float, previous: list[Manifest] | None = None) -> list[Manifest]:
    """One condition per error type; keep the first-seen time of ones that persist."""
    seen = {(c.get("type"), c.get("message")): c.get("lastTransitionTime") for c in previous or []}
    return [
        {"type": kind, "message": message, "lastTransitionTime": seen.get((kind, message)) or iso(now)}
        for kind, message in sorted(errors.items())
    ]


def shared_resource_message(app: str, shared: dict[ResourceKey, str]) -> str:
    """One line naming both apps, as Argo CD words it: "<object> is part of applications <app> and <other>".

    Argo CD writes one condition per object; one condition per type is kept
    here, so further objects are counted rather than listed.
    """
    if not shared:
        return ""
    first = min(shared, key=str)
    message = f"{first} is part of applications {app} and {shared[first]}"
    more = len(shared) - 1
    return message + (f" (and {more} more object{'s' if more > 1 else ''})" if more else "")


def operation_state(run: SyncRun, op: SyncOperation) -> Manifest:
    """``status.operationState`` for a running or finished sync."""
    state: Manifest = {
        "operation": {
            "sync": {"revision": run.revision, "prune": op.prune, "dryRun": op.dry_run},
            "initiatedBy": {"username": op.initiated_by or "labkit", "automated": op.automated},
        },
        "phase": run.phase.value,
        "message": run.message,
        "startedAt": iso(run.started_at),
        "syncResult": {
            "revision": run.revision,
            "resources": [r.to_status() for r in run.results],
        },
    }
    if run.finished_at is not None:
        state["finishedAt"] = iso(run.finished_at)
    return state


def add_history(history: list[Manifest], spec: AppSpec, run: SyncRun, op: SyncOperation) -> list[Manifest]:
    """Append one entry for a successful sync, trimmed to revisionHistoryLimit.

    Every call is one entry, a resumed sync's too: its entry cannot be there
    already, because the history and the final operationState are one status
    write, and only a sync whose operationState still says Running is resumed.
    (Matching on revision and start time would be wrong: ``deployStartedAt``
    has one-second resolution, and a self-heal often starts in the same
    second as the sync before it.)
    """
    if run.phase is not OperationPhase.Succeeded or op.dry_run:
        return history
    started = iso(run.started_at)
    next_id = max((int(h.get("id", 0)) for h in history), default=-1) + 1
    entry = {
        "id": next_id,
        "revision": run.revision,
        "deployStartedAt": started,
        "deployedAt": iso(run.finished_at or run.started_at),
        "source": {"repoURL": spec.repo_url, "path": spec.path, "targetRevision": spec.target_revision},
        "initiatedBy": {"username": op.initiated_by or "labkit", "automated": op.automated},
    }
    limit = max(spec.revision_history_limit, 1)
    return (history + [entry])[-limit:]


def merge_patch(old: Manifest, new: Manifest) -> Manifest:
    """A JSON merge patch turning ``old`` into ``new``.

    A merge patch only removes a key that it sets to null, so keys that
    ``new`` no longer has (a health message from the last rollout, a cleared
    condition list) are sent as None; otherwise they would linger.
    """
    patch: Manifest = dict(new)
    for key, value in old.items():
        if key not in new:
            patch[key] = None
        elif isinstance(value, dict) and isinstance(new[key], dict):
            patch[key] = merge_patch(value, new[key])
    return patch
