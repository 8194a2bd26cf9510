"""Sync operations: start them, step them, finish them — and say what changed.

An operation is a request to sync, written into the Application (the
``operation`` field) by the CLI or a widget, or made by the controller itself
when auto-sync or self-heal decides to act (``labkit.gitops.autosync``).
:meth:`Operations.act` turns one into a :class:`labkit.gitops.sync.SyncRun`
built from a plan (``labkit.gitops.plan``), advances it each time the app is
reconciled, and when it ends writes ``operationState`` and ``history``,
clears the ``operation`` field and tells the timeline.

``Operations`` gets narrow collaborators — the kube client, the source cache,
the live cache, the timeline, the settings and a ``schedule(delay_s, app,
reason)`` callable — never the controller. It reads the app's record and
returns a :class:`labkit.gitops.record.OperationResult`; the controller
copies that onto the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from labkit.errors import LabkitError
from labkit.events import Timeline
from labkit.gitops import status as st
from labkit.gitops.application import AppSpec, SyncOperation, operation_manifest
from labkit.gitops.autosync import Act, Decision, decide
from labkit.gitops.compare import Comparison
from labkit.gitops.dryrun import DryRuns
from labkit.gitops.ignore import RESPECT_IGNORE_DIFFERENCES, respect_pairs
from labkit.gitops.livecache import LiveCache
from labkit.gitops.plan import plan_sync
from labkit.gitops.prune import kept_on_app_delete
from labkit.gitops.reconcile import pair
from labkit.gitops.record import AppRecord, OperationResult, one_line
from labkit.gitops.source import SourceCache
from labkit.gitops.sync import ResourceResult, SyncRun
from labkit.gitops.types import API_VERSION, APP_NAMESPACE, FINALIZER, KIND, OperationPhase
from labkit.kube import Kube, KubeApiError
from labkit.settings import ControllerSettings

Manifest = dict[str, Any]
Schedule = Callable[[float, str, str], None]
"""``schedule(delay_s, app, reason)``: look at ``app`` again after ``delay_s`` seconds."""


class Operations:
    """The controller's hands: everything that changes the cluster goes through here."""

    def __init__(
        self,
        kube: Kube,
        source: SourceCache,
        live: LiveCache,
        timeline: Timeline,
        settings: ControllerSettings,
        schedule: Schedule,
        namespace: str = APP_NAMESPACE,
        clock: Callable[[], float] = time.time,
        dry_runs: DryRuns | None = None,  # None: every dry run asks the API server
    ) -> None:
        self.kube, self.source, self.live, self.timeline = kube, source, live, timeline
        self.settings, self.schedule, self.namespace, self.clock = settings, schedule, namespace, clock
        self.dry_runs = dry_runs

    def act(
        self, obj: Manifest, spec: AppSpec, record: AppRecord, comparison: Comparison | None
    ) -> OperationResult:
        """Advance a running sync, start a requested one, or let the automated sync policy decide.

        ``finished`` is set when a sync ended here: the app is compared again
        at once ("synced"), and that reconcile writes the status. Written now,
        it would show the comparison from before the sync next to a Succeeded
        operation.
        """
        now = OperationResult.unchanged(record)
        if record.syncing:
            return self._step(spec, now)
        requested = SyncOperation.from_manifest(obj)
        if requested is not None and _left_over(requested, record):
            self._clear_operation(spec)  # if the API server refuses, the reconcile fails and is retried
            if record.run is not None:
                record.run.cleared = True
            return replace(now, last_decision="cleared the operation of a sync already recorded")
        if requested is not None:
            return self._start(spec, record, now, requested, comparison)
        if record.resumed_started_at is not None:
            now = _result_lost(now)
        decision = decide(spec, comparison, record.memory, self.clock(), self.settings)
        now = replace(now, last_decision=decision.reason)
        if decision.act in (Act.AutoSync, Act.Retry):
            return self._auto_sync(obj, spec, record, now, decision, comparison)
        if decision.act is Act.SelfHeal:
            return self._self_heal(obj, spec, record, now, decision, comparison)
        if decision.act is Act.Wait:
            self.schedule(decision.wait_s, spec.name, "backoff")
        return now

    def _auto_sync(
        self,
        obj: Manifest,
        spec: AppSpec,
        record: AppRecord,
        now: OperationResult,
        decision: Decision,
        comparison: Comparison | None,
    ) -> OperationResult:
        op = SyncOperation(prune=spec.prune, initiated_by="automated sync policy", automated=True)
        if not self._write_operation(obj, op):
            return now  # someone else's operation or spec change came first; it brings us back
        if decision.act is Act.Retry:
            memory = replace(now.memory, retries=now.memory.retries + 1)
        else:
            memory = replace(
                now.memory, heal_attempts=0
            )  # a new revision: the self-heal backoff starts again
        return self._start(spec, record, replace(now, memory=memory), op, comparison)

    def _self_heal(
        self,
        obj: Manifest,
        spec: AppSpec,
        record: AppRecord,
        now: OperationResult,
        decision: Decision,
        comparison: Comparison | None,
    ) -> OperationResult:
        op = SyncOperation(
            prune=spec.prune,
            resources=tuple(sorted(decision.resources or ())),
            initiated_by="automated sync policy (self-heal)",
            automated=True,
        )
        if not self._write_operation(obj, op):
            return now  # someone else's operation or spec change came first; it brings us back
        memory = replace(now.memory, heal_attempts=decision.attempt, last_heal_at=self.clock())
        self.timeline.append(
            "controller",
            "self_heal_attempt",
            app=spec.name,
            revision=record.revision,
            attempt=decision.attempt,
            resources=sorted(str(k) for k in decision.resources or ()),
        )
        return self._start(spec, record, replace(now, memory=memory), op, comparison)

    # -- the sync run ----------------------------------------------------------------

    def _start(
        self,
        spec: AppSpec,
        record: AppRecord,
        now: OperationResult,
        op: SyncOperation,
        comparison: Comparison | None,
    ) -> OperationResult:
        try:
            revision = (
                self.source.resolve(spec.repo_url, op.revision)
                if op.revision
                else _resumed_revision(now) or record.revision
            )
            if revision is None:
                raise LabkitError("no revision to sync: the repository could not be read")
            desired = self.source.desired(
                spec.name, spec.repo_url, spec.path, revision, spec.dest_namespace, spec.helm
            )
            if spec.has_option("CreateNamespace=true"):
                self.kube.ensure_namespace(spec.dest_namespace, {"app.kubernetes.io/managed-by": "labkit"})
        except LabkitError as e:
            error = one_line(e)
            op_state = {"phase": "Error", "message": error, "startedAt": st.iso(self.clock())}
            self._clear_operation(spec)
            return replace(now, sync_error=error, op_state=op_state)
        live = self.live.tracked(spec.name, sorted(record.kinds))
        out_of_sync = comparison.out_of_sync() if comparison and comparison.revision == revision else None
        pairs = pair(list(desired.objects), live, spec.name)
        if spec.has_option(RESPECT_IGNORE_DIFFERENCES):
            pairs = respect_pairs(pairs, spec.ignore_differences)  # keep the live value of ignored fields
        plan = plan_sync(
            pairs,
            out_of_sync,
            prune=op.prune,
            apply_out_of_sync_only=spec.has_option("ApplyOutOfSyncOnly=true"),
            prune_last=spec.has_option("PruneLast=true"),
            allow_empty=spec.allow_empty,
            only=set(op.resources) if op.resources is not None else None,
        )
        run = SyncRun(
            spec.name,
            revision,
            plan,
            self.kube,
            dry_run=op.dry_run,
            health_timeout_s=self.settings.health_timeout_s,
            wave_pause_s=self.settings.wave_pause_s,
            on_result=lambda r: self._on_result(spec.name, revision, r),
            clock=self.clock,
            dry_run_apply=self.dry_runs.apply if self.dry_runs else None,
        )
        if now.resumed_started_at is not None:
            run.started_at, run.resumed = now.resumed_started_at, True
        memory = now.memory if op.dry_run else replace(now.memory, synced_revision=revision)
        self._record_running(spec, run, op)
        self.timeline.append(
            "controller",
            "sync_started",
            app=spec.name,
            revision=revision,
            automated=op.automated,
            dry_run=op.dry_run,
            selective=op.resources is not None,
            tasks=len(plan.tasks),
            resumed=run.resumed,
        )
        return self._step(spec, replace(now, run=run, op=op, memory=memory, resumed_started_at=None))

    def _step(self, spec: AppSpec, now: OperationResult) -> OperationResult:
        """Advance the running sync; ``finished`` when it ended."""
        run, op = now.run, now.op
        assert run is not None and op is not None
        run.step()
        now = replace(now, op_state=st.operation_state(run, op))
        if not run.done:
            self.schedule(1.0, spec.name, "sync-wait")  # in case no watch event comes
            return now
        return self._finish(spec, now, run, op)

    def _finish(
        self, spec: AppSpec, now: OperationResult, run: SyncRun, op: SyncOperation
    ) -> OperationResult:
        """The run ended: log it, write its result to the status, clear the operation.

        The order matters when the controller is killed in between: (1) the
        timeline, once; (2) the result into the Application's status, as Argo
        CD's persistRevisionHistory and setOperationState do; (3) only then the
        operation goes. Killed before (2), the status still says Running and
        the next controller resumes the operation under the same start time (it
        logs it again, same ``started_at``: one operation); killed after (2),
        the result is safe. A failed write (2) returns ``now`` unchanged but for
        the decision: the run stays unrecorded and the next reconcile computes
        and writes the same result again (no second history entry). A failed
        clear (3) still returns the result, so the record keeps the history it
        wrote; the operation left behind is cleared by the next reconcile, not
        run again (:func:`_left_over`).
        """
        succeeded = run.phase is OperationPhase.Succeeded
        done = replace(now, sync_error="" if succeeded else run.message, finished=True)
        if op.automated:
            memory = replace(now.memory, last_failed=not succeeded, last_attempt_at=self.clock())
            done = replace(done, memory=replace(memory, retries=0) if succeeded else memory)
        if succeeded and not op.dry_run:
            history = st.add_history(now.history, spec, run, op)
            done = replace(done, history=history, deployed_revision=run.revision)
        if not run.logged:
            self._log_finished(spec, run, op)
            run.logged = True
        try:
            self._record_result(spec, done)
        except LabkitError as e:  # the API server is down: the same result is written next time
            self.schedule(2.0, spec.name, "record-retry")
            return replace(now, last_decision=f"sync result not written yet ({e.message}); trying again")
        run.recorded = True
        try:
            self._clear_operation(spec)
            run.cleared = True
        except LabkitError as e:  # recorded: the record must keep this result; the next reconcile clears
            self.schedule(2.0, spec.name, "clear-retry")
            return replace(done, last_decision=f"operation not cleared yet ({e.message}); trying again")
        self.schedule(0.0, spec.name, "synced")  # compare again right away
        return done

    def _log_finished(self, spec: AppSpec, run: SyncRun, op: SyncOperation) -> None:
        self.timeline.append(
            "controller",
            "sync_finished",
            app=spec.name,
            revision=run.revision,
            phase=run.phase.value,
            message=run.message,
            automated=op.automated,
            dry_run=op.dry_run,
            duration_s=round((run.finished_at or run.started_at) - run.started_at, 3),
            # One operation is one (revision, started_at): a sync resumed by a
            # restarted controller finishes again under the same start time.
            started_at=st.iso(run.started_at),
            resumed=run.resumed,
        )

    def _on_result(self, app: str, revision: str, result: ResourceResult) -> None:
        self.timeline.append(
            "controller",
            "resource_applied",
            app=app,
            revision=revision,
            resource=str(result.key),
            code=result.code.value,
            message=result.message,
        )

    def _write_operation(self, obj: Manifest, op: SyncOperation) -> bool:
        """Show an automated sync or self-heal in the Application, as Argo CD does; False if it may not run.

        Written, it is also what a restarted controller resumes when this one
        is killed mid-sync (the status says Running, the operation is there).

        Like Argo CD's SetAppOperation: never over a user's operation (a
        rollback written a moment ago), never on a spec that changed since this
        reconcile read it (auto-sync just turned off), and only at the
        resourceVersion just read, so a write in between is a conflict, not lost.
        """
        name = obj["metadata"]["name"]
        current = self.kube.get(API_VERSION, KIND, name, self.namespace)
        if current is None or current.get("operation") is not None or current.get("spec") != obj.get("spec"):
            return False
        body = operation_manifest(
            prune=op.prune, resources=op.resources, initiated_by=op.initiated_by, automated=True
        )
        version = current["metadata"]["resourceVersion"]
        patch = {"metadata": {"resourceVersion": version}, "operation": body}
        try:
            self.kube.patch(API_VERSION, KIND, name, self.namespace, patch)
        except KubeApiError as e:
            if e.code == 409:
                return False
            raise
        return True

    def _record_running(self, spec: AppSpec, run: SyncRun, op: SyncOperation) -> None:
        """Write ``operationState`` (phase Running, startedAt) before the sync begins, as Argo CD does.

        A controller killed from here until the result is written leaves a
        status the next controller resumes, under this start time.
        """
        state = {**st.operation_state(run, op), "finishedAt": None}  # None: the last sync's goes
        self.kube.patch_status(API_VERSION, KIND, spec.name, self.namespace, {"operationState": state})

    def _record_result(self, spec: AppSpec, now: OperationResult) -> None:
        """Write the finished ``operationState`` and the ``history`` to the Application's status now.

        Raises when the API server is down; the caller keeps the run unrecorded
        (still ``syncing``) and writes this same result on the next reconcile.
        """
        status = {"history": now.history, "operationState": now.op_state}
        self.kube.patch_status(API_VERSION, KIND, spec.name, self.namespace, status)

    def _clear_operation(self, spec: AppSpec) -> None:
        self.kube.patch(API_VERSION, KIND, spec.name, self.namespace, {"operation": None})

    # -- deletion ------------------------------------------------------------------------

    def finalize(self, obj: Manifest, record: AppRecord) -> bool:
        """Cascade delete: prune every tracked object (but ``Delete=false`` ones), then let the app go.

        True when the Application may now be forgotten (its finalizer is removed).
        """
        finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
        if FINALIZER not in finalizers:
            return False
        for live in self.live.tracked(record.name, sorted(record.kinds)):
            if kept_on_app_delete(live):
                continue
            meta = live["metadata"]
            self.kube.delete(live["apiVersion"], live["kind"], meta["name"], meta.get("namespace"))
        self.timeline.append("controller", "app_deleted", app=record.name, cascade=True)
        finalizers.remove(FINALIZER)
        patch = {"metadata": {"finalizers": finalizers or None}}
        self.kube.patch(API_VERSION, KIND, record.name, self.namespace, patch)
        return True


