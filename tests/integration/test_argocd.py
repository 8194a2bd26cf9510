"""The real Argo CD on the lab, and labkit's agent on the same repository.

Argo CD (built from its Go module, run out of cluster by ``lab.argocd.up()``)
reads the lab's Git server over HTTP like a forge and hears every push through
a GitHub-format webhook from the post-receive hook. Each test puts its own
files under ``apps/<name>`` in the lab's repository and its objects in its own
namespace. The cases are the ones a learner meets: an Application applied with
kubectl and one made with ``argocd app create``; manual and automated sync;
``argocd app diff``, ``history`` and ``rollback``; self-heal of a
``kubectl scale``; prune; PreSync/PostSync hooks with ``HookSucceeded``; a
Kustomize app; a Helm app — the last ones also through labkit's own agent, from
the very same files, to show both engines do the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit import githttp
from labkit.kube import Kube
from tests.integration.apphelpers import configmap, deployment, dump, eventually, new_name
from tests.integration.argohelpers import (
    API,
    NS,
    app_status,
    application,
    commit,
    kubectl_apply,
    replicas,
    wait_app,
)

if TYPE_CHECKING:
    from labkit.argocd import ArgoCD
    from labkit.lab import Lab

pytestmark = [pytest.mark.cluster, pytest.mark.argocd, pytest.mark.timeout(600)]


@pytest.fixture
def kube(lab: Lab) -> Iterator[Kube]:
    with lab.kube() as k:
        yield k


@pytest.fixture
def cleanup(lab: Lab, kube: Kube) -> Iterator[Callable[[str], None]]:
    """``cleanup(name)``: delete the Argo CD app, labkit app and namespace called ``name`` afterwards."""
    names: list[str] = []
    yield names.append
    for name in names:
        for api, ns in ((API, NS), ("labkit.dev/v1alpha1", "labkit")):
            if kube.is_namespaced(api, "Application") is not None and kube.get(api, "Application", name, ns):
                kube.patch(api, "Application", name, ns, {"metadata": {"finalizers": None}})
                kube.delete(api, "Application", name, ns)
        kube.delete("v1", "Namespace", name, None)


def test_argocd_runs_every_process_on_loopback_and_its_cli_is_logged_in(lab: Lab, argocd: ArgoCD) -> None:
    status = argocd.status()
    assert status is not None and status["version"].startswith("argocd: v3.6.1")
    assert set(status["states"].values()) == {"running"}
    assert status["server"].startswith("http://127.0.0.1:")
    env = lab.env()
    assert "--config" in env["ARGOCD_OPTS"]
    assert "NAME" in argocd.run("app", "list", echo=False)
    secret = lab.state_dir / "argocd" / "admin.password"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (lab.state_dir / "argocd" / "cli-config").stat().st_mode & 0o777 == 0o600
    assert lab.status()["argocd"]["pids"]["argocd-server"] > 0


def test_an_application_applied_with_kubectl_syncs_follows_a_push_and_heals_a_kubectl_scale(
    lab: Lab, argocd: ArgoCD, kube: Kube, cleanup: Callable[[str], None], tmp_path: Path
) -> None:
    name = new_name("acd")
    cleanup(name)
    commit(lab, f"{name}: web", {f"apps/{name}/app.yaml": dump(deployment(replicas=2), configmap())})
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name)
    assert replicas(kube, "web", name) == 2
    pushed = time.monotonic()
    commit(lab, f"{name}: replicas 5", {f"apps/{name}/app.yaml": dump(deployment(replicas=5), configmap())})
    eventually(lambda: replicas(kube, "web", name) == 5, 30, "replicas 5 from the push (webhook)")
    assert time.monotonic() - pushed < 20, "the GitHub-format webhook should refresh Argo CD at once"
    lab.kubectl("scale", "deployment/web", "-n", name, "--replicas=1")
    eventually(lambda: replicas(kube, "web", name) == 5, 30, "self-heal back to 5")


def test_argocd_app_create_then_manual_sync_diff_history_and_rollback(
    lab: Lab, argocd: ArgoCD, kube: Kube, cleanup: Callable[[str], None]
) -> None:
    name = new_name("acli")
    cleanup(name)
    first = commit(lab, f"{name}: v1", {f"apps/{name}/app.yaml": dump(deployment(replicas=1))})
    argocd.run(
        "app", "create", name, "--repo", githttp.url(lab.state_dir), "--path", f"apps/{name}",
        "--dest-server", "https://kubernetes.default.svc", "--dest-namespace", name,
        "--sync-option", "CreateNamespace=true",
    )  # fmt: skip
    wait_app(kube, name, sync="OutOfSync", health="Missing")
    argocd.run("app", "sync", name, "--timeout", "60")
    wait_app(kube, name)
    commit(lab, f"{name}: v2", {f"apps/{name}/app.yaml": dump(deployment(replicas=3))})
    eventually(
        lambda: (app_status(kube, name).get("sync") or {}).get("status") == "OutOfSync", 30, "OutOfSync"
    )
    diff = argocd.run("app", "diff", name, check=False)
    assert "replicas: 3" in diff or "> " in diff and "3" in diff
    argocd.run("app", "sync", name, "--timeout", "60")
    eventually(lambda: replicas(kube, "web", name) == 3, 30, "replicas 3 after the second sync")
    history = argocd.run("app", "history", name)
    assert first[:7] in history and len([line for line in history.splitlines()[1:] if line.strip()]) >= 2
    first_id = app_status(kube, name)["history"][0]["id"]
    argocd.run("app", "rollback", name, str(first_id), "--timeout", "60")
    eventually(lambda: replicas(kube, "web", name) == 1, 30, "rollback to replicas 1")


def test_prune_deletes_the_objects_of_a_file_removed_from_git(
    lab: Lab, argocd: ArgoCD, kube: Kube, cleanup: Callable[[str], None], tmp_path: Path
) -> None:
    name = new_name("aprune")
    cleanup(name)
    files = {f"apps/{name}/web.yaml": dump(deployment()), f"apps/{name}/cm.yaml": dump(configmap())}
    commit(lab, f"{name}: two files", dict(files))
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name)
    assert kube.get("v1", "ConfigMap", "web-config", name) is not None
    commit(lab, f"{name}: git rm cm.yaml", {f"apps/{name}/cm.yaml": None})
    eventually(lambda: kube.get("v1", "ConfigMap", "web-config", name) is None, 30, "the ConfigMap pruned")


HOOKS = {
    "presync.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
""",
    "postsync.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: smoke-test
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: smoke, image: busybox}]
""",
}


def test_presync_and_postsync_hooks_run_and_hook_succeeded_deletes_the_finished_job(
    lab: Lab, argocd: ArgoCD, kube: Kube, cleanup: Callable[[str], None], tmp_path: Path
) -> None:
    name = new_name("ahook")
    cleanup(name)
    commit(
        lab,
        f"{name}: hooks",
        {f"apps/{name}/{f}": text for f, text in {**HOOKS, "cm.yaml": dump(configmap())}.items()},
    )
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name, timeout_s=120)
    phase = lambda: (app_status(kube, name).get("operationState") or {}).get("phase")  # noqa: E731
    eventually(lambda: phase() == "Succeeded", 60, "the sync operation to succeed")
    hooks = {
        r["name"]: r
        for r in app_status(kube, name)["operationState"]["syncResult"]["resources"]
        if r.get("hookType")
    }
    assert hooks["migrate"]["hookType"] == "PreSync" and hooks["smoke-test"]["hookType"] == "PostSync"
    eventually(
        lambda: kube.get("batch/v1", "Job", "migrate", name) is None, 30, "HookSucceeded deletes migrate"
    )
    assert kube.get("batch/v1", "Job", "smoke-test", name) is not None, (
        "no delete policy: the PostSync job stays"
    )


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("apps/demo-kustomize/overlays/staging", {}),
        ("apps/demo-helm", {"helm": {"valueFiles": ["values-staging.yaml"]}}),
    ],
    ids=["kustomize", "helm"],
)
def test_the_same_kustomize_and_helm_apps_sync_in_argocd_and_in_labkits_agent(
    lab: Lab,
    argocd: ArgoCD,
    kube: Kube,
    cleanup: Callable[[str], None],
    tmp_path: Path,
    path: str,
    source: dict[str, Any],
) -> None:
    argo_name, labkit_name = new_name("ae"), new_name("le")
    cleanup(argo_name)
    cleanup(labkit_name)
    kubectl_apply(lab, application(argo_name, path, lab, **source), tmp_path)
    labkit_app = application(labkit_name, path, lab, **source)
    labkit_app["apiVersion"] = "labkit.dev/v1alpha1"  # the only change: the other engine
    labkit_app["metadata"]["namespace"] = "labkit"
    kubectl_apply(lab, labkit_app, tmp_path)
    wait_app(kube, argo_name, timeout_s=120)
    lab.apps.wait(labkit_name, sync="Synced", health="Healthy", timeout_s=120)

    def kinds(namespace: str) -> set[tuple[str, str]]:
        found = set()
        for api, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap")):
            for obj in kube.list(api, kind, namespace):
                if obj["metadata"]["name"] != "kube-root-ca.crt":
                    found.add((kind, obj["metadata"]["name"].replace(argo_name, "").replace(labkit_name, "")))
        return found

    assert kinds(argo_name) == kinds(labkit_name) != set()


def test_a_killed_redis_or_repo_server_is_restarted_and_argocd_keeps_syncing(
    lab: Lab, argocd: ArgoCD, kube: Kube, cleanup: Callable[[str], None], tmp_path: Path
) -> None:
    import os
    import signal

    from labkit import supervisor

    for name in ("argocd-redis", "argocd-repo-server"):
        before = supervisor.wait_for_pid(lab.state_dir, name)
        os.kill(before, signal.SIGKILL)
        eventually(
            lambda n=name, b=before: (
                supervisor.read_status(lab.state_dir)["programs"][n].get("pid") not in (None, b)
            ),
            10,
            f"{name} restarted",
        )
    assert lab.status()["controller"] is not None, "labkit's own agent is not disturbed"
    name = new_name("afault")
    cleanup(name)
    commit(lab, f"{name}: after the faults", {f"apps/{name}/app.yaml": dump(configmap())})
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name, timeout_s=120)


def test_a_lab_reset_deletes_argocds_applications_and_keeps_argocd_running(
    lab: Lab, argocd: ArgoCD, kube: Kube, tmp_path: Path
) -> None:
    name = new_name("areset")
    commit(lab, f"{name}: app", {f"apps/{name}/app.yaml": dump(configmap())})
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name)
    lab.reset(progress=print)
    assert kube.list(API, "Application", NS) == []
    assert kube.get("v1", "Namespace", NS, None) is not None, "argocd is part of the lab's baseline"
    assert (
        kube.get("v1", "Namespace", name, None) is None
        or kube.get("v1", "Namespace", name, None)["status"]["phase"] == "Terminating"
    )
    assert "NAME" in argocd.run("app", "list", echo=False)
