"""Auto-sync, self-heal and retry decisions (labkit.gitops.autosync, labkit.gitops.selfheal)."""

from __future__ import annotations

from dataclasses import replace

from labkit.gitops.application import AppSpec, Retry
from labkit.gitops.autosync import Act, Memory, decide
from labkit.gitops.compare import Comparison, ResourceState
from labkit.gitops.diff import ResourceDiff
from labkit.gitops.health import Health
from labkit.gitops.selfheal import heal_delay, observe_drift
from labkit.gitops.types import DiffMode, HealthStatus, ResourceKey, SyncStatus
from labkit.settings import ControllerSettings

KEY = ResourceKey("apps", "Deployment", "demo", "web")
SETTINGS = ControllerSettings()


def comparison(status: SyncStatus, revision: str = "a" * 40) -> Comparison:
    diff = ResourceDiff(KEY, status, DiffMode.ServerSide, ("spec.replicas",), "")
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
    memory = replace(memory, heal_attempts=1, last_heal_at=100.0)
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
    memory = replace(memory, retries=2)
    assert decide(s, comparison(SyncStatus.OutOfSync), memory, 1000.0, SETTINGS).act is Act.Nothing


def test_self_heal_keeps_counting_while_the_same_revision_keeps_drifting() -> None:
    s, drifted = spec(automated=True, self_heal=True), comparison(SyncStatus.OutOfSync)
    memory = Memory("a" * 40, heal_attempts=1, last_heal_at=100.0)  # healed once; drifted again at once
    assert decide(s, drifted, memory, 101.0, SETTINGS).act is Act.Wait
    second = decide(s, drifted, memory, 102.1, SETTINGS)
    assert (second.act, second.attempt) == (Act.SelfHeal, 2)
    memory = replace(memory, heal_attempts=2, last_heal_at=102.1)
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


def test_drift_is_out_of_sync_on_the_deployed_revision_and_is_reported_once() -> None:
    drifted = comparison(SyncStatus.OutOfSync)
    first = observe_drift(
        drifted,
        deployed_revision="a" * 40,
        sync_running=False,
        drifting_before=frozenset(),
        heal_attempts=0,
        self_heal=True,
    )
    assert first.drifting == {KEY}
    assert [kind for kind, _ in first.events] == ["drift_detected"]
    assert first.events[0][1]["paths"] == {str(KEY): ["spec.replicas"]}
    again = observe_drift(
        drifted,
        deployed_revision="a" * 40,
        sync_running=False,
        drifting_before=first.drifting,
        heal_attempts=0,
        self_heal=True,
    )
    assert again.drifting == {KEY} and again.events == []


def test_a_new_revision_or_a_running_sync_is_not_drift() -> None:
    for deployed, running in (("b" * 40, False), ("a" * 40, True)):
        report = observe_drift(
            comparison(SyncStatus.OutOfSync),
            deployed_revision=deployed,
            sync_running=running,
            drifting_before=frozenset(),
            heal_attempts=0,
            self_heal=True,
        )
        assert report.drifting == frozenset() and report.events == []


def test_drift_that_is_gone_is_reported_healed_with_the_attempts_it_took() -> None:
    report = observe_drift(
        comparison(SyncStatus.Synced),
        deployed_revision="a" * 40,
        sync_running=False,
        drifting_before=frozenset({KEY}),
        heal_attempts=2,
        self_heal=True,
    )
    assert report.drifting == frozenset()
    assert report.events == [("healed", {"revision": "a" * 40, "resources": [str(KEY)], "attempts": 2})]
