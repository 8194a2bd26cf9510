"""SyncRun.step (labkit.gitops.sync) against the shared fake API server: waves, hooks, SyncFail."""

from __future__ import annotations

from typing import Any

from labkit.gitops.plan import SyncPlan, plan_sync
from labkit.gitops.reconcile import pair
from labkit.gitops.sync import SyncRun
from labkit.gitops.types import OperationPhase, ResultCode
from tests.conftest import FakeKube

Manifest = dict[str, Any]
HOOK, POLICY, WAVE = (
    "argocd.argoproj.io/hook",
    "argocd.argoproj.io/hook-delete-policy",
    "argocd.argoproj.io/sync-wave",
)


def configmap(name: str, **annotations: str) -> Manifest:
    meta = {"name": name, "namespace": "demo", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def deployment(name: str, **annotations: str) -> Manifest:
    meta = {"name": name, "namespace": "demo", "generation": 1, "annotations": annotations}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 1}}


def job(name: str, **annotations: str) -> Manifest:
    meta = {"name": name, "namespace": "demo", "annotations": annotations}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {}}


def plan(*desired: Manifest, live: tuple[Manifest, ...] = ()) -> SyncPlan:
    return plan_sync(
        pair(list(desired), list(live), "demo"),
        None,
        prune=False,
        apply_out_of_sync_only=False,
        prune_last=False,
        allow_empty=False,
    )


def run_of(kube: FakeKube, *desired: Manifest, live: tuple[Manifest, ...] = ()) -> SyncRun:
    return SyncRun("demo", "a" * 40, plan(*desired, live=live), kube, clock=lambda: 100.0)  # type: ignore[arg-type]


def finish_job(kube: FakeKube, name: str, condition: str = "Complete", message: str = "done") -> None:
    kube.set_status("Job", name, {"conditions": [{"type": condition, "status": "True", "message": message}]})


HEALTHY = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}


def test_each_wave_waits_for_the_previous_one_to_be_healthy() -> None:
    kube = FakeKube()
    run = run_of(
        kube, configmap("late", **{WAVE: "1"}), deployment("web"), configmap("early", **{WAVE: "-1"})
    )
    assert run.step() is OperationPhase.Running
    assert kube.calls == [("apply", "ConfigMap", "early"), ("apply", "Deployment", "web")]
    assert run.message == "waiting for healthy state of apps/Deployment demo/web"
    kube.set_status("Deployment", "web", HEALTHY)
    assert run.step() is OperationPhase.Succeeded
    assert kube.calls[-1] == ("apply", "ConfigMap", "late")


def test_a_failed_dry_run_changes_nothing() -> None:
    kube = FakeKube()
    kube.fail_apply["bad"] = 'ConfigMap "bad" is invalid: data: Invalid value'
    run = run_of(kube, configmap("good"), configmap("bad"))
    assert run.step() is OperationPhase.Failed
    assert run.message == "dry run failed for 1 object(s); nothing was changed"
    assert kube.calls == []
    assert [(r.key.name, r.code) for r in run.results] == [("bad", ResultCode.SyncFailed)]


def test_a_presync_hook_runs_first_and_hook_succeeded_deletes_it_once_done() -> None:
    kube = FakeKube()
    run = run_of(kube, configmap("app"), job("migrate", **{HOOK: "PreSync", POLICY: "HookSucceeded"}))
    assert run.step() is OperationPhase.Running
    assert kube.calls == [("apply", "Job", "migrate")]
    assert run.message == "waiting for completion of hook batch/Job demo/migrate"
    finish_job(kube, "migrate")
    assert run.step() is OperationPhase.Succeeded
    assert kube.find("Job", "migrate") is None, "HookSucceeded"
    assert kube.calls[1:] == [("delete", "Job", "migrate"), ("apply", "ConfigMap", "app")]


