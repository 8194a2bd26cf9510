"""Sync as a step machine: dry run everything, then apply wave by wave.

``labkit.gitops.operations`` makes a :class:`SyncRun` from a plan
(``labkit.gitops.plan``) and calls :meth:`SyncRun.step` each time the app is
reconciled. A sync never blocks waiting for pods: each step does as much as
it can right now and returns the operation's phase.

1. **Dry run** every object first (server-side apply with ``dryRun=All``).
   If any fails, the sync fails and nothing is changed — this is why a
   broken manifest never leaves an app half-applied.
2. **Waves**, in the order phase -> wave -> kind -> name
   (``labkit.gitops.waves``): apply (server-side apply, field manager
   ``labkit``), prune, or create a hook (``labkit.gitops.hooks``). The next
   wave starts only once the previous one is Healthy and its hooks have
   succeeded; until then ``step`` returns Running, and the controller calls
   it again when a watched object changes. A hook that fails fails the sync.
3. When the last wave is applied and its hooks have succeeded, the
   operation has Succeeded. When the sync fails, its SyncFail hooks run
   first; the operation is Failed once they have finished.

Per-resource outcomes are :class:`ResourceResult` records (a result code and
the API server's message), never exceptions. A notebook can drive a
:class:`SyncRun` by hand and print ``run.results`` after every step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from labkit.gitops import hooks, waves
from labkit.gitops.health import health_of
from labkit.gitops.plan import SKIP_DRY_RUN_ON_MISSING, Action, SyncPlan, Task
from labkit.gitops.types import HealthStatus, OperationPhase, ResourceKey, ResultCode, SyncPhase
from labkit.kube import ApplyResult, Kube

Manifest = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class ResourceResult:
    """What happened to one object in a sync (Argo CD's ResourceResult)."""

    key: ResourceKey
    api_version: str
    code: ResultCode
    message: str
    sync_phase: SyncPhase
    wave: int
    hook: bool = False

    def to_status(self) -> Manifest:
        group, _, version = self.api_version.rpartition("/")
        entry: Manifest = {
            "group": group,
            "version": version,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "status": self.code.value,
            "message": self.message,
            "syncPhase": self.sync_phase.value,
        }
        if self.hook:
            entry["hookType"] = self.sync_phase.value
        return entry


def with_last_applied(obj: Manifest) -> Manifest:
    """Record what Git declared in the annotation the legacy three-way diff reads."""
    out = json.loads(json.dumps(obj))
    annotations = out.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return out


@dataclass
class SyncRun:
    """One sync operation of one app at one revision, advanced by :meth:`step`."""

    app: str
    revision: str
    plan: SyncPlan
    kube: Kube
    dry_run: bool = False
    health_timeout_s: float = 120.0
    wave_pause_s: float = 0.0
    on_result: Callable[[ResourceResult], None] | None = None
    clock: Callable[[], float] = time.time
    dry_run_apply: Callable[[Manifest], ApplyResult] | None = None
    """The dry run of step 1; None: ``kube.apply(obj, dry_run=True)`` (the controller passes
    ``labkit.gitops.dryrun.DryRuns.apply``, which remembers the comparison's identical ones)."""
    phase: OperationPhase = OperationPhase.Running
    message: str = "starting"
    results: list[ResourceResult] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float | None = None
    resumed: bool = False
    """A sync a stopped controller had started, taken up again under its first start time."""
    logged: bool = False
    """Its ``sync_finished`` is on the timeline (set by the controller's Operations, once)."""
    recorded: bool = False
    """Its result is in the Application's status (set by the controller's Operations); until then
    a finished run still counts as the app's running operation."""
    cleared: bool = False
    """Its operation is gone from the Application (set by the controller's Operations): a request
    made after that is a new one, even if it asks for the same sync."""
    _checked: bool = False
    _next_wave: int = 0
    _wave_done_at: float = 0.0
    _failure: str | None = None
    """Set when the sync has failed and its SyncFail hooks are running."""
    _hooks_done: dict[tuple[ResourceKey, SyncPhase], hooks.Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self._waves = waves.group(t for t in self.plan.tasks if t.phase is not SyncPhase.SyncFail)
        self._sync_fail = [t for t in self.plan.tasks if t.phase is SyncPhase.SyncFail]

    @property
    def done(self) -> bool:
        return self.phase.completed

    def step(self) -> OperationPhase:
        """Advance as far as possible without waiting; return the phase."""
        if self.done:
            return self.phase
        if self._failure is not None:
            return self._await_sync_fail_hooks()
        if self.plan.refused:
            return self._finish(OperationPhase.Failed, self.plan.refused)
        if not self._checked:
            self._checked = True
            if failed := self._dry_run_all():
                return self._fail(f"dry run failed for {failed} object(s); nothing was changed")
            if self.dry_run:
                return self._finish(OperationPhase.Succeeded, "dry run succeeded; nothing was changed")
        while self._next_wave < len(self._waves):
            if self._next_wave > 0 and not self._wave_finished(self._waves[self._next_wave - 1]):
                return self.phase
            phase, wave, tasks = self._waves[self._next_wave]
            self.message = f"syncing {phase.value} wave {wave} ({len(tasks)} object(s))"
            if not self._run_wave(wave, tasks):
                return self._fail(f"{phase.value} wave {wave} failed: see resources")
            self._next_wave += 1
            self._wave_done_at = self.clock()
        if self._waves and not self._wave_finished(self._waves[-1], hooks_only=True):
            return self.phase
        return self._finish(OperationPhase.Succeeded, "successfully synced (all tasks run)")

    # -- steps --------------------------------------------------------------

    def _dry_run_all(self) -> int:
        failed = 0
        for _, wave, tasks in self._waves:
            for task in tasks:
                if not task.applies or task.desired is None or self._recreated_hook(task):
                    continue
                dry_run = self.dry_run_apply or partial(self.kube.apply, dry_run=True)
                result = dry_run(task.desired)
                if result.ok or (SKIP_DRY_RUN_ON_MISSING in task.sync_options and _no_such_kind(result)):
                    continue
                failed += 1
                self._record(task, wave, ResultCode.SyncFailed, f"dry run: {result.message}")
        return failed

    def _recreated_hook(self, task: Task) -> bool:
        """A BeforeHookCreation hook whose last run still exists: it is deleted, then created anew.

        A dry run against the old object would fail on fields Kubernetes never lets
        change in place (a Job's pod template), though the sync itself will work.
        """
        if not task.hook or hooks.DeletePolicy.BeforeHookCreation not in task.delete_policies:
            return False
        key = task.key
        return self.kube.get(task.api_version, key.kind, key.name, key.namespace or None) is not None

    def _run_wave(self, wave: int, tasks: list[Task]) -> bool:
        ok = True
        for task in tasks:
            code, message = self._execute(task)
            self._record(task, wave, code, message)
            ok = ok and not code.failed
        return ok

    def _execute(self, task: Task) -> tuple[ResultCode, str]:
        key, namespace = task.key, task.key.namespace or None
        if task.action is Action.Prune:
            result = self.kube.delete(task.api_version, key.kind, key.name, namespace)
            return (ResultCode.Pruned, "pruned") if result.ok else (ResultCode.SyncFailed, result.message)
        if task.action is Action.PruneSkipped:
            return ResultCode.PruneSkipped, "ignored (requires pruning)"
        if not task.applies or task.desired is None:
            return ResultCode.Synced, "unchanged"
        existing = self.kube.get(task.api_version, key.kind, key.name, namespace) if task.hook else None
        if existing is not None and hooks.DeletePolicy.BeforeHookCreation in task.delete_policies:
            self._delete_hook(task)  # BeforeHookCreation: the hook runs afresh in each sync
            existing = None
        result = self.kube.apply(with_last_applied(task.desired))
        if not result.ok:
            return ResultCode.SyncFailed, result.message
        verb = "created" if (existing if task.hook else task.live) is None else "configured"
        return ResultCode.Synced, f"{key.kind.lower()}/{key.name} {verb}"

    def _delete_hook(self, task: Task) -> None:
        key, namespace = task.key, task.key.namespace or None
        self.kube.delete(task.api_version, key.kind, key.name, namespace, propagation="Background")
        self.kube.wait_for(
            lambda: self.kube.get(task.api_version, key.kind, key.name, namespace) is None,
            30.0,
            f"old hook {key} to be deleted",
        )

    def _wave_finished(self, group: tuple[SyncPhase, int, list[Task]], hooks_only: bool = False) -> bool:
        """True once a wave's resources are Healthy and its hooks succeeded; a failed hook fails the sync."""
        _, wave, tasks = group
        waiting = []
        for task in tasks:
            if task.hook:
                result, message = self._hook_outcome(task)
                if result is hooks.Outcome.Failed:
                    self._fail(f"{task.phase.value} hook {task.key} failed: {message}".rstrip(": "))
                    return False
                if result is hooks.Outcome.Running:
                    waiting.append(task)
            elif not hooks_only and not self._task_ready(task):
                waiting.append(task)
        if not waiting:
            if self.clock() - self._wave_done_at < self.wave_pause_s and not hooks_only:
                self.message = f"pausing {self.wave_pause_s:.0f} s between waves"
                return False
            return True
        if self.clock() - self._wave_done_at > self.health_timeout_s:
            self._fail(
                f"wave {wave} did not become healthy within {self.health_timeout_s:.0f} s: {waiting[0].key}"
            )
            return False
        verb = "completion of hook" if waiting[0].hook else "healthy state of"
        self.message = f"waiting for {verb} {waiting[0].key}"
        return False

    def _hook_outcome(self, task: Task) -> tuple[hooks.Outcome, str]:
        """Where a created hook stands; once finished, its delete policy is carried out (once)."""
        done = self._hooks_done.get((task.key, task.phase))
        if done is not None:
            return done, ""
        if self._result_of(task) is not ResultCode.Synced:
            return hooks.Outcome.Failed, "could not be created"
        key = task.key
        live = self.kube.get(task.api_version, key.kind, key.name, key.namespace or None)
        result, message = hooks.outcome(live)
        if result is not hooks.Outcome.Running:
            self._hooks_done[(key, task.phase)] = result
            if hooks.deleted_after(task.delete_policies, result):
                self.kube.delete(
                    task.api_version, key.kind, key.name, key.namespace or None, propagation="Background"
                )
        return result, message

    def _task_ready(self, task: Task) -> bool:
        if not task.applies:
            return True
        key = task.key
        live = self.kube.get(task.api_version, key.kind, key.name, key.namespace or None)
        if live is None:
            return False
        health = health_of(live)
        return health is None or health.status in (HealthStatus.Healthy, HealthStatus.Suspended)

    # -- failure and SyncFail hooks --------------------------------------------

    def _fail(self, message: str) -> OperationPhase:
        """The sync has failed: run its SyncFail hooks (if any) before the operation ends Failed."""
        if not self._sync_fail or self.dry_run:
            return self._finish(OperationPhase.Failed, message)
        self._failure = message
        for task in self._sync_fail:
            code, result_message = self._execute(task)
            self._record(task, task.wave, code, result_message)
        self._wave_done_at = self.clock()
        return self._await_sync_fail_hooks()

    def _await_sync_fail_hooks(self) -> OperationPhase:
        assert self._failure is not None
        outcomes = [(t, *self._hook_outcome(t)) for t in self._sync_fail]
        running = [t for t, result, _ in outcomes if result is hooks.Outcome.Running]
        if running and self.clock() - self._wave_done_at <= self.health_timeout_s:
            self.message = f"{self._failure}; waiting for SyncFail hook {running[0].key}"
            return self.phase
        failed = [f"{t.key}: {m}" for t, result, m in outcomes if result is not hooks.Outcome.Succeeded]
        note = f"SyncFail hooks did not succeed ({'; '.join(failed)})" if failed else "SyncFail hooks ran"
        return self._finish(OperationPhase.Failed, f"{self._failure}; {note}")

    # -- bookkeeping ----------------------------------------------------------

    def _result_of(self, task: Task) -> ResultCode | None:
        return next((r.code for r in self.results if r.key == task.key and r.sync_phase is task.phase), None)

    def _record(self, task: Task, wave: int, code: ResultCode, message: str) -> None:
        result = ResourceResult(task.key, task.api_version, code, message, task.phase, wave, hook=task.hook)
        self.results = [r for r in self.results if (r.key, r.sync_phase) != (task.key, task.phase)] + [result]
        if self.on_result is not None:
            self.on_result(result)

    def _finish(self, phase: OperationPhase, message: str) -> OperationPhase:
        self.phase, self.message, self.finished_at = phase, message, self.clock()
        return phase


def _no_such_kind(result: ApplyResult) -> bool:
    return result.code == 404 and str(result.message).startswith("no matches for kind")
