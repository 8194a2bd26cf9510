"""The drift injector with a fake runner: the kubectl commands it builds, what it echoes and records.

The editor script that ``kubectl edit`` runs is executed for real on a file
shaped like the one kubectl hands it. The real cluster is in
tests/integration/test_drift.py.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from labkit.cli import drift_cmds
from labkit.cli.base import main
from labkit.drift import DEFAULTS, EDITOR_SCRIPT, KINDS, Drift, DriftError, DriftInjector
from labkit.errors import CommandError
from labkit.events import Timeline
from labkit.proc import Result

KUBECTL = Path("/venv/bin/kubectl")
KUBECONFIG = Path("/lab/kubeconfig")
PREFIX = [str(KUBECTL), "--kubeconfig", str(KUBECONFIG)]


@dataclass
class FakeRunner:
    """Records each command; answers with ``stdout``, or fails like the real runner when told to."""

    stdout: str = "done\n"
    stderr: str = ""
    fail_with: str | None = None
    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Result:
        self.calls.append((list(argv), dict(env or {})))
        if self.fail_with is not None:
            raise CommandError(argv, 1, self.fail_with)
        return Result(tuple(argv), 0, self.stdout, self.stderr)


@dataclass
class Rig:
    injector: DriftInjector
    runner: FakeRunner
    echoed: list[str]
    timeline: Timeline


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    runner, echoed = FakeRunner(), []
    timeline = Timeline(tmp_path / "timeline.jsonl")
    injector = DriftInjector(KUBECONFIG, timeline, runner=runner, echo=echoed.append, kubectl=KUBECTL)
    return Rig(injector, runner, echoed, timeline)


def test_scale_runs_the_real_kubectl_with_the_lab_kubeconfig(rig: Rig) -> None:
    rig.injector.scale("demo", "web", 5, app="demo")
    assert rig.runner.calls[0][0] == [*PREFIX, "-n", "demo", "scale", "deployment/web", "--replicas=5"]


def test_the_echo_shows_the_command_a_learner_would_type_then_kubectls_output(rig: Rig) -> None:
    rig.runner.stdout = "deployment.apps/web scaled\n"
    drift = rig.injector.scale("demo", "web", 5)
    assert rig.echoed == ["$ kubectl -n demo scale deployment/web --replicas=5", "deployment.apps/web scaled"]
    assert drift.command == "kubectl -n demo scale deployment/web --replicas=5"


@pytest.mark.parametrize(
    ("call", "args", "field", "declared"),
    [
        (
            lambda d: d.set_image("demo", "web", "web", "nginx:1.28"),
            ["-n", "demo", "set", "image", "deployment/web", "web=nginx:1.28"],
            "spec.template.spec.containers[web].image",
            True,
        ),
        (
            lambda d: d.add_label("demo", "Deployment", "web", "hotfix", "true"),
            ["-n", "demo", "label", "deployment/web", "hotfix=true", "--overwrite"],
            "metadata.labels.hotfix",
            False,
        ),
        (
            lambda d: d.set_env("demo", "web", "web", "DEBUG", "1"),
            ["-n", "demo", "set", "env", "deployment/web", "--containers=web", "DEBUG=1"],
            "spec.template.spec.containers[web].env[DEBUG]",
            False,
        ),
        (
            lambda d: d.patch_service_type("demo", "web", "NodePort"),
            ["-n", "demo", "patch", "service/web", "--type=merge", "-p", '{"spec":{"type":"NodePort"}}'],
            "spec.type",
            False,
        ),
        (
            lambda d: d.delete("demo", "ConfigMap", "web-config"),
            ["-n", "demo", "delete", "configmap/web-config"],
            "*",
            True,
        ),
        (
            lambda d: d.add_untracked("demo"),
            ["-n", "demo", "create", "configmap", "hand-made", "--from-literal=created-by=kubectl"],
            "*",
            False,
        ),
        (
            lambda d: d.add_untracked("demo", "Secret", "token"),
            ["-n", "demo", "create", "secret", "generic", "token", "--from-literal=created-by=kubectl"],
            "*",
            False,
        ),
    ],
)
def test_each_drift_runs_its_kubectl_command_and_says_whether_git_declares_the_field(
    rig: Rig, call: Any, args: list[str], field: str, declared: bool
) -> None:
    drift = call(rig.injector)
    assert rig.runner.calls[0][0] == [*PREFIX, *args]
    assert (drift.field, drift.declared) == (field, declared)
    assert rig.echoed[0].startswith(f"$ kubectl -n demo {args[2]}")


def test_the_patch_command_is_echoed_quoted_so_it_can_be_pasted(rig: Rig) -> None:
    rig.injector.patch_service_type("demo", "web", "NodePort")
    assert (
        rig.echoed[0]
        == '$ kubectl -n demo patch service/web --type=merge -p \'{"spec":{"type":"NodePort"}}\''
    )


def test_each_drift_appends_a_drift_injected_event_with_what_where_and_how(rig: Rig) -> None:
    rig.injector.set_image("demo", "web", "web", "nginx:1.28", app="demo")
    [event] = rig.timeline.read(kind="drift_injected")
    assert (event.actor, event.app) == ("drift", "demo")
    assert event.data == {
        "drift": "set_image",
        "namespace": "demo",
        "target": "deployment/web",
        "field": "spec.template.spec.containers[web].image",
        "command": "kubectl -n demo set image deployment/web web=nginx:1.28",
        "declared": True,
    }


def test_a_context_is_passed_to_kubectl_but_not_echoed(tmp_path: Path) -> None:
    runner, echoed = FakeRunner(), []
    injector = DriftInjector(
        KUBECONFIG,
        Timeline(tmp_path / "t.jsonl"),
        runner=runner,
        echo=echoed.append,
        kubectl=KUBECTL,
        context="kwok-lab",
    )
    injector.scale("demo", "web", 1)
    assert runner.calls[0][0][:5] == [*PREFIX, "--context", "kwok-lab"]
    assert "--context" not in echoed[0]


def test_a_failed_kubectl_raises_a_pasteable_command_error_and_records_nothing(rig: Rig) -> None:
    rig.runner.fail_with = 'Error from server (NotFound): deployments.apps "nope" not found'
    with pytest.raises(CommandError) as caught:
        rig.injector.scale("demo", "nope", 3)
    assert (
        caught.value.pretty_command
        == f"{KUBECTL} --kubeconfig {KUBECONFIG} -n demo scale deployment/nope --replicas=3"
    )
    assert "NotFound" in str(caught.value)
    assert "kubectl -n demo get deployment/nope" in caught.value.hint
    assert rig.timeline.read() == []


def test_edit_runs_kubectl_edit_with_an_editor_that_sets_the_field(rig: Rig) -> None:
    rig.runner.stdout = "configmap/web-config edited\n"
    drift = rig.injector.edit("demo", "ConfigMap", "web-config", "data.GREETING", "hi", app="demo")
    argv, env = rig.runner.calls[0]
    assert argv == [*PREFIX, "-n", "demo", "edit", "configmap/web-config"]
    assert env["KUBE_EDITOR"].startswith(sys.executable)
    assert Path(env["KUBE_EDITOR"].split()[-1]).parent == Path(env["TMPDIR"])
    assert (env["LABKIT_EDIT_FIELD"], json.loads(env["LABKIT_EDIT_VALUE"])) == ("data.GREETING", "hi")
    assert (
        rig.echoed[0] == '$ kubectl -n demo edit configmap/web-config  # in the editor: data.GREETING: "hi"'
    )
    assert (drift.kind, drift.field, drift.declared) == ("edit", "data.GREETING", True)
    assert rig.timeline.read()[0].data["drift"] == "edit"


def test_an_edit_of_a_field_git_does_not_declare_can_say_so(rig: Rig) -> None:
    drift = rig.injector.edit("demo", "deployment", "web", "metadata.labels.owner", "me", declared=False)
    assert drift.declared is False and rig.timeline.read()[0].data["declared"] is False


def test_an_edit_that_changes_nothing_is_an_error_not_a_drift(rig: Rig) -> None:
    rig.runner.stderr = "Edit cancelled, no changes made.\n"
    with pytest.raises(DriftError, match="changed nothing"):
        rig.injector.edit("demo", "ConfigMap", "web-config", "data.GREETING", "same")
    assert rig.timeline.read() == []


KUBECTL_EDIT_FILE = """\
# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit.
#
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: "2026-11-26T17:21:26Z"
  labels:
    app.kubernetes.io/name: web
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - image: nginx:1.27
        name: web
