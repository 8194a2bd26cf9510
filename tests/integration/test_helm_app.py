"""A Helm chart through labkit's agent on the real kwok lab, rendered as Argo CD renders it.

Each test copies the starter chart (repos/starter/apps/demo-helm) to its own
directory in the lab's repository, so a commit to its values.yaml touches no
other test. The agent runs the toolchain's helm (``labkit toolchain ensure``).
"""

from __future__ import annotations

import pytest

from labkit.gitops.application import application_manifest
from labkit.gitops.helm import HelmParameter, HelmSource
from labkit.settings import Settings
from tests.integration.apphelpers import GitApp, eventually

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "helm"
"""Names this module's apps (the ``gitapp`` fixture in conftest.py)."""

CHART = Settings().starter_repo / "apps" / "demo-helm"


def chart_files(**changed: str | None) -> dict[str, str | None]:
    """The starter chart's files (name relative to the chart -> text), with ``changed`` ones replaced."""
    files: dict[str, str | None] = {
        p.relative_to(CHART).as_posix(): p.read_text() for p in sorted(CHART.rglob("*")) if p.is_file()
    }
    return {**files, **changed}


def values_with(replicas: int) -> str:
    text = (CHART / "values.yaml").read_text()
    assert "replicas: 2\n" in text
    return text.replace("replicas: 2\n", f"replicas: {replicas}\n")


def condition_containing(app: GitApp, text: str, timeout_s: float = 30.0) -> str:
    found = eventually(
        lambda: [c for c in app.conditions() if text in c], timeout_s, f"a condition with {text!r}"
    )
    return str(found[0])


def synced_chart(app: GitApp, helm: HelmSource | None = None) -> str:
    """Commit the starter chart to the app's path, create the app with auto-sync, wait Synced/Healthy."""
    sha = app.commit("the demo chart", **chart_files())
    app.create(auto_sync=True, helm=helm)
    app.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=90)
    return sha


def test_the_starter_chart_is_synced_and_healthy_with_the_app_as_release(gitapp: GitApp) -> None:
    synced_chart(gitapp)
    deployment = gitapp.live("Deployment", gitapp.name, "apps/v1")
    assert deployment is not None and deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"]["app.kubernetes.io/instance"] == gitapp.name
    config = gitapp.live("ConfigMap", f"{gitapp.name}-config")
    assert config is not None and config["data"] == {"environment": "dev", "greeting": "hello from Helm"}
    assert gitapp.live("Service", gitapp.name) is not None


def test_the_pre_install_hook_runs_as_a_presync_hook_before_the_charts_objects(gitapp: GitApp) -> None:
    synced_chart(gitapp)
    applied = [e.data["resource"] for e in gitapp.events("resource_applied")]
    assert applied[0].endswith(f"{gitapp.name}-migrate"), applied
    job = gitapp.live("Job", f"{gitapp.name}-migrate", "batch/v1")
    assert job is not None
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    resources = {r["kind"] for r in gitapp.status()["resources"]}
    assert "Job" not in resources, "a hook is not one of the app's compared resources"


def test_a_commit_to_values_yaml_is_applied_like_any_yaml_change(gitapp: GitApp) -> None:
    synced_chart(gitapp)
    sha = gitapp.commit("scale to 3", **{"values.yaml": values_with(3)})
    gitapp.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=60)
    deployment = gitapp.live("Deployment", gitapp.name, "apps/v1")
    assert deployment is not None and deployment["spec"]["replicas"] == 3


def test_a_value_file_a_parameter_and_a_release_name_shape_the_objects(gitapp: GitApp) -> None:
    greeting = HelmParameter("config.greeting", "hello, staging")
    synced_chart(gitapp, HelmSource("shop", ("values-staging.yaml",), parameters=(greeting,)))
    deployment = gitapp.live("Deployment", "shop", "apps/v1")
    assert deployment is not None and deployment["spec"]["replicas"] == 1
    config = gitapp.live("ConfigMap", "shop-config")
    assert config is not None and config["data"] == {"environment": "staging", "greeting": "hello, staging"}


