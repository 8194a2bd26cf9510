"""What the controller remembers about one Application, and the status it writes.

Only :class:`labkit.gitops.controller.Controller` changes an :class:`AppRecord`:
the parts of a reconcile return what they found or decided
(``refresh.RefreshResult``, ``comparer.CompareResult``,
:class:`OperationResult`) and the controller copies it here. Most of a
record is rebuilt from ``Application.status`` when the controller starts
(history, the last synced revision), so a restarted controller picks up
where the last one stopped. The rest (the comparison, the running sync)
lives only in memory and is recomputed on the first reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labkit.errors import LabkitError
from labkit.gitops import status as st
from labkit.gitops.application import AppSpec, SyncOperation
from labkit.gitops.autosync import Memory
from labkit.gitops.compare import Comparison
from labkit.gitops.sync import SyncRun
from labkit.gitops.types import ResourceKey

Manifest = dict[str, Any]


def one_line(e: BaseException) -> str:
    """An error as one line for a condition: message, then the next step."""
    if isinstance(e, LabkitError):
        return f"{e.message}. Next step: {e.hint}" if e.hint else e.message
    return str(e)


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=st.UTC).timestamp()


@dataclass
class AppRecord:
    """In-memory state of one app inside the controller."""

    name: str
    repo_url: str = ""
    revision: str | None = None
    """The commit the last Git refresh resolved targetRevision to."""
    next_poll_at: float = 0.0
    comparison: Comparison | None = None
    kinds: frozenset[tuple[str, str]] = frozenset()
    """Every (apiVersion, kind) this app has managed: watched, and searched when pruning."""
    run: SyncRun | None = None
    op: SyncOperation | None = None
    op_state: Manifest | None = None
    history: list[Manifest] = field(default_factory=list)
    deployed_revision: str | None = None
    """Revision of the last successful sync: drift is an OutOfSync on this revision."""
    memory: Memory = field(default_factory=Memory)
    healthy_revision: str | None = None
    flux_style: bool = False
    last_decision: str = ""
    invalid_spec: str = ""
    refresh_error: str = ""
    render_error: str = ""
    sync_error: str = ""
    shared: dict[ResourceKey, str] = field(default_factory=dict)
    """Objects this app declares that another app's tracking id claims: key -> that app."""
    unsettled: bool = False
    """The last comparison raced a change on the server: do not act on it, look again shortly."""
    resumed_started_at: float | None = None

    @property
    def syncing(self) -> bool:
        """An operation runs: not finished, or finished but its result not yet in the status."""
        return self.run is not None and not (self.run.done and self.run.recorded)

    @classmethod
    def from_status(cls, name: str, status: Manifest) -> AppRecord:
        record = cls(name)
        record.history = list(status.get("history") or [])
        if record.history:
            record.deployed_revision = record.history[-1].get("revision")
        op_state = status.get("operationState") or {}
        record.op_state = op_state or None
        result = op_state.get("syncResult") or {}
        if result.get("revision") and not (op_state.get("operation", {}).get("sync") or {}).get("dryRun"):
            failed = op_state.get("phase") in ("Failed", "Error")
            record.memory = Memory(synced_revision=result["revision"], last_failed=failed)
        if op_state.get("phase") == "Running" and op_state.get("startedAt"):
            # A sync was cut short (controller killed): resume it under the
            # same start time, so its history entry is not written twice.
            record.resumed_started_at = parse_iso(op_state["startedAt"])
        kinds = set()
        for r in status.get("resources") or []:
            group, version = r.get("group", ""), r.get("version", "")
            kinds.add((f"{group}/{version}" if group else version, r.get("kind", "")))
        record.kinds = frozenset(kinds)
        return record

    def conditions(self) -> dict[str, str]:
        """Condition type -> message, for every problem the app has now."""
        errors = {
            st.INVALID_SPEC: self.invalid_spec,
            st.COMPARISON_ERROR: self.refresh_error or self.render_error,
            st.SYNC_ERROR: self.sync_error,
            st.SHARED_RESOURCE_WARNING: st.shared_resource_message(self.name, self.shared),
        }
        return {kind: message for kind, message in errors.items() if message}

    def status(self, spec: AppSpec | None, old: Manifest) -> Manifest:
        """The full ``status`` to write (``reconciledAt`` is added by the caller)."""
        now = datetime.now().timestamp()
        out: Manifest = {
            "conditions": st.conditions(self.conditions(), now, old.get("conditions")),
            "history": self.history,
        }
        if spec is None:
            out["sync"] = {"status": "Unknown"}
            out["health"] = {"status": "Unknown", "message": self.invalid_spec}
            return out
        out["sync"] = st.sync_status(spec, self.comparison, self.revision)
        out["health"] = st.health_status(self.comparison)
        if self.comparison is not None:
            out["resources"] = [r.to_status() for r in self.comparison.resources]
        elif old.get("resources"):
            out["resources"] = old["resources"]
        if self.op_state:
            out["operationState"] = self.op_state
        if self.last_decision:
            out["summary"] = {"agent": self.last_decision}
        return out


@dataclass(frozen=True)
class OperationResult:
    """What one call to ``labkit.gitops.operations.Operations.act`` decided; the controller copies it here."""

    run: SyncRun | None
    op: SyncOperation | None
    op_state: Manifest | None
    memory: Memory
    history: list[Manifest]
    deployed_revision: str | None
    sync_error: str
    last_decision: str
    resumed_started_at: float | None
    finished: bool = False
    """A sync ended here: compare again at once before writing status (``synced`` is queued)."""

    @classmethod
    def unchanged(cls, record: AppRecord) -> OperationResult:
        return cls(
            record.run,
            record.op,
            record.op_state,
            record.memory,
            record.history,
            record.deployed_revision,
            record.sync_error,
            record.last_decision,
            record.resumed_started_at,
        )
