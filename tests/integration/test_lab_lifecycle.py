"""Breaking labs on purpose: stale labs, reset, down, two `up`s at once, a taken port, a borrowed context.

Each test uses a scratch lab of its own (tests/integration/conftest.py) through the
real CLI or the Lab facade, so the session's shared lab is never touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.cluster import procs
from labkit.cluster.kwok import KwokBackend, port_free
from labkit.errors import LabStateError
from labkit.lab import Lab
from tests.integration.conftest import Scratch, listening_sockets

pytestmark = pytest.mark.cluster


def kwok_components(lab: Lab) -> dict[str, int]:
    assert isinstance(lab.backend, KwokBackend)
    return procs.alive(lab.backend.cluster_dir)


def test_a_stale_lab_is_detected_and_recreated_keeping_its_git_history(scratch: Scratch) -> None:
    lab = Lab.up(scratch.settings, progress=lambda m: None)
    head = lab.repo.head()
    for pid in kwok_components(lab).values():
        os.kill(pid, signal.SIGKILL)  # what a reboot or an OOM kill leaves behind
    time.sleep(0.2)
    with pytest.raises(LabStateError) as e:
        Lab.attach(scratch.settings)
    assert "not running any more" in e.value.message
    messages: list[str] = []
    again = Lab.up(scratch.settings, progress=messages.append)
    assert any("found a stale kwok lab" in m for m in messages)
    assert again.record.created_at >= lab.record.created_at
    assert again.repo.head() == head
    with again.kube() as kube:
        assert kube.nodes_ready() >= 3


def test_reset_returns_to_the_starter_state_within_10_seconds(
    scratch: Scratch, record_property: object
) -> None:
    lab = Lab.up(scratch.settings, progress=lambda m: None)
    starter_files = sorted(p.name for p in (lab.repo.work / "apps").iterdir())
    env = lab.env()
    for ns in ("learner-a", "learner-b"):
        subprocess.run(["kubectl", "create", "namespace", ns], env=env, check=True, capture_output=True)
        subprocess.run(
            ["kubectl", "-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=3"],
            env=env,
            check=True,
            capture_output=True,
        )
    lab.repo.commit_and_push("add extra", {"apps/extra.yaml": "kind: ConfigMap\n"})
    time.sleep(2.5)  # let the pods go Running: reset must also wait out their termination
    seconds = lab.reset(progress=lambda m: None)
    print(f"\nreset: {seconds:.2f} s")
    assert seconds <= 10
    with lab.kube() as kube:
        names = {n["metadata"]["name"] for n in kube.list("v1", "Namespace")}
    assert "learner-a" not in names and "learner-b" not in names
    assert {"labkit", "default", "kube-system"} <= names
    assert sorted(p.name for p in (lab.repo.work / "apps").iterdir()) == starter_files
    assert len(lab.repo.log()) == 1


def test_down_leaves_no_process_port_or_lab_directory(scratch: Scratch) -> None:
    lab = Lab.up(scratch.settings, progress=lambda m: None)
    components = kwok_components(lab)
    ports = [port for pid in components.values() for _, port in listening_sockets(pid)]
    assert ports
    result = scratch.labkit("down")
    assert result.returncode == 0, result.stderr
    assert "is down" in result.stdout
    assert not scratch.settings.state_dir.exists()
    assert all(not procs.is_ours(pid, lab.backend.cluster_dir) for pid in components.values())
    assert all(_gone(pid) for pid in components.values())
    assert all(port_free(port) for port in ports)
    again = scratch.labkit("down")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0


def test_up_twice_at_once_makes_one_lab_and_the_second_waits_for_it(scratch: Scratch) -> None:
    argv = [sys.executable, "-m", "labkit", "up"]
    first = subprocess.Popen(
        argv, env=scratch.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(0.3)
    second = subprocess.Popen(
        argv, env=scratch.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out1, _ = first.communicate(timeout=180)
    out2, _ = second.communicate(timeout=180)
    assert first.returncode == 0, out1
    assert second.returncode == 0, out2
    both = out1 + out2
    assert "another labkit command is working on this lab" in both
    assert "reusing the running kwok lab" in both
    assert both.count("starting etcd, kube-apiserver") == 1
    lab = Lab.attach(scratch.settings)
    assert len(kwok_components(lab)) == 5


def test_a_taken_api_server_port_fails_fast_and_leaves_nothing(scratch: Scratch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.monotonic()
        result = scratch.labkit("up", env={"LABKIT_APISERVER_PORT": str(port)})
        elapsed = time.monotonic() - start
    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
    assert "LABKIT_APISERVER_PORT" in result.stderr
    assert elapsed < 20  # kwokctl itself would wait 2 minutes for an API server that cannot bind
    assert not scratch.settings.state_dir.exists()


def test_a_lab_can_borrow_an_existing_kubeconfig_context(lab: Lab, scratch: Scratch) -> None:
    env = {"KUBECONFIG": str(lab.kubeconfig)}
    result = scratch.labkit("up", "--backend", "kubeconfig", "--context", lab.context, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    status = scratch.labkit("status", "--json")
    assert '"backend": "kubeconfig"' in status.stdout
    assert scratch.labkit("down").returncode == 0
    with lab.kube() as kube:  # the borrowed cluster and its labkit namespace are still there
        assert kube.nodes_ready() >= 3
        assert kube.get("v1", "Namespace", "labkit") is not None
    missing = scratch.labkit("up", "--context", "no-such-context", env=env)
    assert missing.returncode == 1
    assert f"contexts there: {lab.context}" in missing.stderr
