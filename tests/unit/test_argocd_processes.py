"""How Argo CD's processes are started: every listener on loopback, on the lab's own ports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit import ports
from labkit.argocd import module, processes
from labkit.settings import Settings


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, processes.Program]:
    fake_module = tmp_path / "mod"
    (fake_module / "hack").mkdir(parents=True)
    monkeypatch.setattr(module, "module_dir", lambda settings: fake_module)
    monkeypatch.setattr(processes, "redis_server", lambda: Path("/opt/redis-server"))
    made = processes.programs(tmp_path, Settings(), Path("/cache/argocd"), [Path("/cache/helm-v4.3.1")])
    return {p.name: p for p in made}


def flag(program: processes.Program, name: str) -> str:
    return program.argv[program.argv.index(name) + 1]


def test_the_four_processes_start_in_order_from_one_binary_named_by_argocd_binary_name(
    programs: dict[str, processes.Program],
) -> None:
    assert list(programs) == list(processes.NAMES)
    for name in processes.NAMES[1:]:
        assert programs[name].argv[0] == "/cache/argocd"
        assert programs[name].env["ARGOCD_BINARY_NAME"] == name
        assert programs[name].env["ARGOCD_FAKE_IN_CLUSTER"] == "true"
        assert programs[name].env["ARGOCD_GPG_ENABLED"] == "false"


def test_every_listener_binds_loopback_on_a_port_the_lab_allocated(
    tmp_path: Path, programs: dict[str, processes.Program]
) -> None:
    given = ports.ports(tmp_path)
    redis = programs["argocd-redis"]
    assert flag(redis, "--bind") == "127.0.0.1" and int(flag(redis, "--port")) == given["argocd-redis"]
    repo = programs["argocd-repo-server"]
    assert flag(repo, "--address") == "127.0.0.1" and flag(repo, "--metrics-address") == "127.0.0.1"
    server = programs["argocd-server"]
    assert flag(server, "--address") == "127.0.0.1" and flag(server, "--metrics-address") == "127.0.0.1"
    assert int(flag(server, "--port")) == given["argocd-server"]
    controller = programs["argocd-application-controller"]
    assert int(flag(controller, "--metrics-port")) == given["argocd-controller-metrics"]
    assert flag(controller, "--repo-server") == f"127.0.0.1:{given['argocd-repo-server']}"
    assert len(set(given.values())) == len(given), "no two listeners share a port"


def test_the_repo_server_finds_helm_kustomize_and_the_verify_wrapper_and_writes_only_to_the_lab(
    tmp_path: Path, programs: dict[str, processes.Program]
) -> None:
    env = programs["argocd-repo-server"].env
    path = env["PATH"].split(":")
    assert path[0] == str(tmp_path / "argocd" / "bin") and "/cache/helm-v4.3.1" in path
    wrapper = tmp_path / "argocd" / "bin" / "git-verify-wrapper.sh"
    assert wrapper.stat().st_mode & 0o111 and "git-verify-wrapper.sh" in wrapper.read_text()
    assert env["TMPDIR"] == str(tmp_path / "argocd" / "tmp")


def test_argocds_kubeconfig_is_the_labs_with_namespace_argocd_and_private(tmp_path: Path) -> None:
    lab = tmp_path / "kubeconfig"
    lab.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kwok-labkit",
                "contexts": [{"name": "kwok-labkit", "context": {"cluster": "c", "user": "u"}}],
                "clusters": [],
                "users": [],
            }
        )
    )
    path = processes.write_kubeconfig(tmp_path, lab, "kwok-labkit")
    assert yaml.safe_load(path.read_text())["contexts"][0]["context"]["namespace"] == "argocd"
    assert path.stat().st_mode & 0o777 == 0o600
