"""Prune, live: ``git rm`` a manifest with prune off (the object stays, shown as requiring pruning), then on.

Argo CD's words for it: the object is *extraneous* — tracked by the app, gone
from Git. Both engines keep it while prune is off, mark it OutOfSync with
``requiresPruning: true`` in ``status.resources`` (an automated sync reports
it as ``PruneSkipped``, "ignored (requires pruning)"), and delete it once a
sync prunes. Deletion and prune-on alone are covered in test_controller.py
and test_argocd.py; this module checks what a learner sees in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.kube import Kube
from tests.integration.apphelpers import GitApp, configmap, deployment, dump, eventually
from tests.integration.argohelpers import app_status, application, kubectl_apply, wait_app

if TYPE_CHECKING:
    from labkit.argocd import ArgoCD
    from labkit.lab import Lab

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
GITAPP_PREFIX = "prune"


def extraneous(resources: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(kind, name, status) of the resources marked ``requiresPruning``."""
    return [(r["kind"], r["name"], r["status"]) for r in resources if r.get("requiresPruning")]


def test_a_file_removed_from_git_with_prune_off_is_kept_and_shown_as_requiring_pruning(
    gitapp: GitApp,
) -> None:
    gitapp.commit("web and its config", **{"web.yaml": dump(deployment()), "cm.yaml": dump(configmap())})
    gitapp.create(auto_sync=True, prune=False)
    gitapp.wait(sync="Synced", timeout_s=60)
    removed = gitapp.commit("git rm cm.yaml", **{"cm.yaml": None})
    obj = gitapp.wait(sync="OutOfSync", revision=removed, timeout_s=60)
    assert extraneous(obj["status"]["resources"]) == [("ConfigMap", "web-config", "OutOfSync")]
    op = lambda: gitapp.status().get("operationState") or {}  # noqa: E731
    synced = lambda: op().get("phase") == "Succeeded" and op()["syncResult"]["revision"] == removed  # noqa: E731
    eventually(synced, 30, "the auto-sync of the git rm")
    results = op()["syncResult"]["resources"]
    skipped = [r for r in results if r["kind"] == "ConfigMap"]
    assert [(r["status"], r["message"]) for r in skipped] == [("PruneSkipped", "ignored (requires pruning)")]
    assert gitapp.live("ConfigMap", "web-config") is not None, "prune is off: the object stays"

    # As in Argo CD, auto-sync does not sync the same revision again: a sync with prune deletes it.
    gitapp.apps.sync(gitapp.name, prune=True)
    eventually(lambda: gitapp.live("ConfigMap", "web-config") is None, 30, "web-config pruned")
    obj = gitapp.wait(sync="Synced", timeout_s=30)
    assert extraneous(obj["status"]["resources"]) == []


@pytest.mark.argocd
@pytest.mark.timeout(600)
def test_argocd_keeps_an_extraneous_object_with_prune_off_and_deletes_it_on_a_pruning_sync(
    lab: Lab, argocd: ArgoCD, argo_app: tuple[str, Kube], tmp_path: Path
) -> None:
    name, kube = argo_app
    files = {f"apps/{name}/web.yaml": dump(deployment()), f"apps/{name}/cm.yaml": dump(configmap())}
    lab.repo.commit_and_push(f"{name}: web and its config", dict(files))
    app = application(name, f"apps/{name}", lab)
    app["spec"]["syncPolicy"]["automated"] = {"prune": False, "selfHeal": True}
    kubectl_apply(lab, app, tmp_path)
    wait_app(kube, name)
    lab.repo.commit_and_push(f"{name}: git rm cm.yaml", {f"apps/{name}/cm.yaml": None})
    wait_app(kube, name, sync="OutOfSync", timeout_s=60)
    assert extraneous(app_status(kube, name)["resources"]) == [("ConfigMap", "web-config", "OutOfSync")]
    assert kube.get("v1", "ConfigMap", "web-config", name) is not None, "prune is off: the object stays"

    argocd.run("app", "sync", name, "--prune", "--timeout", "60")
    eventually(lambda: kube.get("v1", "ConfigMap", "web-config", name) is None, 30, "web-config pruned")
    wait_app(kube, name)
