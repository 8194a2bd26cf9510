"""The pull agent against the real kwok cluster: create, sync, auto-sync, prune, waves, hooks."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from labkit.gitops.application import TRACKING_ANNOTATION
from tests.integration.apphelpers import (
    GitApp,
    configmap,
    deployment,
    dump,
    eventually,
    service,
)

pytestmark = pytest.mark.cluster


def test_push_replicas_5_and_the_deployment_gets_5_ready_pods(gitapp: GitApp) -> None:
    gitapp.commit("demo app", **{"app.yaml": dump(deployment(replicas=2), service(), configmap())})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    sha = gitapp.commit("scale to 5", **{"app.yaml": dump(deployment(replicas=5), service(), configmap())})
    gitapp.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=60)
    live = gitapp.live("Deployment", "web", "apps/v1")
    assert live is not None and live["status"]["readyReplicas"] == 5
    kinds = {e.kind for e in gitapp.events() if e.revision == sha}
    assert {"revision_detected", "sync_started", "resource_applied", "sync_finished", "healthy"} <= kinds


def test_every_managed_object_carries_the_tracking_annotation(gitapp: GitApp) -> None:
    gitapp.commit("demo app", **{"app.yaml": dump(deployment(), configmap())})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    cm = gitapp.live("ConfigMap", "web-config")
    assert cm is not None
    assert (
        cm["metadata"]["annotations"][TRACKING_ANNOTATION]
        == f"{gitapp.name}:/ConfigMap:{gitapp.name}/web-config"
    )


def test_without_auto_sync_the_app_stays_out_of_sync_until_a_manual_sync(gitapp: GitApp) -> None:
    gitapp.commit("demo app", **{"app.yaml": dump(configmap())})
    gitapp.create(auto_sync=False)
    gitapp.wait(sync="OutOfSync", timeout_s=30)
    assert gitapp.live("ConfigMap", "web-config") is None
    gitapp.apps.sync(gitapp.name)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=30)
    history = gitapp.status()["history"]
    assert len(history) == 1 and history[0]["id"] == 0


def test_kubectl_get_applications_shows_sync_and_health_columns(lab: Any, gitapp: GitApp) -> None:
    gitapp.commit("demo app", **{"app.yaml": dump(configmap())})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=30)
    out = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(lab.kubeconfig),
            "get",
            "applications.labkit.dev",
            "-n",
            "labkit",
            gitapp.name,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **lab.env()},
    ).stdout
    header, row = out.splitlines()[:2]
    assert "SYNC" in header and "HEALTH" in header
    assert "Synced" in row and "Healthy" in row


def test_prune_removes_objects_deleted_from_git_only_when_enabled(gitapp: GitApp) -> None:
    gitapp.commit("two configmaps", **{"a.yaml": dump(configmap("a")), "b.yaml": dump(configmap("b"))})
    gitapp.create(auto_sync=True, prune=False)
    gitapp.wait(sync="Synced", timeout_s=30)
    gitapp.commit("drop b", **{"b.yaml": None})
    gitapp.wait(sync="OutOfSync", timeout_s=30)
    assert gitapp.live("ConfigMap", "b") is not None, "prune is off: b must stay"
    gitapp.apps.set_policy(gitapp.name, prune=True)
    gitapp.apps.sync(gitapp.name, prune=True)
    eventually(lambda: gitapp.live("ConfigMap", "b") is None, 30, "b pruned")
    gitapp.wait(sync="Synced", timeout_s=30)


def test_prune_never_touches_an_object_labkit_does_not_track(gitapp: GitApp) -> None:
    gitapp.commit("one configmap", **{"a.yaml": dump(configmap("a"))})
    gitapp.create(auto_sync=True, prune=True)
    gitapp.wait(sync="Synced", timeout_s=30)
    untracked = configmap("by-hand")
    untracked["metadata"]["namespace"] = gitapp.namespace
    assert gitapp.kube.apply(untracked, field_manager="kubectl").ok
    gitapp.commit("more", **{"b.yaml": dump(configmap("b"))})
    gitapp.wait(sync="Synced", revision=gitapp.repo.head(), timeout_s=30)
    assert gitapp.live("ConfigMap", "by-hand") is not None


def test_sync_waves_apply_in_order_and_wait_for_health(gitapp: GitApp) -> None:
    first = configmap("first")
    first["metadata"]["annotations"] = {"labkit.dev/sync-wave": "-1"}
    late = deployment("late", replicas=1)
    late["metadata"]["annotations"] = {"labkit.dev/sync-wave": "5"}
    gitapp.commit("waves", **{"app.yaml": dump(late, deployment("mid", replicas=1), first)})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    applied = [e.data["resource"] for e in gitapp.events("resource_applied")]
    assert [r.split()[-1].split("/")[-1] for r in applied] == ["first", "mid", "late"]


def test_a_presync_hook_job_runs_before_the_app_is_applied(gitapp: GitApp) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "annotations": {"labkit.dev/hook": "PreSync"}},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}
            }
        },
    }
    gitapp.commit("hook", **{"app.yaml": dump(job, configmap())})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    applied = [e.data["resource"] for e in gitapp.events("resource_applied")]
    assert applied[0].endswith("migrate") and applied[-1].endswith("web-config")
    live = gitapp.live("Job", "migrate", "batch/v1")
    assert live is not None
