"""The real kwok lab: nodes, pods after the configured delay, reuse, status, localhost-only listeners.

Uses the session's ``lab`` (see tests/conftest.py) and never breaks it; tests that
must break a lab use their own (test_lab_lifecycle.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from labkit.cluster import procs, toolchain
from labkit.cluster.kwok import KwokBackend
from labkit.lab import Lab
from labkit.settings import Settings
from tests.integration.conftest import listening_sockets

pytestmark = pytest.mark.cluster


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "nginx"}]},
            },
        },
    }


def test_the_lab_has_at_least_three_ready_nodes(lab: Lab) -> None:
    with lab.kube() as kube:
        assert kube.nodes_ready() >= 3
    assert lab.backend.name == "kwok"


def test_scaling_a_deployment_gives_running_pods_after_the_configured_delay(
    lab: Lab, namespace: str, record_property: Any
) -> None:
    delay_s = lab.settings.cluster.pod_ready_delay_ms / 1000
    jitter_s = lab.settings.cluster.pod_ready_jitter_ms / 1000
    with lab.kube() as kube:
        assert kube.apply({**deployment("web", 0), "metadata": {"name": "web", "namespace": namespace}}).ok
        start = time.monotonic()
        kube.patch("apps/v1", "Deployment", "web", namespace, {"spec": {"replicas": 3}})

        seen: dict[str, float] = {}
        ready: dict[str, float] = {}
        while len(ready) < 3:
            now = time.monotonic()
            for pod in kube.list("v1", "Pod", namespace):
                name = pod["metadata"]["name"]
                seen.setdefault(name, now)
                if pod.get("status", {}).get("phase") == "Running":
                    ready.setdefault(name, now)
            assert now - start < jitter_s + 15, "pods did not go Running"
            time.sleep(0.05)
    elapsed = max(ready.values()) - start
    per_pod = sorted(round(ready[n] - seen[n], 2) for n in ready)
    record_property("pods_running_after_s", round(elapsed, 2))
    print(f"\n3 pods Running {elapsed:.2f} s after scaling; seen->Running per pod {per_pod} s")
    # kwok holds every pod for at least the delay; the slowest is held at most `jitter`, plus scheduling.
    assert elapsed >= delay_s
    assert elapsed <= jitter_s + 5
    assert max(per_pod) <= jitter_s + 1


def test_up_again_reuses_the_running_lab_within_3_seconds(lab: Lab) -> None:
    start = time.monotonic()
    again = Lab.up(Settings(), progress=lambda m: None)
    elapsed = time.monotonic() - start
    print(f"\nup when already up: {elapsed:.2f} s")
    assert elapsed <= 3.0
    assert again.record == lab.record


def test_status_json_has_the_documented_keys(lab: Lab) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labkit", "status", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    status = json.loads(result.stdout)
    assert {"backend", "kubeconfig", "context", "nodes_ready", "repo", "state_dir"} <= set(status)
    assert set(status["repo"]) >= {"bare", "work", "url"}
    assert status["backend"] == "kwok" and status["nodes_ready"] >= 3
    assert status["repo"]["url"].startswith("file://")


def test_every_listener_of_the_labs_processes_is_on_localhost(lab: Lab) -> None:
    assert isinstance(lab.backend, KwokBackend)
    components = procs.alive(lab.backend.cluster_dir)
    assert set(components) >= {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
    seen = {name: listening_sockets(pid) for name, pid in components.items()}
    assert all(seen.values()), f"every component listens somewhere: {seen}"
    addresses = {address for sockets in seen.values() for address, _ in sockets}
    assert addresses == {"127.0.0.1"}, seen
    ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False).stdout
    for pid in components.values():
        for line in (line for line in ss.splitlines() if f"pid={pid}," in line):
            assert line.split()[3].startswith("127.0.0.1:"), line


def test_kubectl_and_git_work_with_the_lab_environment_alone(lab: Lab, tmp_path: Path) -> None:
    env = {k: v for k, v in lab.env().items()}
    env["HOME"] = str(tmp_path)  # no ~/.kube/config, no ~/.gitconfig: the lab env must be enough
    nodes = subprocess.run(["kubectl", "get", "nodes", "-o", "name"], env=env, capture_output=True, text=True)
    assert nodes.returncode == 0, nodes.stderr
    assert len(nodes.stdout.split()) >= 3
    branch = f"t-env-{time.time_ns()}"
    work = env["LABKIT_REPO"]
    pushed = subprocess.run(
        ["git", "-C", work, "push", "origin", f"HEAD:refs/heads/{branch}"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    subprocess.run(
        ["git", "-C", work, "push", "origin", f":refs/heads/{branch}"],
        env=env,
        check=True,
        capture_output=True,
    )


def test_lab_up_from_a_notebook_process_reuses_the_running_lab(lab: Lab) -> None:
    code = "import labkit; lab = labkit.Lab.up(); print('backend=' + lab.status()['backend'])"
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **lab.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "reusing the running kwok lab" in result.stdout and "backend=kwok" in result.stdout
    assert time.monotonic() - start < 15


def test_the_built_kube_apiserver_reports_the_pinned_version() -> None:
    settings = Settings()
    for binary in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        path = toolchain.lookup(settings, binary)
        assert path is not None, f"{binary} is not in the cache; run `labkit toolchain ensure`"
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
        assert out.strip() == f"Kubernetes {settings.versions.kubernetes}"


def test_kwokctl_is_handed_local_binaries_and_downloads_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lab="dry-run")
    backend = KwokBackend(settings)
    tools = backend.prepare(lambda m: None)
    result = subprocess.run(
        backend.create_argv(tools, dry_run=True),
        env={**backend.kwokctl_env()},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # kwokctl prints "# Download SRC to DEST" for every binary it sets up; ours must all be local files.
    downloads = re.findall(r"^# Download (\S+) to", result.stdout, re.MULTILINE)
    assert len(downloads) == 5
    assert all(src.startswith("/") and "://" not in src for src in downloads), downloads
    assert "kubectl" not in " ".join(downloads)
    assert "--bind-address=127.0.0.1" in result.stdout
