"""`labkit up|down|status|env|jupyter|toolchain` on bad input: one clear message, the right exit code,
nothing left behind. No cluster is started here (detection fails before one would be)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from labkit.cli import main
from labkit.cli.lab_cmds import closing_hint, has_display, jupyter_argv


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LABKIT_ALLOW_DOWNLOAD", "0")
    monkeypatch.delenv("LABKIT_BACKEND", raising=False)
    return tmp_path / "home"


@pytest.fixture
def bare_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Go and no Docker on PATH (kubectl from the wheel stays)."""
    real_which = __import__("shutil").which
    monkeypatch.setattr(
        "shutil.which", lambda name, *a, **k: None if name in ("go", "docker", "kind") else real_which(name)
    )


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_up_with_an_unknown_backend_lists_the_valid_ones(home: Path) -> None:
    code, out = invoke("up", "--backend", "minikube")
    assert code == 2
    assert "'minikube' is not one of 'kwok', 'kind', 'kubeconfig'" in out
    assert not home.exists()


def test_an_unknown_backend_in_labkit_backend_fails_and_creates_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_BACKEND", "minikube")
    code, out = invoke("up")
    assert code == 1
    assert "unknown backend 'minikube' (from LABKIT_BACKEND)" in out
    assert "next step: choose one of: kwok, kind, kubeconfig" in out
    assert not (home / "labs" / "default").exists()


def test_up_with_kind_and_no_docker_says_so_and_creates_nothing(home: Path, bare_machine: None) -> None:
    code, out = invoke("up", "--backend", "kind")
    assert code == 1
    assert "no Docker daemon answers `docker info`" in out
    assert not (home / "labs" / "default").exists()


def test_up_with_no_go_no_cache_and_no_docker_lists_every_check(home: Path, bare_machine: None) -> None:
    code, out = invoke("up")
    assert code == 1
    assert "no cluster backend can run here" in out
    assert (
        "kind: no Docker daemon answers" in out and "kwok: no kube-apiserver binary, Go is not on PATH" in out
    )
    assert not (home / "labs" / "default").exists()


def test_up_with_a_missing_context_lists_the_existing_ones(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    code, out = invoke("up", "--context", "prod")
    assert code == 1
    assert "context 'prod' does not exist" in out and "contexts there: dev" in out


def test_down_when_nothing_is_up_says_so_and_exits_zero(home: Path) -> None:
    code, out = invoke("down")
    assert code == 0
    assert "nothing to do: no lab in" in out


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["env"], ["reset"]])
def test_commands_that_need_a_lab_say_how_to_start_one(home: Path, command: list[str]) -> None:
    code, out = invoke(*command)
    assert code == 1
    assert "no lab is running" in out and "next step: labkit up" in out


def test_toolchain_status_json_shows_what_is_missing_and_fails(home: Path, bare_machine: None) -> None:
    result = CliRunner().invoke(main, ["toolchain", "status", "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert {r["binary"] for r in rows} >= {"kube-apiserver", "etcd", "kwokctl"}
    assert {r["source"] for r in rows} == {"missing"}


def test_toolchain_ensure_on_a_corrupt_cache_without_go_names_the_rebuild(
    home: Path, bare_machine: None
) -> None:
    entry = home.parent / "cache" / "bin" / "kubernetes-v1.36.3"
    entry.mkdir(parents=True)
    (entry / "kube-apiserver").write_text("half a binary")
    code, out = invoke("toolchain", "ensure")
    assert code == 1
    assert "no readable labkit-toolchain.json" in out
    assert "labkit toolchain ensure --rebuild" in out


def test_jupyter_listens_on_localhost_and_opens_no_browser_in_ci_or_headless() -> None:
    argv = jupyter_argv(Path("/v/bin/jupyter"), Path("/p/notebooks"), {"CI": "true", "DISPLAY": ":0"})
    assert argv[:3] == ["/v/bin/jupyter", "lab", "--ip=127.0.0.1"]
    assert "--notebook-dir=/p/notebooks" in argv and "--no-browser" in argv
    assert "--no-browser" in jupyter_argv(Path("j"), Path("n"), {})
    assert "--no-browser" not in jupyter_argv(Path("j"), Path("n"), {"DISPLAY": ":0"})
    assert "--allow-root" in jupyter_argv(Path("j"), Path("n"), {}, root=True)
    assert "--allow-root" not in jupyter_argv(Path("j"), Path("n"), {})


def test_a_display_exists_on_macos_or_with_x11_or_wayland() -> None:
    assert has_display({}, "darwin")
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not has_display({}, "linux")


def test_the_closing_hint_shows_the_export_line_and_the_next_step() -> None:
    hint = closing_hint(Path("/h/labs/default/kubeconfig"), Path("/h/labs/default/repos/gitops-work"))
    assert "export KUBECONFIG=/h/labs/default/kubeconfig" in hint
    assert "make lab" in hint and "notebook 01" in hint
