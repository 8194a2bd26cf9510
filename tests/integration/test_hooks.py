"""Argo CD's hooks and annotations on the real kwok cluster: an app written for Argo CD, run by labkit.

Every manifest here uses Argo CD's own annotation names
(``argocd.argoproj.io/hook``, ``hook-delete-policy``, ``sync-wave``,
``sync-options``). kwok's Job pods succeed a second or two after they start;
a hook that must fail is a Job whose pod can never be scheduled, with a
short ``activeDeadlineSeconds`` (the Job controller then marks it Failed).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.apphelpers import GitApp, configmap, dump, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "hooks"
HOOK, POLICY = "argocd.argoproj.io/hook", "argocd.argoproj.io/hook-delete-policy"


def job(name: str, *, fails: bool = False, **annotations: str) -> dict[str, Any]:
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [{"name": name, "image": "busybox"}]}
    spec: dict[str, Any] = {"backoffLimit": 0, "template": {"spec": pod}}
    if fails:
        pod["nodeSelector"] = {"labkit.dev/no-such-node": "true"}
        spec["activeDeadlineSeconds"] = 2
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }


def operation_state(gitapp: GitApp) -> dict[str, Any]:
    return dict(gitapp.status().get("operationState") or {})


def test_presync_and_postsync_hooks_run_in_their_phase_and_hook_succeeded_deletes_them(
    gitapp: GitApp,
) -> None:
    manifests = dump(
        job("migrate", **{HOOK: "PreSync", POLICY: "HookSucceeded"}),
        configmap(),
        job("smoke", **{HOOK: "PostSync", POLICY: "HookSucceeded"}),
    )
    gitapp.commit("hooks", **{"app.yaml": manifests})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=90)
    eventually(lambda: operation_state(gitapp).get("phase") == "Succeeded", 60, "the sync to succeed")
    applied = [e.data["resource"].split("/")[-1] for e in gitapp.events("resource_applied")]
    assert applied == ["migrate", "web-config", "smoke"]
    assert gitapp.live("Job", "migrate", "batch/v1") is None, "HookSucceeded deleted the PreSync Job"
    assert gitapp.live("Job", "smoke", "batch/v1") is None, "HookSucceeded deleted the PostSync Job"
    assert gitapp.live("ConfigMap", "web-config") is not None


def test_a_failed_hook_fails_the_sync_hook_failed_deletes_it_and_sync_fail_hooks_run(gitapp: GitApp) -> None:
    manifests = dump(
        job("migrate", fails=True, **{HOOK: "PreSync", POLICY: "HookFailed"}),
        configmap(),
        job("notify", **{HOOK: "SyncFail"}),
    )
    gitapp.commit("a failing migration", **{"app.yaml": manifests})
    gitapp.create(auto_sync=True)
    state = eventually(
        lambda: (s := operation_state(gitapp)).get("phase") == "Failed" and s, 90, "the sync to fail"
    )
    assert state["message"].startswith("PreSync hook batch/Job")
    assert state["message"].endswith("SyncFail hooks ran")
    assert gitapp.live("Job", "migrate", "batch/v1") is None, "HookFailed deleted the failed hook"
    notify = gitapp.live("Job", "notify", "batch/v1")
    assert notify is not None, "the SyncFail hook ran (and stays: BeforeHookCreation only)"
    assert gitapp.live("ConfigMap", "web-config") is None, "nothing after the failed PreSync hook was applied"


def test_argo_cd_sync_waves_order_the_sync_and_prune_false_keeps_an_object(gitapp: GitApp) -> None:
    first, late, kept = configmap("first"), configmap("late"), configmap("kept")
    first["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "-1"}
    late["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "3"}
    kept["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "Prune=false"}
    gitapp.commit("waves", **{"app.yaml": dump(late, configmap("mid"), first, kept)})
    gitapp.create(auto_sync=True, prune=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    applied = [e.data["resource"].split("/")[-1] for e in gitapp.events("resource_applied")]
    assert applied == ["first", "kept", "mid", "late"]
    sha = gitapp.commit("drop kept", **{"app.yaml": dump(late, configmap("mid"), first)})
    eventually(
        lambda: any(
            e.data["resource"].endswith("/kept") and e.data["code"] == "PruneSkipped"
            for e in gitapp.events("resource_applied")
            if e.revision == sha
        ),
        60,
        "the prune of kept to be skipped",
    )
    assert gitapp.live("ConfigMap", "kept") is not None, "Prune=false"
