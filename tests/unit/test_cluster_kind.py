"""The kind backend with a fake runner: detection, the kind commands, and no downloads ever."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from pytest_kind import KindCluster

from labkit.cluster.kind import KindBackend, LabKindCluster, kind_config
from labkit.errors import BackendError
from labkit.settings import Settings
from tests.conftest import FakeRunner

NODES = json.dumps(
    {"items": [{"status": {"conditions": [{"type": "Ready", "status": "True"}]}} for _ in range(4)]}
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", cache=tmp_path / "cache")


@pytest.fixture
def kind_bin(tmp_path: Path) -> Path:
    """A file named kind stands in for the binary: the runner is fake, only its existence counts."""
    path = tmp_path / "bin" / "kind"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    return path


def tools(kind: Path | None, docker: str | None = "/usr/bin/docker") -> Callable[[str], str | None]:
    return lambda name: {"kind": str(kind) if kind else None, "docker": docker}.get(name)


def test_without_docker_on_path_kind_is_unavailable(settings: Settings, fake_runner: FakeRunner) -> None:
    check = KindBackend(settings, fake_runner, which=tools(None, docker=None)).available()
    assert not check.ok
    assert check.detail == "no Docker daemon answers `docker info`: docker is not on PATH"
    assert fake_runner.calls == []


def test_a_docker_daemon_that_does_not_answer_is_quoted(
    settings: Settings, fake_runner: FakeRunner, kind_bin: Path
) -> None:
    fake_runner.on(
        "docker", "info", rc=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    )
    check = KindBackend(settings, fake_runner, which=tools(kind_bin)).available()
    assert not check.ok
    assert check.detail.startswith(
        "no Docker daemon answers `docker info`: Cannot connect to the Docker daemon"
    )
    assert "--backend kwok" in check.fix


def test_docker_and_kind_present_make_kind_available(
    settings: Settings, fake_runner: FakeRunner, kind_bin: Path
) -> None:
    fake_runner.on("docker", "info", stdout="28.2.2\n")
    check = KindBackend(settings, fake_runner, which=tools(kind_bin)).available()
    assert check.ok and "28.2.2" in check.detail


def test_the_cluster_object_is_pytest_kinds_and_never_downloads(
    settings: Settings, fake_runner: FakeRunner
) -> None:
    cluster = KindBackend(settings, fake_runner, which=tools(Path("/nonexistent/kind"))).kind_cluster()
    assert isinstance(cluster, KindCluster)
    with pytest.raises(BackendError) as e:
        cluster.ensure_kind()  # upstream would fetch kind from GitHub here
    assert "go install sigs.k8s.io/kind" in e.value.hint
    with pytest.raises(BackendError):
        cluster.create()


def test_the_cluster_object_leaves_no_pytest_kind_dir_in_the_working_directory(
    settings: Settings,
    fake_runner: FakeRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind_bin: Path,
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    KindBackend(settings, fake_runner, which=tools(kind_bin)).kind_cluster()
    assert list(cwd.iterdir()) == []
    assert (settings.state_dir / ".pytest-kind").is_dir()


def kind_writes_kubeconfig(argv: Sequence[str], env: Mapping[str, str]) -> None:
    path = Path(next(a for a in argv if a.startswith("--kubeconfig=")).split("=", 1)[1])
    path.write_text("apiVersion: v1\nkind: Config\n")


def test_create_runs_kind_with_the_labs_config_and_waits_for_nodes(
    settings: Settings, fake_runner: FakeRunner, kind_bin: Path
) -> None:
    fake_runner.on("kind", "get", "clusters", stdout="other\n")
    fake_runner.on("kind", "create", "cluster", effect=kind_writes_kubeconfig)
    fake_runner.on("kubectl", "get", "nodes", stdout=NODES)
    backend = KindBackend(settings, fake_runner, which=tools(kind_bin))
    backend.create(lambda m: None)
    create = fake_runner.commands("kind", "create")[0]
    assert create[:3] == [str(kind_bin), "create", "cluster"]
    assert "--name=labkit" in create and f"--kubeconfig={settings.state_dir / 'kubeconfig'}" in create
    assert create[create.index("--config") + 1] == str(settings.state_dir / "kind.yaml")
    assert stat.S_IMODE(backend.kubeconfig.stat().st_mode) == 0o600
    assert backend.context == "kind-labkit"


def test_an_existing_kind_cluster_is_reused_not_recreated(
    settings: Settings, fake_runner: FakeRunner, kind_bin: Path
) -> None:
    fake_runner.on("kind", "get", "clusters", stdout="labkit\n")
    cluster = KindBackend(settings, fake_runner, which=tools(kind_bin)).kind_cluster()
    cluster.create()
    assert fake_runner.commands("kind", "create") == []


def test_delete_and_running_ask_kind(settings: Settings, fake_runner: FakeRunner, kind_bin: Path) -> None:
    backend = KindBackend(settings, fake_runner, which=tools(kind_bin))
    fake_runner.on("kind", "get", "clusters", stdout="labkit\n")
    assert backend.running()
    backend.delete()
    assert fake_runner.commands("kind", "delete", "cluster")[0][3] == "--name=labkit"


def test_a_second_lab_gets_its_own_kind_cluster_name(
    tmp_path: Path, fake_runner: FakeRunner, kind_bin: Path
) -> None:
    other = Settings(home=tmp_path, lab="demo")
    assert KindBackend(other, fake_runner, which=tools(kind_bin)).context == "kind-labkit-demo"


def test_the_kind_config_has_the_workers_asked_for_and_a_localhost_api() -> None:
    config = kind_config(3)
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert config["networking"]["apiServerAddress"] == "127.0.0.1"


def test_lab_kind_cluster_is_a_subclass_so_upstream_helpers_work() -> None:
    assert issubclass(LabKindCluster, KindCluster)
    assert hasattr(LabKindCluster, "load_docker_image") and hasattr(LabKindCluster, "port_forward")
