"""The kubeconfig backend: borrow one existing context, copy only it, never delete the cluster."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from labkit.cluster.kubeconfig import KubeconfigBackend
from labkit.errors import BackendError
from labkit.settings import Settings
from tests.conftest import FakeRunner

FLAT = "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def contexts(fake_runner: FakeRunner) -> FakeRunner:
    return fake_runner.on("kubectl", "config", "get-contexts", stdout="kind-dev\nprod\n")


def test_an_existing_context_is_available(settings: Settings, contexts: FakeRunner) -> None:
    check = KubeconfigBackend(settings, contexts, context="prod", env={"KUBECONFIG": "/k/config"}).available()
    assert check.ok and "/k/config" in check.what
    assert contexts.calls[0][1] == {"KUBECONFIG": "/k/config"}


def test_a_missing_context_names_the_ones_that_exist(settings: Settings, contexts: FakeRunner) -> None:
    check = KubeconfigBackend(settings, contexts, context="nope", env={}).available()
    assert not check.ok
    assert "context 'nope' does not exist" in check.detail and "kind-dev, prod" in check.detail
    assert "--context" in check.fix


def test_without_any_kubeconfig_the_listing_says_none(settings: Settings, fake_runner: FakeRunner) -> None:
    fake_runner.on("kubectl", "config", "get-contexts", rc=1, stderr="no config")
    check = KubeconfigBackend(settings, fake_runner, context="prod", env={}).available()
    assert "contexts there: none" in check.detail


def test_create_writes_a_flattened_single_context_copy_with_mode_0600(
    settings: Settings, contexts: FakeRunner
) -> None:
    contexts.on("kubectl", "config", "view", "--minify", "--flatten", stdout=FLAT)
    contexts.on("kubectl", "get", "--raw", "/readyz", stdout="ok")
    backend = KubeconfigBackend(settings, contexts, context="prod", env={})
    backend.create(lambda m: None)
    assert backend.kubeconfig.read_text() == FLAT
    assert stat.S_IMODE(backend.kubeconfig.stat().st_mode) == 0o600
    view = contexts.commands("config", "view")[0]
    assert view[view.index("--context") + 1] == "prod"


def test_a_context_whose_cluster_is_down_is_refused_and_leaves_no_copy(
    settings: Settings, contexts: FakeRunner
) -> None:
    contexts.on("kubectl", "config", "view", stdout=FLAT)
    contexts.on("kubectl", "get", "--raw", "/readyz", rc=1, stderr="connection refused")
    backend = KubeconfigBackend(settings, contexts, context="prod", env={})
    with pytest.raises(BackendError) as e:
        backend.create(lambda m: None)
    assert "does not answer" in e.value.message
    assert not backend.kubeconfig.exists()


def test_delete_forgets_the_copy_and_touches_nothing_else(settings: Settings, contexts: FakeRunner) -> None:
    backend = KubeconfigBackend(settings, contexts, context="prod", env={})
    backend.kubeconfig.parent.mkdir(parents=True)
    backend.kubeconfig.write_text(FLAT)
    backend.delete()
    assert not backend.kubeconfig.exists()
    assert backend.owns_cluster is False
    assert [argv for argv, _ in contexts.calls] == []
