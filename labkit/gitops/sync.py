"""Sync as a step machine: dry run everything, then apply wave by wave.

A sync never blocks waiting for pods. Each call to :meth:`SyncRun.step` does
as much as it can right now and returns the operation's phase:

1. **Dry run** every object first (server-side apply with ``dryRun=All``).
   If any fails, the whole sync is refused and nothing is changed — this is
   why a broken manifest never leaves an app half-applied.
2. **Waves**, in the order phase -> wave -> kind -> name (see
   ``labkit.gitops.plan``): apply (server-side apply, field manager
   ``labkit``), prune, or run a hook Job. Before starting the next wave, the
   previous one must be Healthy; until it is, ``step`` returns Running and
   the controller calls it again when a watched object changes.
3. When the last wave is applied the operation has Succeeded.

Per-resource outcomes are :class:`ResourceResult` records (a result code and
the API server's message), never exceptions. A notebook can drive a
:class:`SyncRun` by hand and print ``run.results`` after every step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.gitops.application import (
    HealthStatus,
    OperationPhase,
    ResourceKey,
    ResultCode,
    SyncPhase,
)
from labkit.gitops.health import health_of
from labkit.gitops.plan import Action, SyncPlan, Task, waves
from labkit.kube import Kube

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


def _api_version(task: Task) -> str:
    return str((task.desired or task.live or {}).get("apiVersion", ""))


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
    phase: OperationPhase = OperationPhase.Running
    message: str = "starting"
    results: list[ResourceResult] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float | None = None
    resumed: bool = False
    """A sync a stopped controller had started, taken up again under its first start time."""
    _checked: bool = False
    _next_wave: int = 0
    _wave_done_at: float = 0.0

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        # SyncFail hooks run only after a failure; a lab sync skips them.
        self._waves = [w for w in waves(self.plan) if w[0] is not SyncPhase.SyncFail]

    @property
    def done(self) -> bool:
        return self.phase.completed

    def step(self) -> OperationPhase:
        """Advance as far as possible without waiting; return the phase."""
        if self.done:
            return self.phase
        if self.plan.refused:
            return self._finish(OperationPhase.Failed, self.plan.refused)
        if not self._checked:
            failed = self._dry_run_all()
            self._checked = True
            if failed:
                return self._finish(
                    OperationPhase.Failed,
                    f"dry run failed for {failed} object(s); nothing was changed",
                )
            if self.dry_run:
                return self._finish(OperationPhase.Succeeded, "dry run succeeded; nothing was changed")
        while self._next_wave < len(self._waves):
            if self._next_wave > 0 and not self._previous_wave_ready():
                return self.phase
            phase, wave, tasks = self._waves[self._next_wave]
            self.message = f"syncing {phase.value} wave {wave} ({len(tasks)} object(s))"
            if not self._run_wave(phase, wave, tasks):
                return self._finish(OperationPhase.Failed, f"{phase.value} wave {wave} failed: see resources")
            self._next_wave += 1
            self._wave_done_at = self.clock()
        return self._finish(OperationPhase.Succeeded, "successfully synced (all tasks run)")

    # -- steps --------------------------------------------------------------

    def _dry_run_all(self) -> int:
        failed = 0
        for _, wave, tasks in self._waves:
            for task in tasks:
                if task.action not in (Action.Create, Action.Update) or task.desired is None:
                    continue
                result = self.kube.apply(task.desired, dry_run=True)
                if not result.ok:
                    failed += 1
                    self._record(task, wave, ResultCode.SyncFailed, f"dry run: {result.message}")
        return failed

    def _run_wave(self, phase: SyncPhase, wave: int, tasks: list[Task]) -> bool:
        ok = True
        for task in tasks:
            code, message = self._execute(task)
            self._record(task, wave, code, message)
            ok = ok and not code.failed
        return ok

    def _execute(self, task: Task) -> tuple[ResultCode, str]:
        api_version, key = _api_version(task), task.key
        namespace = key.namespace or None
        if task.action is Action.Prune:
            result = self.kube.delete(api_version, key.kind, key.name, namespace)
            return (ResultCode.Pruned, "pruned") if result.ok else (ResultCode.SyncFailed, result.message)
        if task.action is Action.PruneSkipped:
            return ResultCode.PruneSkipped, "ignored (requires pruning)"
        if task.action not in (Action.Create, Action.Update) or task.desired is None:
            return ResultCode.Synced, "unchanged"
        if self._is_hook(task) and task.live is not None:
            # BeforeHookCreation: a hook runs afresh each sync.
            self.kube.delete(api_version, key.kind, key.name, namespace, propagation="Background")
            self.kube.wait_for(
                lambda: self.kube.get(api_version, key.kind, key.name, namespace) is None,
                30.0,
                f"old hook {key} to be deleted",
            )
        result = self.kube.apply(with_last_applied(task.desired))
        if not result.ok:
            return ResultCode.SyncFailed, result.message
        verb = "created" if task.live is None else "configured"
        return ResultCode.Synced, f"{key.kind.lower()}/{key.name} {verb}"

    def _previous_wave_ready(self) -> bool:
        _, wave, tasks = self._waves[self._next_wave - 1]
        waiting = [t for t in tasks if not self._task_ready(t)]
        if not waiting:
            if self.clock() - self._wave_done_at < self.wave_pause_s:
                self.message = f"pausing {self.wave_pause_s:.0f} s between waves"
                return False
            return True
        if self.clock() - self._wave_done_at > self.health_timeout_s:
            self._finish(
                OperationPhase.Failed,
                f"wave {wave} did not become healthy within {self.health_timeout_s:.0f} s: {waiting[0].key}",
            )
            return False
        self.message = f"waiting for healthy state of {waiting[0].key}"
        return False

    def _task_ready(self, task: Task) -> bool:
        if task.action not in (Action.Create, Action.Update) or task.desired is None:
            return True
        key = task.key
        live = self.kube.get(_api_version(task), key.kind, key.name, key.namespace or None)
        if live is None:
            return False
        health = health_of(live)
        return health is None or health.status in (HealthStatus.Healthy, HealthStatus.Suspended)

    # -- bookkeeping ----------------------------------------------------------

    @staticmethod
    def _is_hook(task: Task) -> bool:
        return task.phase is not SyncPhase.Sync

    def _record(self, task: Task, wave: int, code: ResultCode, message: str) -> None:
        result = ResourceResult(
            task.key, _api_version(task), code, message, task.phase, wave, hook=self._is_hook(task)
        )
        self.results = [r for r in self.results if r.key != task.key] + [result]
        if self.on_result is not None:
            self.on_result(result)

    def _finish(self, phase: OperationPhase, message: str) -> OperationPhase:
        self.phase, self.message, self.finished_at = phase, message, self.clock()
        return phase
