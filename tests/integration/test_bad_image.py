"""A bad deploy, as in production: a typo'd image tag goes Degraded, and a rollback or a revert heals it.

The lab's kwok nodes "pull" only the images of the lab's catalogue
(``labkit.cluster.images``): a pod naming another one goes ErrImagePull ->
ImagePullBackOff and never turns Ready. The new ReplicaSet makes no progress,
kube-controller-manager marks the Deployment ``ProgressDeadlineExceeded`` once
its ``progressDeadlineSeconds`` have passed (10 s here; 600 by default), and
both labkit's agent and the real Argo CD report it Degraded with that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.kube import Kube
from tests.integration.apphelpers import GitApp, deployment, dump, eventually
from tests.integration.argohelpers import app_status, application, kubectl_apply, wait_app

if TYPE_CHECKING:
    from labkit.argocd import ArgoCD
    from labkit.lab import Lab

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
GITAPP_PREFIX = "badimg"
GOOD, TYPO = "nginx:1.27", "nginx:1.277"
DEADLINE_MESSAGE = "exceeded its progress deadline"


def web(image: str) -> str:
    d = deployment(replicas=2, image=image)
    d["spec"]["progressDeadlineSeconds"] = 10
    return dump(d)


def pull_errors(kube: Kube, namespace: str) -> set[str]:
    """Waiting reasons of the containers of the namespace's pods (ErrImagePull, ImagePullBackOff)."""
    pods = kube.list("v1", "Pod", namespace)
    statuses = [c for p in pods for c in (p.get("status") or {}).get("containerStatuses") or []]
    return {str(((c.get("state") or {}).get("waiting") or {}).get("reason")) for c in statuses} - {"None"}


def deployment_health(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r.get("health") or {} for r in resources if r["kind"] == "Deployment")


def test_a_typo_in_the_image_tag_goes_degraded_and_a_rollback_then_a_revert_bring_healthy_back(
    gitapp: GitApp,
) -> None:
    gitapp.commit("web", **{"web.yaml": web(GOOD)})
    gitapp.create(auto_sync=True)
    first = gitapp.wait(sync="Synced", health="Healthy", timeout_s=60)
    typo = gitapp.commit("web: nginx 1.277 (a typo)", **{"web.yaml": web(TYPO)})
    obj = gitapp.wait(sync="Synced", health="Degraded", revision=typo, timeout_s=60)
    health = deployment_health(obj["status"]["resources"])
    assert health["status"] == "Degraded" and DEADLINE_MESSAGE in health["message"]
    assert "ImagePullBackOff" in pull_errors(gitapp.kube, gitapp.namespace)
    old = gitapp.live("Deployment", "web", "apps/v1")
    assert old is not None and old["status"].get("availableReplicas") == 2, "the old pods keep serving"

    # Way 1: roll back to the last good sync (auto-sync off, as Argo CD requires); Git still says 1.277.
    good_id = int(first["status"]["history"][-1]["id"])
    gitapp.apps.rollback(gitapp.name, good_id, disable_auto_sync=True)
    gitapp.wait(sync="OutOfSync", health="Healthy", timeout_s=60)

    # Way 2: fix Git for good: git revert, auto-sync on again.
    fixed = gitapp.repo.revert(typo)
    gitapp.apps.set_policy(gitapp.name, auto_sync=True)
    gitapp.wait(sync="Synced", health="Healthy", revision=fixed, timeout_s=60)
    assert pull_errors(gitapp.kube, gitapp.namespace) == set()


# -- the same with the real Argo CD ------------------------------------------------


@pytest.mark.argocd
@pytest.mark.timeout(600)
def test_argocd_reports_the_typo_degraded_with_the_reason_and_a_git_revert_heals_it(
    lab: Lab, argocd: ArgoCD, argo_app: tuple[str, Kube], tmp_path: Path
) -> None:
    name, kube = argo_app
    path = f"apps/{name}/web.yaml"
    lab.repo.commit_and_push(f"{name}: web", {path: web(GOOD)})
    kubectl_apply(lab, application(name, f"apps/{name}", lab), tmp_path)
    wait_app(kube, name)
    typo = lab.repo.commit_and_push(f"{name}: nginx 1.277 (a typo)", {path: web(TYPO)})
    wait_app(kube, name, sync="Synced", health="Degraded", timeout_s=90)
    status = app_status(kube, name)
    assert status["sync"]["revision"] == typo
    assert "ImagePullBackOff" in pull_errors(kube, name)
    # Argo CD 3 keeps resource health in its resource tree, not in status.resources: ask the CLI.
    tree = argocd.run("app", "get", name, "-o", "tree=detailed")
    assert DEADLINE_MESSAGE in tree and 'Back-off pulling image "nginx:1.277"' in tree, tree
    lab.repo.revert(typo)
    wait_app(kube, name, timeout_s=90)
    eventually(lambda: not pull_errors(kube, name), 30, "the bad pods gone")
