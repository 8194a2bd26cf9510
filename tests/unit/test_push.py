"""The push pipeline with a real bare repo and a fake kubectl: commands, records, events, failures.

The real cluster and the real post-receive hook are in tests/integration/test_push.py.
"""

from __future__ import annotations

import itertools
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from labkit.cli import pipeline_cmds  # noqa: F401  (registers `labkit pipeline`)
from labkit.cli.base import main
from labkit.errors import CommandError
from labkit.events import Timeline
from labkit.git import LabRepo
from labkit.gitops.application import TRACKING_ANNOTATION
from labkit.proc import Result
from labkit.push import NOT_RETRIED, PipelineError, PushPipeline, Target, strip_tracking
from labkit.push import main as push_main
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"
KUBECTL = "/venv/bin/kubectl"
REFUSED = "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"


@dataclass
class FakeKubectl:
    """Answers kubectl commands: namespaces in ``namespaces`` exist; ``fail`` decides which command breaks."""

    namespaces: set[str] = field(default_factory=set)
    fail: Callable[[list[str]], str | None] = lambda argv: None
    calls: list[list[str]] = field(default_factory=list)

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
        argv = list(argv)
        self.calls.append(argv)
        error = self.fail(argv)
        if error is not None:
            raise CommandError(argv, 1, error)
        verb = argv[argv.index("--request-timeout=30s") + 1]
        if verb == "get":
            ns = argv[argv.index("namespace") + 1]
            return Result(tuple(argv), 0, f"namespace/{ns}\n" if ns in self.namespaces else "", "")
        if verb == "apply":
            objects = list(yaml.safe_load_all(Path(argv[argv.index("-f") + 1]).read_text()))
            out = "".join(f"{o['kind'].lower()}/{o['metadata']['name']} created\n" for o in objects)
            return Result(tuple(argv), 0, out, "")
        return Result(tuple(argv), 0, "namespace/x created\n", "")

    def verbs(self) -> list[str]:
        return [a[a.index("--request-timeout=30s") + 1] for a in self.calls]


@dataclass
class Rig:
    pipeline: PushPipeline
    kubectl: FakeKubectl
    repo: LabRepo
    state_dir: Path
    kubeconfig: Path

    def events(self) -> list[tuple[str, dict[str, object]]]:
        return [
            (e.kind, {"app": e.app, "revision": e.revision, **e.data})
            for e in Timeline(self.state_dir / "timeline.jsonl")
        ]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    state_dir = tmp_path / "lab"
    repo = LabRepo.create(state_dir / "repos" / "gitops.git", state_dir / "repos" / "gitops-work", STARTER)
    kubeconfig = state_dir / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    kubectl = FakeKubectl()
    ticks = itertools.count(1_790_000_000_000_000_000, 250_000_000)  # each clock read is 0.25 s later
    pipeline = PushPipeline(state_dir, runner=kubectl, clock=lambda: next(ticks), kubectl=KUBECTL)
    pipeline.enable([Target("apps/demo", "demo-push")], kubeconfig)
    return Rig(pipeline, kubectl, repo, state_dir, kubeconfig)


def test_a_run_creates_the_missing_namespace_then_applies_the_rendered_commit(rig: Rig) -> None:
    run = rig.pipeline.run(rig.repo.head())
    assert run.ok and run.error is None and run.objects == 3
    credentials = [KUBECTL, "--kubeconfig", str(rig.kubeconfig.resolve()), "--request-timeout=30s"]
    get, create, apply = rig.kubectl.calls
    assert get == [*credentials, "get", "namespace", "demo-push", "--ignore-not-found", "-o", "name"]
    assert create == [*credentials, "create", "namespace", "demo-push"]
    assert apply[:5] == [*credentials, "apply"] and apply[-2:] == ["-n", "demo-push"]


def test_an_existing_namespace_is_not_created_again(rig: Rig) -> None:
    rig.kubectl.namespaces.add("demo-push")
    assert rig.pipeline.run(rig.repo.head()).ok
    assert rig.kubectl.verbs() == ["get", "apply"]


def test_the_applied_file_is_the_commit_rendered_without_labkits_tracking_annotation(rig: Rig) -> None:
    sha = rig.repo.set_replicas("apps/demo", "web", 4)
    rig.pipeline.run(sha)
    applied = Path(rig.kubectl.calls[-1][rig.kubectl.calls[-1].index("-f") + 1])
    objects = {o["kind"]: o for o in yaml.safe_load_all(applied.read_text())}
    assert set(objects) == {"ConfigMap", "Deployment", "Service"}
    assert objects["Deployment"]["spec"]["replicas"] == 4
    assert all(o["metadata"]["namespace"] == "demo-push" for o in objects.values())
    assert not any(TRACKING_ANNOTATION in (o["metadata"].get("annotations") or {}) for o in objects.values())
    assert applied.parent == rig.pipeline.runs_dir  # kept beside the log, so the command can be re-run