"""


def _run_editor(tmp_path: Path, text: str, field_path: str, value: Any) -> dict[str, Any]:
    script, target = tmp_path / "editor.py", tmp_path / "kubectl-edit-1.yaml"
    script.write_text(EDITOR_SCRIPT)
    target.write_text(text)
    env = {"LABKIT_EDIT_FIELD": field_path, "LABKIT_EDIT_VALUE": json.dumps(value), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(script), str(target)], env=env, check=True, timeout=30)
    result: dict[str, Any] = yaml.safe_load(target.read_text().replace("creationTimestamp:", "created:"))
    return result


def test_the_editor_script_sets_an_int_field_from_a_string_and_leaves_the_rest(tmp_path: Path) -> None:
    obj = _run_editor(tmp_path, KUBECTL_EDIT_FILE, "spec.replicas", "7")
    assert obj["spec"]["replicas"] == 7
    assert obj["metadata"]["created"] == "2026-11-26T17:21:26Z"  # still the server's string
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_the_editor_script_indexes_lists_and_keeps_dotted_label_keys_whole(tmp_path: Path) -> None:
    obj = _run_editor(tmp_path, KUBECTL_EDIT_FILE, "spec.template.spec.containers.0.image", "nginx:1.28")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    obj = _run_editor(tmp_path, KUBECTL_EDIT_FILE, "metadata.labels.app.kubernetes.io/name", "api")
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/name": "api"}


def test_the_editor_script_keeps_configmap_values_strings(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  PORT: '80'\n"
    obj = _run_editor(tmp_path, text, "data.PORT", 8080)
    assert obj["data"]["PORT"] == "8080"


def test_inject_fills_in_the_demo_apps_defaults(rig: Rig) -> None:
    drift = rig.injector.inject("scale", app="demo", namespace="demo")
    assert rig.runner.calls[0][0][-3:] == ["scale", "deployment/web", "--replicas=5"]
    assert drift == Drift("scale", "demo", "demo", "deployment/web", "spec.replicas", drift.command, True)


def test_inject_lets_the_caller_override_a_default(rig: Rig) -> None:
    rig.injector.inject(
        "edit", app=None, namespace="demo", kind="deployment", name="web", field_path="spec.replicas", value=3
    )
    argv, env = rig.runner.calls[0]
    assert argv[-2:] == ["edit", "deployment/web"]
    assert env["LABKIT_EDIT_FIELD"] == "spec.replicas"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_the_menu_runs_with_its_defaults_alone(rig: Rig, kind: str) -> None:
    drift = rig.injector.inject(kind, app="demo", namespace="demo")
    assert drift.kind == kind and len(rig.runner.calls) == 1
    assert set(DEFAULTS) == set(KINDS)


def test_inject_refuses_an_unknown_kind_and_a_wrong_argument_before_running_anything(rig: Rig) -> None:
    with pytest.raises(DriftError, match="unknown drift kind 'rollout'"):
        rig.injector.inject("rollout", app=None, namespace="demo")
    with pytest.raises(DriftError, match="bad arguments for drift 'scale'"):
        rig.injector.inject("scale", app=None, namespace="demo", replica=3)
    assert rig.runner.calls == []


def test_untracked_objects_of_an_unknown_kind_are_refused_with_the_known_ones(rig: Rig) -> None:
    with pytest.raises(DriftError) as caught:
        rig.injector.add_untracked("demo", "Ingress", "x")
    assert "configmap, deployment, secret" in caught.value.hint


# -- the CLI -------------------------------------------------------------------------


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_LAB", "default")
    return tmp_path / "home" / "labs" / "default"


def test_cli_drift_scale_runs_kubectl_against_the_labs_kubeconfig_and_records_it(
    lab_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab_home.mkdir(parents=True)
    (lab_home / "kubeconfig").write_text("apiVersion: v1\n")
    runner = FakeRunner(stdout="deployment.apps/web scaled\n")
    monkeypatch.setattr(drift_cmds, "DriftInjector", functools.partial(DriftInjector, runner=runner))
    result = CliRunner().invoke(main, ["drift", "scale", "demo", "web", "5", "--app", "demo"])
    assert result.exit_code == 0, result.output
    assert "$ kubectl -n demo scale deployment/web --replicas=5" in result.output
    assert "OutOfSync" in result.output
    assert runner.calls[0][0][1:3] == ["--kubeconfig", str(lab_home / "kubeconfig")]
    [event] = Timeline(lab_home / "timeline.jsonl").read()
    assert (event.kind, event.app, event.data["drift"]) == ("drift_injected", "demo", "scale")


def test_cli_drift_label_says_the_app_stays_synced(lab_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_home.mkdir(parents=True)
    (lab_home / "kubeconfig").write_text("apiVersion: v1\n")
    runner = FakeRunner()
    monkeypatch.setattr(drift_cmds, "DriftInjector", functools.partial(DriftInjector, runner=runner))
    result = CliRunner().invoke(main, ["drift", "label", "demo", "deployment", "web", "hotfix", "true"])
    assert result.exit_code == 0, result.output
    assert "stays Synced" in result.output
    assert runner.calls[0][0][-3:] == ["deployment/web", "hotfix=true", "--overwrite"]


def test_cli_drift_without_a_lab_says_to_run_labkit_up(lab_home: Path) -> None:
    result = CliRunner().invoke(main, ["drift", "scale", "demo", "web", "5"])
    assert result.exit_code == 1
    assert "labkit up" in result.output


def test_cli_drift_kinds_lists_every_kind_with_its_defaults() -> None:
    result = CliRunner().invoke(main, ["drift", "kinds"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == list(KINDS)
    assert "replicas=5" in result.output
