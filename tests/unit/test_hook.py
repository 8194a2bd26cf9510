"""The post-receive hook, run for real: a bare repo, a push, a webhook server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labkit.events import Timeline
from labkit.git import LabRepo
from labkit.hook import (
    SIGNATURE_HEADER,
    RefUpdate,
    deliver_webhook,
    launch_detached,
    main,
    parse_updates,
    pipeline_argv,
    render_hook_script,
    sign,
    verify,
)
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"
SECRET = b"0123456789abcdef"
ZERO = "0" * 40


@dataclass
class Received:
    """What the fake controller's webhook endpoint saw."""

    secret: bytes
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, Received]]:
    """A webhook endpoint on 127.0.0.1 that checks the signature like the controller does."""
    received = Received(SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.requests.append((self.path, dict(self.headers), body))
            ok = verify(received.secret, body, self.headers.get(SIGNATURE_HEADER))
            self.send_response(202 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/webhook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    # A space in the path checks the hook script's quoting.
    state = tmp_path / "lab state"
    state.mkdir()
    (state / "webhook.secret").write_bytes(SECRET + b"\n")
    return state


@pytest.fixture
def lab(state_dir: Path) -> LabRepo:
    hook = render_hook_script(sys.executable, state_dir)
    return LabRepo.create(state_dir / "repos/gitops.git", state_dir / "repos/gitops-work", STARTER, hook=hook)


def listen_at(state_dir: Path, url: str) -> None:
    (state_dir / "controller.json").write_text(json.dumps({"pid": os.getpid(), "webhook_url": url}))


def pushed_events(state_dir: Path) -> list[dict[str, object]]:
    events = Timeline(state_dir / "timeline.jsonl").read(kind="pushed")
    return [{"actor": e.actor, "revision": e.revision, **e.data} for e in events]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for a parent that never reaps it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait for a process the hook started to end; kill it (by its pid) if it outlives the wait."""
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(pid):
        os.kill(pid, signal.SIGTERM)


# -- signatures -----------------------------------------------------------------------------------


def test_a_signature_verifies_only_for_the_same_secret_and_body() -> None:
    header = sign(SECRET, b'{"after": "abc"}')
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(SECRET, b'{"after": "abc"}', header)
    assert not verify(b"other secret", b'{"after": "abc"}', header)
    assert not verify(SECRET, b'{"after": "abd"}', header)


@pytest.mark.parametrize("header", [None, "", "sha256=", "deadbeef", "sha1=" + "0" * 40])
def test_a_missing_or_malformed_signature_does_not_verify(header: str | None) -> None:
    assert not verify(SECRET, b"{}", header)


def test_parse_updates_reads_post_receive_lines_and_skips_garbage() -> None:
    lines = [f"{ZERO} {'a' * 40} refs/heads/main\n", "garbage\n", f"{'a' * 40} {ZERO} refs/heads/old\n"]
    updates = parse_updates(lines)
    assert updates == [
        RefUpdate(ZERO, "a" * 40, "refs/heads/main"),
        RefUpdate("a" * 40, ZERO, "refs/heads/old"),
    ]
    assert [u.deleted for u in updates] == [False, True]


def test_the_hook_script_execs_this_python_with_the_state_dir(state_dir: Path) -> None:
    script = render_hook_script("/opt/py thon/bin/python", state_dir)
    assert script.startswith("#!/bin/sh\n")
    assert f"exec '/opt/py thon/bin/python' -m labkit.hook --state-dir '{state_dir}'\n" in script


# -- a real push ----------------------------------------------------------------------------------


def test_a_push_appends_a_pushed_event_with_author_and_subject(lab: LabRepo, state_dir: Path) -> None:
    before = lab.head()
    started = time.time_ns()
    sha = lab.set_replicas("apps/demo", "web", 5)
    [event] = Timeline(state_dir / "timeline.jsonl").read(kind="pushed")
    assert started <= event.ts_ns <= time.time_ns()
    assert pushed_events(state_dir) == [
        {
            "actor": "git",
            "revision": sha,
            "ref": "refs/heads/main",
            "before": before,
            "author": "labkit learner",
            "message": "Scale web to 5 replicas",
        }
    ]


def test_a_push_posts_a_signed_webhook_the_controller_can_verify(
    lab: LabRepo, state_dir: Path, webhook_server: tuple[str, Received]
) -> None:
    url, received = webhook_server
    listen_at(state_dir, url)
    before = lab.head()
    sha = lab.set_replicas("apps/demo", "web", 5)
    [(path, headers, body)] = received.requests
    assert path == "/api/webhook"
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "repository": lab.url,
    }


def test_the_pusher_sees_one_line_when_the_controller_is_down_and_the_push_stands(
    lab: LabRepo, state_dir: Path
) -> None:
    listen_at(state_dir, f"http://127.0.0.1:{closed_port()}/api/webhook")
    lab.write("NOTE.md", "hi\n")
    subprocess.run(["git", "-C", str(lab.work), "add", "NOTE.md"], check=True)
    subprocess.run(["git", "-C", str(lab.work), "commit", "-qm", "Add a note"], check=True)
    push = subprocess.run(["git", "-C", str(lab.work), "push"], capture_output=True, text=True, timeout=30)
    assert push.returncode == 0
    warnings = [line for line in push.stderr.splitlines() if "labkit: warning" in line]
    assert len(warnings) == 1 and "controller unreachable" in warnings[0]
    assert pushed_events(state_dir)[0]["revision"] == lab.head()


def test_a_push_starts_the_pipeline_in_the_background_when_enabled(lab: LabRepo, state_dir: Path) -> None:
    (state_dir / "pipeline").mkdir()
    (state_dir / "pipeline" / "enabled").touch()
    lab.write("NOTE.md", "hi\n")
    subprocess.run(["git", "-C", str(lab.work), "add", "NOTE.md"], check=True)
    subprocess.run(["git", "-C", str(lab.work), "commit", "-qm", "Add a note"], check=True)
    push = subprocess.run(["git", "-C", str(lab.work), "push"], capture_output=True, text=True, timeout=30)
    [started] = [line for line in push.stderr.splitlines() if "push pipeline started" in line]
    wait_gone(int(started.split("(pid ")[1].split(")")[0]))
    sha = lab.head()
    log = (state_dir / "pipeline" / "logs" / f"{sha}.log").read_text()
    assert f"-m labkit.push run --state-dir '{state_dir}' --revision {sha}" in log.splitlines()[0]
    assert len(log.splitlines()) > 1  # the job itself wrote to the log, so it did start


def test_no_pipeline_starts_when_it_is_not_enabled(lab: LabRepo, state_dir: Path) -> None:
    lab.set_replicas("apps/demo", "web", 5)
    assert not (state_dir / "pipeline").exists()
    assert len(pushed_events(state_dir)) == 1


def test_the_pipeline_ignores_branches_other_than_main_and_deletions(lab: LabRepo, state_dir: Path) -> None:
    (state_dir / "pipeline").mkdir()
    (state_dir / "pipeline" / "enabled").touch()
    sha = lab.head()
    updates = [f"{ZERO} {sha} refs/heads/feature", f"{sha} {ZERO} refs/heads/main"]
    assert main(["--state-dir", str(state_dir), "--git-dir", str(lab.bare)], stdin=updates) == 0
    assert not (state_dir / "pipeline" / "logs").exists()
    feature, deleted = pushed_events(state_dir)
    assert (
        feature["ref"] == "refs/heads/feature"
        and feature["message"] == "Initial commit: starter GitOps repository"
    )
    assert deleted == {
        "actor": "git",
        "revision": ZERO,
        "ref": "refs/heads/main",
        "before": sha,
        "deleted": True,
    }


def test_the_hook_never_fails_even_when_it_cannot_record(
    lab: LabRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    line = f"{ZERO} {lab.head()} refs/heads/main"
    assert main(["--state-dir", str(not_a_dir), "--git-dir", str(lab.bare)], stdin=[line]) == 0
    assert "labkit: warning: hook failed for refs/heads/main" in capsys.readouterr().err


# -- webhook delivery -----------------------------------------------------------------------------


def test_a_webhook_with_the_wrong_secret_is_reported_as_refused(
    state_dir: Path, webhook_server: tuple[str, Received]
) -> None:
    url, received = webhook_server
    received.secret = b"the controller's other secret"
    listen_at(state_dir, url)
    delivery = deliver_webhook(state_dir, RefUpdate(ZERO, "a" * 40, "refs/heads/main"), "file:///r.git")
    assert (delivery.delivered, delivery.status) == (False, 401)
    assert "refused the webhook (HTTP 401)" in delivery.message


@pytest.mark.parametrize(
    "url", ["http://localhost:1/api/webhook", "http://10.1.2.3/api/webhook", "https://127.0.0.1/"]
)
def test_the_webhook_goes_only_to_plain_http_on_127_0_0_1(state_dir: Path, url: str) -> None:
    listen_at(state_dir, url)
    delivery = deliver_webhook(state_dir, RefUpdate(ZERO, "a" * 40, "refs/heads/main"), "file:///r.git")
    assert not delivery.delivered and "only 127.0.0.1 is allowed" in delivery.message


def test_no_webhook_is_sent_without_a_running_controller_or_a_secret(
    state_dir: Path, webhook_server: tuple[str, Received]
) -> None:
    url, received = webhook_server
    update = RefUpdate(ZERO, "a" * 40, "refs/heads/main")
    assert "no controller is running" in deliver_webhook(state_dir, update, "file:///r.git").message
    listen_at(state_dir, url)
    (state_dir / "webhook.secret").unlink()
    assert "no webhook secret" in deliver_webhook(state_dir, update, "file:///r.git").message
    assert received.requests == []


# -- the detached pipeline ------------------------------------------------------------------------


def test_launch_detached_returns_before_the_job_ends_and_the_job_logs(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "job.log"
    job = [sys.executable, "-c", "import time; time.sleep(1.5); print('job finished')"]
    started = time.monotonic()
    pid = launch_detached(job, log)
    assert time.monotonic() - started < 1.0
    assert running(pid)
    wait_gone(pid)
    assert log.read_text().splitlines()[-1] == "job finished"


def test_pipeline_argv_runs_labkit_push_for_one_revision(tmp_path: Path) -> None:
    argv = pipeline_argv("/py", tmp_path, "abc")
    assert argv == ["/py", "-m", "labkit.push", "run", "--state-dir", str(tmp_path), "--revision", "abc"]
