"""Drift made with the real kubectl against the real cluster: every kind changes the live object.

Each test gets its own namespace (the shared ``namespace`` fixture) holding
the starter demo app, rendered from repos/starter/apps/demo and applied the
way the controller applies it, so the injector's default arguments are
checked against the app they are for.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labkit.cli import drift_cmds  # noqa: F401  (registers `labkit drift`)
from labkit.cli.base import main
from labkit.drift import KINDS, DriftInjector
from labkit.errors import CommandError
from labkit.events import Timeline
from labkit.gitops.render import render
from labkit.kube import Kube, Manifest
from labkit.settings import Settings

pytestmark = pytest.mark.cluster


class Demo:
    """The demo app in a namespace of its own, with an injector aimed at it."""

    def __init__(self, lab: Any, namespace: str, tmp_path: Path) -> None:
        self.ns = namespace
        self.context: str | None = getattr(lab, "context", None) or None
        self.kubeconfig = Path(lab.kubeconfig)
        self.kube = Kube(self.kubeconfig, self.context)
        self.timeline = Timeline(tmp_path / "timeline.jsonl")
        self.echoed: list[str] = []
        self.injector = DriftInjector(
            self.kubeconfig, self.timeline, echo=self.echoed.append, context=self.context
        )

    def deploy(self) -> None:
        for obj in render(Settings().starter_repo / "apps" / "demo", app=self.ns, dest_namespace=self.ns):
            result = self.kube.apply(obj)
            assert result.ok, result.message

    def get(self, kind: str, name: str) -> Manifest | None:
        api_version = "apps/v1" if kind == "Deployment" else "v1"
        return self.kube.get(api_version, kind, name, self.ns)


@pytest.fixture
def demo(lab: Any, namespace: str, tmp_path: Path) -> Iterator[Demo]:
    demo = Demo(lab, namespace, tmp_path)
    try:
        demo.deploy()
        yield demo
    finally:
        demo.kube.close()


def _container(demo: Demo) -> Manifest:
    deployment = demo.get("Deployment", "web")
    assert deployment is not None
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "web")


CHECKS: dict[str, Callable[[Demo], bool]] = {
    "scale": lambda d: (d.get("Deployment", "web") or {})["spec"]["replicas"] == 5,
    "edit": lambda d: (d.get("ConfigMap", "web-config") or {})["data"]["GREETING"] == "hot-fixed",
    "set_image": lambda d: _container(d)["image"] == "nginx:1.28",
    "add_label": lambda d: (d.get("Deployment", "web") or {})["metadata"]["labels"].get("hotfix") == "true",
    "set_env": lambda d: {"name": "DEBUG", "value": "1"} in _container(d).get("env", []),
    "patch_service_type": lambda d: (d.get("Service", "web") or {})["spec"]["type"] == "NodePort",
    "delete": lambda d: d.get("ConfigMap", "web-config") is None,
    "add_untracked": lambda d: d.get("ConfigMap", "hand-made") is not None,
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_drift_changes_the_live_object_and_is_recorded(demo: Demo, kind: str) -> None:
    assert not CHECKS[kind](demo), "the starter app already looks drifted"
    drift = demo.injector.inject(kind, app="demo", namespace=demo.ns)
    assert CHECKS[kind](demo)
    [event] = demo.timeline.read(kind="drift_injected")
    assert (event.app, event.data["drift"], event.data["command"]) == ("demo", kind, drift.command)
    assert demo.echoed[0].startswith(f"$ {drift.command}")


def test_kubectl_edit_of_replicas_writes_a_number_the_api_server_accepts(demo: Demo) -> None:
    demo.injector.edit(demo.ns, "Deployment", "web", "spec.replicas", "3")
    assert (demo.get("Deployment", "web") or {})["spec"]["replicas"] == 3


def test_an_invalid_kubectl_edit_fails_at_once_and_changes_nothing(demo: Demo) -> None:
    started = time.monotonic()
    with pytest.raises(CommandError, match="is invalid"):
        demo.injector.edit(demo.ns, "Deployment", "web", "spec.replicas", "many")
    assert time.monotonic() - started < 30  # kubectl reopens the editor once, then gives up
    assert (demo.get("Deployment", "web") or {})["spec"]["replicas"] == 2
    assert demo.timeline.read() == []


def test_the_error_of_a_failed_drift_is_a_command_that_fails_the_same_way_when_pasted(demo: Demo) -> None:
    with pytest.raises(CommandError) as caught:
        demo.injector.scale(demo.ns, "no-such-deployment", 3)
    pasted = subprocess.run(
        shlex.split(caught.value.pretty_command), capture_output=True, text=True, timeout=60
    )
    assert pasted.returncode != 0 and "NotFound" in pasted.stderr


def test_labkit_drift_set_image_on_the_command_line_changes_the_cluster(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "home" / "labs" / "default"
    state_dir.mkdir(parents=True)
    config = subprocess.run(
        [
            str(demo.injector.kubectl),
            "--kubeconfig",
            str(demo.kubeconfig),
            "config",
            "view",
            "--raw",
            "--minify",
            *(["--context", demo.context] if demo.context else []),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (state_dir / "kubeconfig").write_text(config)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_LAB", "default")
    result = CliRunner().invoke(
        main, ["drift", "set-image", demo.ns, "web", "web", "nginx:1.29", "--app", "demo"]
    )
    assert result.exit_code == 0, result.output
    assert f"$ kubectl -n {demo.ns} set image deployment/web web=nginx:1.29" in result.output
    assert _container(demo)["image"] == "nginx:1.29"
    assert Timeline(state_dir / "timeline.jsonl").read()[0].data["drift"] == "set_image"
