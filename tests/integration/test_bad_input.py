"""Bad input becomes a clear condition; nothing is half-applied; the controller keeps running."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.apphelpers import GitApp, configmap, deployment, dump, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "bad"
"""Names this module's apps (the ``gitapp`` fixture in conftest.py)."""


def condition_containing(app: GitApp, text: str, timeout_s: float = 20.0) -> str:
    found = eventually(
        lambda: [c for c in app.conditions() if text in c], timeout_s, f"a condition with {text!r}"
    )
    return str(found[0])


def fix_and_converge(app: GitApp) -> None:
    """After the cause is gone the app converges: the controller kept running."""
    sha = app.commit("fix", **{"app.yaml": dump(configmap("fixed"))})
    app.wait(sync="Synced", revision=sha, timeout_s=30)
    assert app.conditions() == []


def test_invalid_yaml_shows_a_comparison_error_naming_the_file(gitapp: GitApp) -> None:
    gitapp.commit("broken", **{"app.yaml": "kind: ConfigMap\nmetadata: [unclosed\n"})
    gitapp.create(auto_sync=True)
    message = condition_containing(gitapp, "ComparisonError")
    assert "app.yaml" in message
    fix_and_converge(gitapp)


def test_a_manifest_without_kind_or_name_is_refused_with_a_message(gitapp: GitApp) -> None:
    gitapp.commit("no kind", **{"app.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"})
    gitapp.create(auto_sync=True)
    assert "kind" in condition_containing(gitapp, "ComparisonError")
    fix_and_converge(gitapp)


def test_a_path_that_does_not_exist_is_a_condition(gitapp: GitApp) -> None:
    gitapp.commit("something elsewhere", **{"app.yaml": dump(configmap())})
    gitapp.apps.create(gitapp.name, gitapp.repo.url, "apps/does-not-exist", gitapp.namespace, auto_sync=True)
    assert "does-not-exist" in condition_containing(gitapp, "ComparisonError")


def test_a_revision_that_does_not_exist_is_a_condition(gitapp: GitApp) -> None:
    gitapp.commit("app", **{"app.yaml": dump(configmap())})
    gitapp.create(auto_sync=True, target_revision="no-such-branch")
    assert "no-such-branch" in condition_containing(gitapp, "ComparisonError")


def test_an_unknown_kind_fails_the_dry_run_and_nothing_is_applied(gitapp: GitApp) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    gitapp.commit("unknown kind", **{"app.yaml": dump(configmap("before-widget"), widget)})
    gitapp.create(auto_sync=True)
    eventually(
        lambda: (gitapp.status().get("operationState") or {}).get("phase") == "Failed", 30, "sync failed"
    )
    op = gitapp.status()["operationState"]
    assert "dry run" in op["message"]
    assert gitapp.live("ConfigMap", "before-widget") is None, "dry run first: nothing half-applied"
    fix_and_converge(gitapp)


def test_an_object_aimed_at_another_namespace_is_refused(gitapp: GitApp) -> None:
    cm = configmap("elsewhere")
    cm["metadata"]["namespace"] = "kube-system"
    gitapp.commit("wrong namespace", **{"app.yaml": dump(cm)})
    gitapp.create(auto_sync=True)
    assert "kube-system" in condition_containing(gitapp, "ComparisonError")
    fix_and_converge(gitapp)


def test_an_immutable_field_change_fails_cleanly_and_keeps_the_old_object(gitapp: GitApp) -> None:
    gitapp.commit("v1", **{"app.yaml": dump(deployment(replicas=1))})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    changed = deployment(replicas=3, selector={"app": "other"}, pod_labels={"app": "other"})
    gitapp.commit("change selector", **{"app.yaml": dump(changed)})
    eventually(
        lambda: (gitapp.status().get("operationState") or {}).get("phase") == "Failed", 30, "sync failed"
    )
    assert "immutable" in str(gitapp.status()["operationState"]).lower()
    live = gitapp.live("Deployment", "web", "apps/v1")
    assert live is not None and live["spec"]["replicas"] == 1, "nothing half-applied"


def test_an_empty_path_does_not_prune_everything_without_allow_empty(gitapp: GitApp) -> None:
    gitapp.commit("one", **{"app.yaml": dump(configmap("keep-me"))})
    gitapp.create(auto_sync=True, prune=True)
    gitapp.wait(sync="Synced", timeout_s=30)
    gitapp.commit("empty it", **{"app.yaml": None, "README.md": "nothing here\n"})
    eventually(lambda: "allowEmpty" in str(gitapp.status().get("operationState")), 30, "allowEmpty refusal")
    assert gitapp.live("ConfigMap", "keep-me") is not None


def test_an_invalid_spec_is_an_invalid_spec_condition(lab: Any, gitapp: GitApp) -> None:
    bad = {
        "apiVersion": "labkit.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": gitapp.name, "namespace": "labkit"},
        "spec": {"source": {"repoURL": gitapp.repo.url, "path": "/etc"}, "destination": {"namespace": "x"}},
    }
    assert gitapp.kube.apply(bad).ok
    assert "inside the repository" in condition_containing(gitapp, "InvalidSpecError")


def test_a_deleted_repository_is_a_condition_and_the_app_recovers_when_it_returns(
    gitapp: GitApp, tmp_path: Any
) -> None:
    import shutil

    from labkit.git import LabRepo
    from labkit.settings import Settings

    repo = LabRepo.create(tmp_path / "other.git", tmp_path / "other-work", Settings().starter_repo)
    gitapp.apps.create(gitapp.name, repo.url, "apps/demo", gitapp.namespace, auto_sync=False)
    gitapp.wait(sync="OutOfSync", timeout_s=30)
    shutil.move(str(tmp_path / "other.git"), str(tmp_path / "moved.git"))
    gitapp.apps.refresh(gitapp.name)
    assert "does not exist" in condition_containing(gitapp, "ComparisonError")
    shutil.move(str(tmp_path / "moved.git"), str(tmp_path / "other.git"))
    gitapp.apps.refresh(gitapp.name)
    eventually(lambda: gitapp.conditions() == [], 30, "condition cleared")