def _left_over(requested: SyncOperation, record: AppRecord) -> bool:
    """True when the Application's operation belongs to a sync that already ended and was recorded.

    The result (history, operationState) and the clearing of the operation are
    two writes (the status is a subresource); Argo CD makes them one. Between
    them the API server may refuse the clear, or the controller may be killed.
    Running such an operation again would sync twice and write two history
    entries for one request. Two cases are known to be left over: this
    controller recorded the run itself (the same operation, its run recorded),
    or the operation is automated and no sync is Running in the status (the
    automated sync policy decides again; it never writes an operation over
    another one). A user's operation left behind by a controller killed
    between the two writes is run again: nothing tells it from the same
    request made anew.
    """
    if record.syncing or record.resumed_started_at is not None:
        return False
    run = record.run
    if run is not None and run.recorded and not run.cleared and requested == record.op:
        return True
    return requested.automated and (record.op_state or {}).get("phase") != OperationPhase.Running.value


def _resumed_revision(now: OperationResult) -> str | None:
    """The revision a sync cut short was running, when this start resumes it (else None).

    Resumed, a sync finishes what it began, as Argo CD resumes from its
    operationState: a commit that arrived during the outage is synced next.
    """
    if now.resumed_started_at is None or not now.op_state:
        return None
    return (now.op_state.get("syncResult") or {}).get("revision") or None


def _result_lost(now: OperationResult) -> OperationResult:
    """The controller stopped while a sync was finishing: its operation is gone, its result unknown."""
    op_state = now.op_state
    if op_state and op_state.get("phase") == OperationPhase.Running.value:
        message = "the controller stopped before it recorded this sync's result; sync again to be sure"
        op_state = {**op_state, "phase": OperationPhase.Error.value, "message": message}
    return replace(now, op_state=op_state, resumed_started_at=None)
