"""Backend detection: explicit requests are obeyed or refused, never silently replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cluster import detect
from labkit.cluster.kind import KindBackend
from labkit.cluster.kwok import KwokBackend
from labkit.errors import BackendError
from labkit.settings import Settings
from tests.conftest import FakeRunner

NO_DOCKER = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", cache=tmp_path / "cache", allow_download=False)


@pytest.fixture
def no_docker(fake_runner: FakeRunner) -> FakeRunner:
    return fake_runner.on("docker", "info", rc=1, stderr=NO_DOCKER)


@pytest.fixture
def docker_up(fake_runner: FakeRunner) -> FakeRunner:
    return fake_runner.on("docker", "info", stdout="28.2.2\n")


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str | None]:
    """Controls what shutil.which finds for docker/kind/go inside the backends."""
    found: dict[str, str | None] = {"docker": "/usr/bin/docker", "kind": None, "go": None}
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: found.get(name))
    return found


def test_an_unknown_backend_name_lists_the_valid_ones(settings: Settings, fake_runner: FakeRunner) -> None:
    with pytest.raises(BackendError) as e:
        detect.detect_backend("minikube", fake_runner, settings=settings, env={})
    assert "unknown backend 'minikube' (from --backend)" in e.value.message
    assert "kwok, kind, kubeconfig" in e.value.hint


def test_an_unknown_backend_in_the_environment_names_the_variable(
    settings: Settings, fake_runner: FakeRunner
) -> None:
    with pytest.raises(BackendError) as e:
        detect.detect_backend(None, fake_runner, settings=settings, env={"LABKIT_BACKEND": "k3d"})
    assert "from LABKIT_BACKEND" in e.value.message


def test_asking_for_kind_without_docker_fails_instead_of_falling_back(
    settings: Settings, no_docker: FakeRunner, on_path: dict[str, str | None]
) -> None:
    on_path["go"] = "/usr/bin/go"  # kwok would be available: it must still not be chosen
    with pytest.raises(BackendError) as e:
        detect.detect_backend("kind", no_docker, settings=settings, env={})
    assert "backend 'kind' was asked for (from --backend)" in e.value.message
    assert "no Docker daemon answers `docker info`: Cannot connect to the Docker daemon" in e.value.message
    assert "--backend kwok" in e.value.hint


def test_without_a_request_kind_is_chosen_when_docker_answers(
    settings: Settings, docker_up: FakeRunner, on_path: dict[str, str | None]
) -> None:
    on_path["kind"] = "/usr/local/bin/kind"
    backend, checks = detect.detect_backend(None, docker_up, settings=settings, env={})
    assert isinstance(backend, KindBackend)
    assert [c.ok for c in checks] == [True]


def test_without_docker_kwok_is_chosen_and_the_kind_check_says_why_not(
    settings: Settings, no_docker: FakeRunner, on_path: dict[str, str | None]
) -> None:
    on_path["go"] = "/usr/bin/go"
    backend, checks = detect.detect_backend(None, no_docker, settings=settings, env={})
    assert isinstance(backend, KwokBackend)
    assert [(c.backend, c.ok) for c in checks] == [("kind", False), ("kwok", True)]
    assert "no Docker daemon answers" in checks[0].line()
    assert "build" in checks[1].line()


def test_when_nothing_fits_one_error_lists_every_check_and_its_fix(
    settings: Settings, no_docker: FakeRunner, on_path: dict[str, str | None]
) -> None:
    with pytest.raises(BackendError) as e:
        detect.detect_backend(None, no_docker, settings=settings, env={})
    text = str(e.value)
    assert "no cluster backend can run here" in text
    assert "no  kind: no Docker daemon answers `docker info`" in text
    assert "no  kwok: no kube-apiserver binary, Go is not on PATH and downloads are off" in text
    assert text.count("fix:") == 2
    assert "--backend kubeconfig --context" in e.value.hint


def test_docker_that_answers_without_kind_installed_is_reported_not_hidden(
    settings: Settings, docker_up: FakeRunner, on_path: dict[str, str | None]
) -> None:
    on_path["go"] = "/usr/bin/go"
    backend, checks = detect.detect_backend(None, docker_up, settings=settings, env={})
    assert backend.name == "kwok"
    assert "kind is not on PATH" in checks[0].line()
    assert "go install sigs.k8s.io/kind" in checks[0].line()


def test_the_environment_chooses_when_no_flag_is_given(
    settings: Settings, no_docker: FakeRunner, on_path: dict[str, str | None]
) -> None:
    on_path["go"] = "/usr/bin/go"
    backend, checks = detect.detect_backend(
        None, no_docker, settings=settings, env={"LABKIT_BACKEND": "kwok"}
    )
    assert backend.name == "kwok" and len(checks) == 1
    assert no_docker.commands("docker") == []  # an explicit choice checks only itself


def test_a_context_means_the_kubeconfig_backend(settings: Settings, fake_runner: FakeRunner) -> None:
    fake_runner.on("kubectl", "config", "get-contexts", stdout="kind-dev\nprod\n")
    backend, _ = detect.detect_backend(None, fake_runner, settings=settings, context="prod", env={})
    assert backend.name == "kubeconfig" and backend.context == "prod"


def test_a_context_with_another_backend_is_refused(settings: Settings, fake_runner: FakeRunner) -> None:
    with pytest.raises(BackendError) as e:
        detect.detect_backend("kwok", fake_runner, settings=settings, context="prod", env={})
    assert "--context belongs to the kubeconfig backend" in e.value.message


def test_a_missing_context_lists_the_contexts_that_exist(settings: Settings, fake_runner: FakeRunner) -> None:
    fake_runner.on("kubectl", "config", "get-contexts", stdout="kind-dev\nprod\n")
    with pytest.raises(BackendError) as e:
        detect.detect_backend("kubeconfig", fake_runner, settings=settings, context="staging", env={})
    assert "context 'staging' does not exist" in e.value.message
    assert "contexts there: kind-dev, prod" in e.value.message


def test_a_wrong_explicit_binary_path_makes_kwok_unavailable_by_name(
    settings: Settings, no_docker: FakeRunner
) -> None:
    with pytest.raises(BackendError) as e:
        detect.detect_backend("kwok", no_docker, settings=settings, env={"LABKIT_ETCD_BINARY": "/nope/etcd"})
    assert "LABKIT_ETCD_BINARY=/nope/etcd is not an executable file" in e.value.message
