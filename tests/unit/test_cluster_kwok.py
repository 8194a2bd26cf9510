"""The kwok backend with a fake runner: the exact kwokctl commands, ports, cleanup on failure."""

from __future__ import annotations

import json
import os
import random
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from labkit.cluster import kwok
from labkit.cluster.base import kubectl_binary
from labkit.cluster.toolchain import Toolchain
from labkit.errors import BackendError
from labkit.settings import ClusterSettings, Settings
from tests.conftest import FakeRunner

BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kwokctl")
READY_NODES = json.dumps(
    {"items": [{"status": {"conditions": [{"type": "Ready", "status": "True"}]}} for _ in range(3)]}
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", cache=tmp_path / "cache", allow_download=False)


def fake_toolchain(root: Path) -> Toolchain:
    return Toolchain({b: root / b for b in BINARIES}, {b: "cache" for b in BINARIES})


def backend(settings: Settings, runner: FakeRunner, tmp_path: Path, **kwargs: Any) -> kwok.KwokBackend:
    def ensure(settings: Settings, **_: object) -> Toolchain:
        return fake_toolchain(tmp_path / "bin")

    defaults: dict[str, Any] = {"env": {"PATH": "/usr/bin"}, "ensure": ensure, "sleep": lambda s: None}
    return kwok.KwokBackend(settings, runner, **{**defaults, **kwargs})


def kwokctl_writes_kubeconfig(argv: Sequence[str], env: Mapping[str, str]) -> None:
    cluster_dir = Path(env["KWOK_WORKDIR"]) / "clusters" / argv[argv.index("--name") + 1]
    (cluster_dir / "pki").mkdir(parents=True)
    (cluster_dir / "kubeconfig.yaml").write_text("apiVersion: v1\nkind: Config\n")


def healthy_cluster(runner: FakeRunner) -> FakeRunner:
    runner.on("kwokctl", "create", "cluster", effect=kwokctl_writes_kubeconfig)
    runner.on("kubectl", "get", "--raw", "/readyz", stdout="ok")
    runner.on("kubectl", "get", "nodes", stdout=READY_NODES)
    return runner


def test_create_runs_kwokctl_with_every_local_binary_and_no_kubeconfig_merge(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    b = backend(settings, healthy_cluster(fake_runner), tmp_path)
    b.create(lambda m: None)
    argv = fake_runner.commands("kwokctl", "create")[0]
    assert argv[argv.index("--runtime") + 1] == "binary"
    assert argv[argv.index("--kubeconfig") + 1] == ""
    for flag, binary in (
        ("--kube-apiserver-binary", "kube-apiserver"),
        ("--kube-controller-manager-binary", "kube-controller-manager"),
        ("--kube-scheduler-binary", "kube-scheduler"),
        ("--etcd-binary", "etcd"),
        ("--kwok-controller-binary", "kwok"),
    ):
        assert argv[argv.index(flag) + 1] == str(tmp_path / "bin" / binary)
    assert fake_runner.commands("kwokctl", "scale", "node")[0][-4:] == ["--replicas", "3", "--name", "labkit"]


def test_kwokctl_sees_the_wheel_kubectl_first_on_path_and_its_own_workdir(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    env = backend(settings, fake_runner, tmp_path).kwokctl_env()
    assert env["KWOK_WORKDIR"] == str(settings.state_dir / "kwok")
    assert env["KWOK_KUBECTL_BINARY"] == str(kubectl_binary())
    # kwokctl looks kubectl up on PATH before KWOK_KUBECTL_BINARY (and /usr/bin may have another one).
    assert env["PATH"].split(os.pathsep)[0] == str(kubectl_binary().parent)


def test_the_lab_kubeconfig_is_a_private_copy(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    b = backend(settings, healthy_cluster(fake_runner), tmp_path)
    b.create(lambda m: None)
    assert b.kubeconfig == settings.state_dir / "kubeconfig"
    assert stat.S_IMODE(b.kubeconfig.stat().st_mode) == 0o600
    assert stat.S_IMODE(b.workdir.stat().st_mode) == 0o700
    assert b.context == "kwok-labkit"


def test_the_config_binds_every_component_to_localhost_on_distinct_ports(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    import yaml

    backend(settings, fake_runner, tmp_path).prepare(lambda m: None)
    docs = list(yaml.safe_load_all((settings.state_dir / "kwok" / "kwokctl.yaml").read_text()))
    options = docs[0]["options"]
    assert options["bindAddress"] == "127.0.0.1"
    ports = [options[o] for o in kwok.PORT_OPTIONS]
    assert len(set(ports)) == len(ports) and all(p in kwok.PORT_RANGE for p in ports)


def test_a_taken_apiserver_port_fails_fast_before_anything_starts(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    from dataclasses import replace

    settings = replace(settings, cluster=ClusterSettings(apiserver_port=23456))
    b = backend(settings, fake_runner, tmp_path, free=lambda port: port != 23456)
    with pytest.raises(BackendError) as e:
        b.create(lambda m: None)
    assert "port 127.0.0.1:23456 is already in use" in e.value.message
    assert "LABKIT_APISERVER_PORT" in e.value.hint
    assert fake_runner.commands("kwokctl") == []


def test_pick_ports_skips_ports_in_use() -> None:
    taken = set(range(20000, 29990))
    ports = kwok.pick_ports(0, free=lambda p: p not in taken, rng=random.Random(1))
    assert set(ports.values()) <= set(range(29990, 30000))
    assert len(set(ports.values())) == len(kwok.PORT_OPTIONS)


def test_a_failing_kwokctl_is_reported_with_a_pasteable_command_and_the_logs(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    fake_runner.on("kwokctl", "create", "cluster", rc=1, stderr="etcd: exec format error")
    with pytest.raises(BackendError) as e:
        backend(settings, fake_runner, tmp_path).create(lambda m: None)
    assert "kwokctl could not create the cluster" in e.value.message
    assert "create cluster --name labkit --runtime binary --kubeconfig '' -c" in e.value.message
    assert "etcd: exec format error" in e.value.message
    assert "logs" in e.value.hint


def test_an_api_server_that_never_answers_is_an_error_naming_its_log(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    fake_runner.on("kwokctl", "create", "cluster", effect=kwokctl_writes_kubeconfig)
    fake_runner.on("kubectl", "get", "--raw", "/readyz", rc=1, stderr="connection refused")
    ticks = iter(range(0, 10_000, 5))
    b = backend(settings, fake_runner, tmp_path, clock=lambda: float(next(ticks)))
    with pytest.raises(BackendError) as e:
        b.create(lambda m: None)
    assert "timed out after 30 s waiting for the kwok API server to answer /readyz" in e.value.message
    assert str(b.cluster_dir / "logs") in e.value.hint
    assert fake_runner.commands("kwokctl", "scale") == []


def test_leftovers_of_a_killed_up_are_removed_before_creating(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    b = backend(settings, healthy_cluster(fake_runner), tmp_path)
    (b.cluster_dir / "pids").mkdir(parents=True)
    (b.cluster_dir / "stale-file").write_text("x")
    messages: list[str] = []
    b.create(messages.append)
    assert any("leftovers" in m for m in messages)
    assert not (b.cluster_dir / "stale-file").exists()


def test_delete_removes_the_workdir_and_the_kubeconfig(
    settings: Settings, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    b = backend(settings, healthy_cluster(fake_runner), tmp_path)
    b.create(lambda m: None)
    b.delete()
    assert not b.workdir.exists() and not b.kubeconfig.exists()
    assert not b.running()


def test_dry_run_argv_only_adds_the_flag(settings: Settings, fake_runner: FakeRunner, tmp_path: Path) -> None:
    b = backend(settings, fake_runner, tmp_path)
    tools = fake_toolchain(tmp_path / "bin")
    assert b.create_argv(tools, dry_run=True) == [*b.create_argv(tools), "--dry-run"]