def test_a_run_records_started_then_applied_with_duration_and_object_count(rig: Rig) -> None:
    sha = rig.repo.head()
    run = rig.pipeline.run(sha)
    (k1, started), (k2, applied) = rig.events()
    assert (k1, k2) == ("pipeline_started", "pipeline_applied")
    assert started["app"] == applied["app"] == "push:demo-push"
    assert started["revision"] == applied["revision"] == sha
    assert applied["objects"] == 3
    assert applied["duration_s"] == pytest.approx(run.duration_s) and applied["duration_s"] > 0


def test_a_run_writes_a_log_named_by_time_and_short_sha_with_every_command(rig: Rig) -> None:
    sha = rig.repo.head()
    run = rig.pipeline.run(sha)
    assert (
        run.log_path.name.endswith(f"-{sha[:7]}.log")
        and run.log_path.parent == rig.state_dir / "pipeline" / "runs"
    )
    log = run.log_path.read_text()
    assert f"$ {KUBECTL} --kubeconfig" in log and "deployment/web created" in log
    assert "applied 3 objects" in log
    assert all(line.split()[0].endswith("s") for line in log.splitlines())  # each line has its time


def test_an_unreachable_api_server_fails_the_run_cleanly_and_it_is_not_retried(rig: Rig) -> None:
    rig.kubectl.fail = lambda argv: REFUSED
    run = rig.pipeline.run(rig.repo.head())
    assert not run.ok and run.finished_at is not None
    assert run.error is not None and "was refused" in run.error and run.error.startswith("kubectl get failed")
    assert len(rig.kubectl.calls) == 1  # one attempt, no retry
    kinds = [k for k, _ in rig.events()]
    assert kinds == ["pipeline_started", "pipeline_failed"]
    assert rig.events()[1][1]["error"] == run.error
    log = run.log_path.read_text()
    assert "FAILED" in log and NOT_RETRIED in log and REFUSED in log


def test_an_invalid_manifest_fails_the_run_before_any_kubectl_command(rig: Rig) -> None:
    sha = rig.repo.commit_and_push("break it", {"apps/demo/broken.yaml": "kind: [unclosed\n"})
    run = rig.pipeline.run(sha)
    assert not run.ok and run.error is not None and "invalid YAML" in run.error
    assert rig.kubectl.calls == []


def test_a_failing_apply_fails_the_run_with_kubectls_last_words(rig: Rig) -> None:
    rig.kubectl.fail = lambda argv: (
        'Error from server (Invalid): Deployment "web" is invalid' if "apply" in argv else None
    )
    run = rig.pipeline.run(rig.repo.head())
    assert (
        run.error == 'kubectl apply failed (exit 1): Error from server (Invalid): Deployment "web" is invalid'
    )


def test_a_run_without_config_fails_cleanly_and_says_to_enable_the_pipeline(rig: Rig) -> None:
    (rig.state_dir / "pipeline" / "config.json").unlink()
    run = rig.pipeline.run(rig.repo.head())
    assert not run.ok and run.error is not None and "cannot read the pipeline config" in run.error
    assert [(k, d["app"]) for k, d in rig.events()] == [
        ("pipeline_started", "push"),
        ("pipeline_failed", "push"),
    ]


def test_two_targets_are_applied_in_order_and_the_app_names_both(rig: Rig) -> None:
    rig.pipeline.enable([Target("apps/demo", "a"), Target("apps/redis", "b")], rig.kubeconfig)
    run = rig.pipeline.run(rig.repo.head())
    assert run.ok
    assert [c[-1] for c in rig.kubectl.calls if "apply" in c] == ["a", "b"]
    assert rig.events()[-1][1]["app"] == "push:a,b"


def test_a_context_in_the_config_is_passed_to_every_kubectl(rig: Rig) -> None:
    rig.pipeline.enable([Target("apps/demo", "demo-push")], rig.kubeconfig, context="kwok-labkit")
    rig.pipeline.run(rig.repo.head())
    assert len(rig.kubectl.calls) == 3
    assert all(c[3:5] == ["--context", "kwok-labkit"] for c in rig.kubectl.calls)


