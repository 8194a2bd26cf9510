"""Auto-sync, self-heal and retry decisions (labkit.gitops.policy)."""

from __future__ import annotations

from dataclasses import replace

from labkit.gitops.application import (
    AppSpec,
    HealthStatus,
    OperationPhase,
    ResourceKey,
    Retry,
    SyncOperation,
    SyncStatus,
)
from labkit.gitops.diff import ResourceDiff
from labkit.gitops.health import Health
from labkit.gitops.plan import SyncPlan
from labkit.gitops.policy import Act, Memory, decide, heal_delay
from labkit.gitops.reconcile import Comparison, ResourceState
from labkit.gitops.status import add_history
from labkit.gitops.sync import SyncRun
from labkit.settings import ControllerSettings

KEY = ResourceKey("apps", "Deployment", "demo", "web")
SETTINGS = ControllerSettings()


def comparison(status: SyncStatus, revision: str = "a" * 40) -> Comparison:
    diff = ResourceDiff(KEY, status, "server-side", ("spec.replicas",), "")
    state = ResourceState(KEY, "apps/v1", {}, {}, diff, Health(HealthStatus.Healthy))
    return Comparison(revision, (state,), status, Health(HealthStatus.Healthy))


def spec(**kw: object) -> AppSpec:
    return AppSpec(name="demo", repo_url="file:///r.git", path="apps/demo", **kw)  # type: ignore[arg-type]


def test_self_heal_backoff_follows_argo_cd_0_2_6_18_54_162_then_cap_300() -> None:
    delays = [heal_delay(n, SETTINGS) for n in range(8)]
    assert delays == [0, 2, 6, 18, 54, 162, 300, 300]


def test_nothing_happens_when_in_sync() -> None:
    assert (
        decide(spec(automated=True), comparison(SyncStatus.Synced), Memory(), 0, SETTINGS).act is Act.Nothing
    )


def test_out_of_sync_without_auto_sync_waits_for_a_human() -> None:
    d = decide(spec(), comparison(SyncStatus.OutOfSync), Memory(), 0, SETTINGS)
    assert d.act is Act.Nothing and "auto-sync is off" in d.reason


def test_auto_sync_acts_once_per_new_revision() -> None:
    d = decide(
        spec(automated=True), comparison(SyncStatus.OutOfSync, "b" * 40), Memory("a" * 40), 0, SETTINGS
    )
    assert d.act is Act.AutoSync


def test_drift_stays_when_self_heal_is_off() -> None:
    d = decide(spec(automated=True), comparison(SyncStatus.OutOfSync), Memory("a" * 40), 0, SETTINGS)
    assert d.act is Act.Nothing and "selfHeal is off" in d.reason


def test_self_heal_syncs_only_out_of_sync_resources_then_backs_off() -> None:
    memory = Memory("a" * 40)
    first = decide(
        spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync), memory, 100.0, SETTINGS
    )
    assert first.act is Act.SelfHeal and first.resources == frozenset({KEY})
    memory.heal_attempts, memory.last_heal_at = 1, 100.0
    second = decide(
        spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync), memory, 101.0, SETTINGS
    )
    assert second.act is Act.Wait and abs(second.wait_s - 1.0) < 1e-9
    third = decide(
        spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync), memory, 102.5, SETTINGS
    )
    assert third.act is Act.SelfHeal


def test_failed_auto_sync_of_a_revision_is_not_retried_without_retry_policy() -> None:
    memory = Memory("a" * 40, last_failed=True)
    d = decide(spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync), memory, 0, SETTINGS)
    assert d.act is Act.Nothing and "not retried" in d.reason


def test_failed_auto_sync_is_retried_with_backoff_when_retry_allows() -> None:
    memory = Memory("a" * 40, last_failed=True, last_attempt_at=100.0)
    s = spec(automated=True, retry=Retry(limit=2))
    assert decide(s, comparison(SyncStatus.OutOfSync), memory, 101.0, SETTINGS).act is Act.Wait
    assert decide(s, comparison(SyncStatus.OutOfSync), memory, 106.0, SETTINGS).act is Act.Retry
    memory.retries = 2
    assert decide(s, comparison(SyncStatus.OutOfSync), memory, 1000.0, SETTINGS).act is Act.Nothing


def test_status_merge_patch_removes_keys_the_new_status_no_longer_has() -> None:
    from labkit.gitops.status import merge_patch

    old = {"health": {"status": "Progressing", "message": "2 of 5"}, "conditions": [{"type": "X"}]}
    new = {"health": {"status": "Healthy"}}
    assert merge_patch(old, new) == {"health": {"status": "Healthy", "message": None}, "conditions": None}


def test_self_heal_keeps_counting_while_the_same_revision_keeps_drifting() -> None:
    s, drifted = spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync)
    memory = Memory("a" * 40, heal_attempts=1, last_heal_at=100.0)  # healed once; drifted again at once
    assert decide(s, drifted, memory, 101.0, SETTINGS).act is Act.Wait
    second = decide(s, drifted, memory, 102.1, SETTINGS)
    assert (second.act, second.attempt) == (Act.SelfHeal, 2)
    memory.heal_attempts, memory.last_heal_at = 2, 102.1
    assert decide(s, drifted, memory, 107.0, SETTINGS).wait_s > 1.0, "6 s after the second attempt"
    assert decide(s, drifted, memory, 108.2, SETTINGS).attempt == 3


def test_self_heal_backoff_starts_again_after_the_cooldown() -> None:
    memory = Memory("a" * 40, heal_attempts=5, last_heal_at=0.0)
    s, drifted = spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync)
    d = decide(s, drifted, memory, SETTINGS.self_heal_cooldown_s + 1, SETTINGS)
    assert (d.act, d.attempt) == (Act.SelfHeal, 1)


def test_the_self_heal_cooldown_comes_from_the_controller_settings() -> None:
    s, drifted = spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync)
    short = replace(SETTINGS, self_heal_cooldown_s=10.0)
    memory = Memory("a" * 40, heal_attempts=5, last_heal_at=0.0)
    assert decide(s, drifted, memory, 11.0, SETTINGS).act is Act.Wait, "330 s have not passed"
    d = decide(s, drifted, memory, 11.0, short)
    assert (d.act, d.attempt) == (Act.SelfHeal, 1)


def succeeded_run(revision: str, started: float, *, resumed: bool = False) -> SyncRun:
    run = SyncRun("demo", revision, SyncPlan(()), kube=None, clock=lambda: started)  # type: ignore[arg-type]
    run.phase, run.finished_at, run.resumed = OperationPhase.Succeeded, started + 0.2, resumed
    return run


def test_history_keeps_two_syncs_of_one_revision_that_start_in_the_same_second() -> None:
    history = add_history([], spec(), succeeded_run("a" * 40, 100.1), SyncOperation())
    history = add_history(history, spec(), succeeded_run("a" * 40, 100.6), SyncOperation())
    assert [h["id"] for h in history] == [0, 1]


def test_a_resumed_sync_does_not_add_its_history_entry_twice() -> None:
    history = add_history([], spec(), succeeded_run("a" * 40, 100.0), SyncOperation())
    again = succeeded_run("a" * 40, 100.0, resumed=True)
    assert add_history(history, spec(), again, SyncOperation()) == history