def test_a_failed_hook_fails_the_sync_and_hook_failed_deletes_it() -> None:
    kube = FakeKube()
    run = run_of(kube, configmap("app"), job("migrate", **{HOOK: "PreSync", POLICY: "HookFailed"}))
    run.step()
    finish_job(kube, "migrate", "Failed", "Job has reached the specified backoff limit")
    assert run.step() is OperationPhase.Failed
    assert run.message == (
        "PreSync hook batch/Job demo/migrate failed: Job has reached the specified backoff limit"
    )
    assert kube.find("Job", "migrate") is None, "HookFailed"
    assert kube.find("ConfigMap", "app") is None, "nothing after a failed hook is applied"


def test_a_succeeded_hook_without_hook_succeeded_stays() -> None:
    kube = FakeKube()
    run = run_of(kube, configmap("app"), job("migrate", **{HOOK: "PreSync", POLICY: "HookFailed"}))
    run.step()
    finish_job(kube, "migrate")
    assert run.step() is OperationPhase.Succeeded
    assert kube.find("Job", "migrate") is not None


def test_before_hook_creation_deletes_the_previous_runs_hook_first() -> None:
    old = job("migrate", **{HOOK: "PreSync"})
    kube = FakeKube(old)
    run_of(kube, job("migrate", **{HOOK: "PreSync"}), live=(old,)).step()
    assert kube.calls == [("delete", "Job", "migrate"), ("apply", "Job", "migrate")]


def test_a_changed_hook_job_is_recreated_without_a_dry_run_against_its_immutable_predecessor() -> None:
    old = job("migrate", **{HOOK: "PreSync"})
    kube = FakeKube(old)
    kube.immutable.add("migrate")  # as the API server refuses a change to a Job's pod template
    run = run_of(kube, job("migrate", **{HOOK: "PreSync"}), configmap("web"), live=(old,))
    run.step()
    assert kube.calls[:2] == [("delete", "Job", "migrate"), ("apply", "Job", "migrate")]
    assert not [r for r in run.results if r.code is ResultCode.SyncFailed]


def test_without_before_hook_creation_the_previous_hook_is_applied_over() -> None:
    old = job("migrate", **{HOOK: "PreSync", POLICY: "HookFailed"})
    kube = FakeKube(old)
    finish_job(kube, "migrate")
    run = run_of(kube, job("migrate", **{HOOK: "PreSync", POLICY: "HookFailed"}), live=(old,))
    assert run.step() is OperationPhase.Succeeded
    assert kube.calls == [("apply", "Job", "migrate")]


def test_a_postsync_hook_is_awaited_before_the_sync_succeeds() -> None:
    kube = FakeKube()
    run = run_of(kube, configmap("app"), job("smoke", **{HOOK: "PostSync"}))
    assert run.step() is OperationPhase.Running
    assert kube.calls == [("apply", "ConfigMap", "app"), ("apply", "Job", "smoke")]
    finish_job(kube, "smoke")
    assert run.step() is OperationPhase.Succeeded


def test_sync_fail_hooks_run_only_when_the_sync_fails_and_the_operation_waits_for_them() -> None:
    kube = FakeKube()
    kube.fail_apply["bad"] = "invalid"
    run = run_of(kube, configmap("bad"), job("notify", **{HOOK: "SyncFail"}))
    assert run.step() is OperationPhase.Running
    assert kube.calls == [("apply", "Job", "notify")]
    assert run.message.endswith("waiting for SyncFail hook batch/Job demo/notify")
    finish_job(kube, "notify")
    assert run.step() is OperationPhase.Failed
    assert run.message == "dry run failed for 1 object(s); nothing was changed; SyncFail hooks ran"


def test_sync_fail_hooks_never_run_when_the_sync_succeeds() -> None:
    kube = FakeKube()
    run = run_of(kube, configmap("app"), job("notify", **{HOOK: "SyncFail"}))
    assert run.step() is OperationPhase.Succeeded
    assert kube.find("Job", "notify") is None


def test_skip_dry_run_on_missing_resource_lets_a_kind_its_crd_brings_through_the_dry_run() -> None:
    kube = FakeKube()
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "demo"},
    }
    widget["metadata"]["annotations"] = {
        "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"
    }
    run = run_of(kube, widget)
    assert run.step() is OperationPhase.Failed
    assert run.message == "Sync wave 0 failed: see resources", "the dry run passed; the apply itself failed"
