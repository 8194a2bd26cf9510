"""The push pipeline for real: a push to a bare repo, its post-receive hook, kubectl apply on the cluster.

Each test has its own Git server (a bare repo whose hook is labkit's, in a
state directory of its own, so the shared lab's pushes never start it) and
applies the starter demo app to a namespace the pipeline creates itself.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.cluster import kubectl
from labkit.events import Timeline
from labkit.git import LabRepo
from labkit.gitops.application import TRACKING_ANNOTATION
from labkit.hook import render_hook_script
from labkit.kube import Kube
from labkit.push import NOT_RETRIED, PipelineRun, PushPipeline, Target
from labkit.settings import Settings

pytestmark = pytest.mark.cluster


@dataclass
class PushLab:
    lab: Any
    state_dir: Path
    repo: LabRepo
    pipeline: PushPipeline
    target: Target
    kube: Kube

    def enable(self, kubeconfig: Path, context: str | None) -> None:
        self.pipeline.enable([self.target], kubeconfig, context)

    def wait_run(self, sha: str, timeout_s: float = 60) -> PipelineRun:
        """The finished run of ``sha`` that the hook started."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [r for r in self.pipeline.runs() if r.revision == sha and r.finished_at is not None]
            if done:
                return done[-1]
            time.sleep(0.2)
        hook_log = self.state_dir / "pipeline" / "logs" / f"{sha}.log"
        detail = hook_log.read_text() if hook_log.exists() else "the hook never started it"
        raise AssertionError(f"no finished pipeline run of {sha[:7]} after {timeout_s} s:\n{detail}")

    def events(self, sha: str) -> list[str]:
        timeline = Timeline(self.state_dir / "timeline.jsonl")
        return [e.kind for e in sorted(timeline, key=lambda e: e.ts_ns) if e.revision == sha]


@pytest.fixture
def push(lab: Any, namespace: str, tmp_path: Path) -> Iterator[PushLab]:
    state_dir = tmp_path / "push-lab"
    repos = state_dir / "repos"
    hook = render_hook_script(sys.executable, state_dir)
    repo = LabRepo.create(repos / "gitops.git", repos / "gitops-work", Settings().starter_repo, hook=hook)
    target = Target("apps/demo", f"{namespace}-push")  # not there yet: the pipeline creates it
    context = lab.context or None
    with Kube(lab.kubeconfig, context) as kube:
        push = PushLab(lab, state_dir, repo, PushPipeline(state_dir), target, kube)
        push.enable(lab.kubeconfig, context)
        try:
            yield push
        finally:
            push.pipeline.disable()
            kube.delete("v1", "Namespace", target.namespace, propagation="Background")
            kubectl.force_delete_pods(lab.runner, lab.kubeconfig, lab.context, target.namespace)


def _dead_kubeconfig(lab: Any, dest: Path) -> Path:
    """The lab's credentials, pointed at a port where no API server listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free now, and nothing will listen on it
    argv = [str(Path(sys.executable).parent / "kubectl"), "--kubeconfig", str(lab.kubeconfig)]
    argv += ["config", "view", "--raw", "--minify", *(["--context", lab.context] if lab.context else [])]
    config = yaml.safe_load(
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    )
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    dest.write_text(yaml.safe_dump(config))
    dest.chmod(0o600)
    return dest


def test_a_push_to_main_runs_the_pipeline_which_applies_the_commit_with_kubectl(push: PushLab) -> None:
    sha = push.repo.set_replicas("apps/demo", "web", 4)
    run = push.wait_run(sha)
    assert run.ok, run.log_path.read_text()
    assert run.objects == 3
    live = push.kube.get("apps/v1", "Deployment", "web", push.target.namespace)
    assert live is not None and live["spec"]["replicas"] == 4
    annotations = live["metadata"].get("annotations") or {}
    assert TRACKING_ANNOTATION not in annotations  # the push model tracks nothing
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations  # client-side apply, as CI does
    assert push.events(sha) == ["pushed", "pipeline_started", "pipeline_applied"]
    assert f"apply -f {run.log_path.with_suffix('')}" in run.log_path.read_text()


def test_with_the_api_server_unreachable_the_run_fails_and_the_commit_waits_for_the_next_push(
    push: PushLab, tmp_path: Path
) -> None:
    push.enable(_dead_kubeconfig(push.lab, tmp_path / "dead-kubeconfig"), None)
    lost = push.repo.set_replicas("apps/demo", "web", 4)
    failed = push.wait_run(lost)
    assert not failed.ok and failed.error is not None and "refused" in failed.error
    assert push.events(lost) == ["pushed", "pipeline_started", "pipeline_failed"]
    assert NOT_RETRIED in failed.log_path.read_text()

    push.enable(push.lab.kubeconfig, push.lab.context or None)  # the API server is "back"
    time.sleep(2)  # nothing retries the lost commit in the meantime
    assert push.kube.get("v1", "Namespace", push.target.namespace) is None
    assert [r.revision for r in push.pipeline.runs()] == [lost]

    nxt = push.repo.set_image("apps/demo", "web", "nginx:1.28")
    assert push.wait_run(nxt).ok
    live = push.kube.get("apps/v1", "Deployment", "web", push.target.namespace)
    assert live is not None  # the next push carries the lost change along with its own
    assert live["spec"]["replicas"] == 4
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