def test_the_error_names_the_kubectl_verb_that_failed_even_with_a_context(rig: Rig) -> None:
    rig.pipeline.enable([Target("apps/demo", "demo-push")], rig.kubeconfig, context="kwok-labkit")
    rig.kubectl.fail = lambda argv: "Unauthorized" if "create" in argv else None
    run = rig.pipeline.run(rig.repo.head())
    assert run.error == "kubectl create failed (exit 1): Unauthorized"


def test_enable_writes_a_private_config_and_the_switch_the_hook_looks_for(rig: Rig) -> None:
    config = rig.state_dir / "pipeline" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert rig.pipeline.enabled and (rig.state_dir / "pipeline" / "enabled").exists()
    assert rig.pipeline.config() == (
        [Target("apps/demo", "demo-push")],
        ["--kubeconfig", str(rig.kubeconfig.resolve())],
    )
    rig.pipeline.disable()
    assert not rig.pipeline.enabled and config.exists()


def test_enable_refuses_no_targets_and_a_missing_kubeconfig(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="at least one target"):
        rig.pipeline.enable([], rig.kubeconfig)
    with pytest.raises(PipelineError, match="no kubeconfig"):
        rig.pipeline.enable([Target("apps/demo", "x")], tmp_path / "missing")


def test_runs_lists_finished_runs_oldest_first_and_logs_returns_the_last_n(rig: Rig) -> None:
    first = rig.pipeline.run(rig.repo.head())
    rig.kubectl.fail = lambda argv: REFUSED
    second = rig.pipeline.run(rig.repo.head())
    assert [r.ok for r in rig.pipeline.runs()] == [True, False]
    assert rig.pipeline.runs() == [first, second]
    assert "was refused" in rig.pipeline.logs() and "applied 3 objects" not in rig.pipeline.logs()
    assert "applied 3 objects" in rig.pipeline.logs(2)


def test_logs_and_runs_are_empty_before_the_first_run(tmp_path: Path) -> None:
    pipeline = PushPipeline(tmp_path)
    assert (pipeline.runs(), pipeline.logs(), pipeline.enabled) == ([], "", False)


def test_strip_tracking_keeps_other_annotations_and_drops_an_empty_map() -> None:
    tracked = {"metadata": {"name": "a", "annotations": {TRACKING_ANNOTATION: "x", "team": "sre"}}}
    assert strip_tracking(tracked)["metadata"] == {"name": "a", "annotations": {"team": "sre"}}
    only = {"metadata": {"name": "a", "annotations": {TRACKING_ANNOTATION: "x"}}}
    assert strip_tracking(only)["metadata"] == {"name": "a"}


def test_python_m_labkit_push_exits_1_when_the_run_failed(rig: Rig) -> None:
    (rig.state_dir / "pipeline" / "config.json").unlink()
    said: list[str] = []
    code = push_main(
        ["run", "--state-dir", str(rig.state_dir), "--revision", rig.repo.head()], echo=said.append
    )
    assert code == 1 and said[0].startswith("push pipeline FAILED")


# -- the CLI -------------------------------------------------------------------------


@pytest.fixture
def cli_lab(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Rig:
    """``rig``'s state directory as the lab Settings() finds."""
    home = rig.state_dir.parent / "home"
    (home / "labs").mkdir(parents=True)
    (home / "labs" / "default").symlink_to(rig.state_dir)
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("LABKIT_LAB", "default")
    return rig


def test_cli_enable_takes_one_namespace_per_path_and_defaults_to_the_lab_kubeconfig(cli_lab: Rig) -> None:
    result = CliRunner().invoke(main, ["pipeline", "enable", "--path", "apps/demo", "--namespace", "p1"])
    assert result.exit_code == 0, result.output
    assert "apps/demo -> namespace p1" in result.output
    assert cli_lab.pipeline.config()[0] == [Target("apps/demo", "p1")]
    bad = CliRunner().invoke(main, ["pipeline", "enable", "--path", "a", "--path", "b", "--namespace", "x"])
    assert bad.exit_code == 2 and "one --namespace for each --path" in bad.output


def test_cli_disable_runs_and_logs_show_the_pipelines_state(cli_lab: Rig) -> None:
    cli_lab.kubectl.fail = lambda argv: REFUSED
    cli_lab.pipeline.run(cli_lab.repo.head())
    runs = CliRunner().invoke(main, ["pipeline", "runs"])
    assert runs.exit_code == 0 and cli_lab.repo.head()[:7] in runs.output and "FAILED" in runs.output
    logs = CliRunner().invoke(main, ["pipeline", "logs", "-n", "1"])
    assert NOT_RETRIED in logs.output
    assert CliRunner().invoke(main, ["pipeline", "disable"]).exit_code == 0
    assert not cli_lab.pipeline.enabled