def test_a_broken_chart_is_a_comparison_error_quoting_helm_and_changes_nothing(gitapp: GitApp) -> None:
    synced_chart(gitapp)
    before = gitapp.live("Deployment", gitapp.name, "apps/v1")
    assert before is not None
    template = (CHART / "templates" / "deployment.yaml").read_text()
    broken = template.replace("{{ .Values.replicas }}", "{{ .Values.replicas | nosuchfunction }}")
    sha = gitapp.commit(
        "break the chart", **{"templates/deployment.yaml": broken, "values.yaml": values_with(5)}
    )
    message = condition_containing(gitapp, "ComparisonError")
    assert "helm template failed" in message and 'function "nosuchfunction" not defined' in message
    assert gitapp.status()["sync"]["revision"] == sha
    after = gitapp.live("Deployment", gitapp.name, "apps/v1")
    assert after is not None and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    fixed = gitapp.commit("fix the chart", **{"templates/deployment.yaml": template})
    gitapp.wait(sync="Synced", health="Healthy", revision=fixed, timeout_s=60)
    assert gitapp.conditions() == []
    deployment = gitapp.live("Deployment", gitapp.name, "apps/v1")
    assert deployment is not None and deployment["spec"]["replicas"] == 5


def test_a_missing_value_file_is_reported_with_helms_message(gitapp: GitApp) -> None:
    gitapp.commit("the demo chart", **chart_files())
    gitapp.create(auto_sync=True, helm=HelmSource(value_files=("values-qa.yaml",)))
    message = condition_containing(gitapp, "ComparisonError")
    assert "open values-qa.yaml: no such file or directory" in message
    assert gitapp.live("Deployment", gitapp.name, "apps/v1") is None
    sha = gitapp.commit("add qa values", **{"values-qa.yaml": "replicas: 1\n"})
    gitapp.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=90)


def test_a_helm_field_the_agent_does_not_support_is_reported_not_ignored(gitapp: GitApp) -> None:
    gitapp.commit("the demo chart", **chart_files())
    app = application_manifest(gitapp.name, gitapp.repo.url, gitapp.path, gitapp.namespace, auto_sync=True)
    app["spec"]["source"]["helm"] = {"fileParameters": [{"name": "config.greeting", "path": "greeting.txt"}]}
    assert gitapp.kube.apply(app, field_manager="test").ok
    message = condition_containing(gitapp, "ComparisonError")
    assert "spec.source.helm.fileParameters is not supported by labkit's agent" in message


def test_app_create_helm_flags_write_spec_source_helm_and_the_app_follows_them(gitapp: GitApp) -> None:
    from click.testing import CliRunner

    from labkit.cli import main

    sha = gitapp.commit("the demo chart", **chart_files())
    args = [
        "app",
        "create",
        gitapp.name,
        "--path",
        gitapp.path,
        "--namespace",
        gitapp.namespace,
        "--auto-sync",
    ]
    args += ["--helm-values", "values-production.yaml", "--helm-set", "replicas=3"]
    args += ["--helm-set-string", "config.greeting=007", "--helm-release-name", "shop"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert gitapp.apps.get(gitapp.name)["spec"]["source"]["helm"] == {
        "releaseName": "shop",
        "valueFiles": ["values-production.yaml"],
        "parameters": [
            {"name": "replicas", "value": "3"},
            {"name": "config.greeting", "value": "007", "forceString": True},
        ],
    }
    gitapp.wait(sync="Synced", health="Healthy", revision=sha, timeout_s=90)
    deployment = gitapp.live("Deployment", "shop", "apps/v1")
    assert deployment is not None and deployment["spec"]["replicas"] == 3, "a parameter beats a value file"
    config = gitapp.live("ConfigMap", "shop-config")
    assert config is not None and config["data"] == {"environment": "production", "greeting": "007"}
