"""Sync operations inside the controller: start them, step them, finish them.

An operation is a request to sync, written into the Application (the
``operation`` field) by the CLI or a widget, or made by the controller itself
when auto-sync or self-heal decides to act (``labkit.gitops.policy``). This
module turns one into a :class:`labkit.gitops.sync.SyncRun`, advances it each
time the app is reconciled, and when it ends writes ``operationState`` and
``history``, clears the ``operation`` field and tells the timeline.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError
from labkit.gitops import application as appdef
from labkit.gitops import status as st
from labkit.gitops.application import AppSpec, OperationPhase, SyncOperation, SyncStatus
from labkit.gitops.plan import pair, plan_sync
from labkit.gitops.policy import Act, decide
from labkit.gitops.reconcile import Comparison
from labkit.gitops.record import AppRecord, one_line
from labkit.gitops.sync import ResourceResult, SyncRun
from labkit.kube import KubeApiError

if TYPE_CHECKING:
    from labkit.gitops.controller import Controller

Manifest = dict[str, Any]
API_VERSION = f"{appdef.GROUP}/{appdef.VERSION}"
FINALIZER = "labkit.dev/resources-finalizer"


class Operations:
    """The controller's hands: everything that changes the cluster goes through here."""

    def __init__(self, controller: Controller) -> None:
        self.c = controller

    def act(self, obj: Manifest, spec: AppSpec, record: AppRecord, comparison: Comparison | None) -> bool:
        """Advance a running sync, start a requested one, or let the policy decide.

        True when a sync finished here: the app is compared again at once
        ("synced"), and that reconcile writes the status. Written now, it would
        show the comparison from before the sync next to a Succeeded operation.
        """
        if record.run is not None and not record.run.done:
            return self._step(spec, record)
        requested = SyncOperation.from_manifest(obj)
        if requested is not None:
            return self._start(spec, record, requested, comparison)
        if record.resumed_started_at is not None:
            _result_lost(record)
        decision = decide(spec, comparison, record.memory, time.time(), self.c.settings)
        record.last_decision = decision.reason
        if decision.act in (Act.AutoSync, Act.Retry):
            op = SyncOperation(prune=spec.prune, initiated_by="automated sync policy", automated=True)
            if not self._write_operation(obj, op):
                return False  # someone else's operation or spec change came first; it brings us back
            if decision.act is Act.Retry:
                record.memory.retries += 1
            else:
                record.memory.heal_attempts = 0  # a new revision: the self-heal backoff starts again
            return self._start(spec, record, op, comparison)
        if decision.act is Act.SelfHeal:
            record.memory.heal_attempts = decision.attempt
            record.memory.last_heal_at = time.time()
            self.c.timeline.append(
                "controller",
                "self_heal_attempt",
                app=spec.name,
                revision=record.revision,
                attempt=record.memory.heal_attempts,
                resources=sorted(str(k) for k in decision.resources or ()),
            )
            op = SyncOperation(
                prune=spec.prune,
                resources=tuple(sorted(decision.resources or ())),
                initiated_by="automated sync policy (self-heal)",
                automated=True,
            )
            return self._start(spec, record, op, comparison)
        if decision.act is Act.Wait:
            self.c.queue.later(decision.wait_s, spec.name, "backoff")
        return False

    def observe_drift(self, spec: AppSpec, record: AppRecord, comparison: Comparison) -> None:
        """Drift = OutOfSync on the revision that was last synced successfully."""
        drifting = (
            comparison.sync_status is SyncStatus.OutOfSync
            and comparison.revision == record.deployed_revision
            and (record.run is None or record.run.done)
        )
        keys = comparison.out_of_sync() if drifting else set()
        new = keys - record.memory.drifting
        if new:
            paths = {str(k): list(s.diff.changed_paths) for k in new if (s := comparison.get(k))}
            self.c.timeline.append(
                "controller",
                "drift_detected",
                app=spec.name,
                revision=comparison.revision,
                resources=sorted(paths),
                paths=paths,
                self_heal=spec.self_heal,
            )
        if comparison.sync_status is SyncStatus.Synced and record.memory.drifting:
            self.c.timeline.append(
                "controller",
                "healed",
                app=spec.name,
                revision=comparison.revision,
                resources=sorted(str(k) for k in record.memory.drifting),
                attempts=record.memory.heal_attempts,
            )
        record.memory.drifting = keys if drifting else set()

    # -- the sync run ----------------------------------------------------------------

    def _start(
        self, spec: AppSpec, record: AppRecord, op: SyncOperation, comparison: Comparison | None
    ) -> bool:
        try:
            revision = self.c.source.resolve(spec.repo_url, op.revision) if op.revision else record.revision
            if revision is None:
                raise LabkitError("no revision to sync: the repository could not be read")
            desired = self.c.source.desired(
                spec.name, spec.repo_url, spec.path, revision, spec.dest_namespace
            )
            if spec.has_option("CreateNamespace=true"):
                self.c.kube.ensure_namespace(spec.dest_namespace, {"app.kubernetes.io/managed-by": "labkit"})
        except LabkitError as e:
            record.sync_error = one_line(e)
            record.op_state = {
                "phase": "Error",
                "message": record.sync_error,
                "startedAt": st.iso(time.time()),
            }
            self._clear_operation(spec)
            return False
        live = self.c.live.tracked(spec.name, sorted(record.kinds))
        out_of_sync = comparison.out_of_sync() if comparison and comparison.revision == revision else None
        plan = plan_sync(
            pair(list(desired.objects), live, spec.name),
            out_of_sync,
            prune=op.prune,
            apply_out_of_sync_only=spec.has_option("ApplyOutOfSyncOnly=true"),
            prune_last=spec.has_option("PruneLast=true"),
            allow_empty=spec.allow_empty,
            only=set(op.resources) if op.resources is not None else None,
        )
        record.run = SyncRun(
            spec.name,
            revision,
            plan,
            self.c.kube,
            dry_run=op.dry_run,
            health_timeout_s=self.c.settings.health_timeout_s,
            wave_pause_s=self.c.settings.wave_pause_s,
            on_result=lambda r: self._on_result(spec.name, revision, r),
        )
        if record.resumed_started_at is not None:
            record.run.started_at, record.resumed_started_at = record.resumed_started_at, None
            record.run.resumed = True
        record.op = op
        if not op.dry_run:
            record.memory.synced_revision = revision
        self.c.timeline.append(
            "controller",
            "sync_started",
            app=spec.name,
            revision=revision,
            automated=op.automated,
            dry_run=op.dry_run,
            selective=op.resources is not None,
            tasks=len(plan.tasks),
        )
        return self._step(spec, record)

    def _step(self, spec: AppSpec, record: AppRecord) -> bool:
        """Advance the running sync; True when it finished."""
        run, op = record.run, record.op
        assert run is not None and op is not None
        run.step()
        record.op_state = st.operation_state(run, op)
        if not run.done:
            self.c.queue.later(1.0, spec.name, "sync-wait")  # in case no watch event comes
            return False
        succeeded = run.phase is OperationPhase.Succeeded
        record.sync_error = "" if succeeded else run.message
        if op.automated:
            record.memory.last_failed = not succeeded
            record.memory.last_attempt_at = time.time()
            if succeeded:
                record.memory.retries = 0
        if succeeded and not op.dry_run:
            record.history = st.add_history(record.history, spec, run, op)
            record.deployed_revision = run.revision
        self.c.timeline.append(
            "controller",
            "sync_finished",
            app=spec.name,
            revision=run.revision,
            phase=run.phase.value,
            message=run.message,
            automated=op.automated,
            dry_run=op.dry_run,
            duration_s=round((run.finished_at or run.started_at) - run.started_at, 3),
        )
        self._clear_operation(spec)
        self.c.queue.add(spec.name, "synced")  # compare again right away
        return True

    def _on_result(self, app: str, revision: str, result: ResourceResult) -> None:
        self.c.timeline.append(
            "controller",
            "resource_applied",
            app=app,
            revision=revision,
            resource=str(result.key),
            code=result.code.value,
            message=result.message,
        )

    def _write_operation(self, obj: Manifest, op: SyncOperation) -> bool:
        """Show an automated sync in the Application too, as Argo CD does; False if it may not run.

        Like Argo CD's SetAppOperation: never over a user's operation (a
        rollback written a moment ago), never on a spec that changed since this
        reconcile read it (auto-sync just turned off), and only at the
        resourceVersion just read, so a write in between is a conflict, not lost.
        """
        name = obj["metadata"]["name"]
        current = self.c.kube.get(API_VERSION, appdef.KIND, name, self.c.namespace)
        if current is None or current.get("operation") is not None or current.get("spec") != obj.get("spec"):
            return False
        body = appdef.operation_manifest(prune=op.prune, initiated_by=op.initiated_by)
        body["initiatedBy"]["automated"] = True
        version = current["metadata"]["resourceVersion"]
        patch = {"metadata": {"resourceVersion": version}, "operation": body}
        try:
            self.c.kube.patch(API_VERSION, appdef.KIND, name, self.c.namespace, patch)
        except KubeApiError as e:
            if e.code == 409:
                return False
            raise
        return True

    def _clear_operation(self, spec: AppSpec) -> None:
        self.c.kube.patch(API_VERSION, appdef.KIND, spec.name, self.c.namespace, {"operation": None})

    # -- deletion ------------------------------------------------------------------------

    def finalize(self, obj: Manifest, record: AppRecord) -> None:
        """Cascade delete: prune every tracked object, then let the Application go."""
        finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        for live in self.c.live.tracked(record.name, sorted(record.kinds)):
            meta = live["metadata"]
            self.c.kube.delete(live["apiVersion"], live["kind"], meta["name"], meta.get("namespace"))
        self.c.timeline.append("controller", "app_deleted", app=record.name, cascade=True)
        finalizers.remove(FINALIZER)
        patch = {"metadata": {"finalizers": finalizers or None}}
        self.c.kube.patch(API_VERSION, appdef.KIND, record.name, self.c.namespace, patch)
        self.c.apps.pop(record.name, None)


def _result_lost(record: AppRecord) -> None:
    """The controller stopped while a sync was finishing: its operation is gone, its result unknown."""
    record.resumed_started_at = None
    if record.op_state and record.op_state.get("phase") == OperationPhase.Running.value:
        message = "the controller stopped before it recorded this sync's result; sync again to be sure"
        record.op_state = {**record.op_state, "phase": OperationPhase.Error.value, "message": message}
