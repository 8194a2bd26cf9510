"""The post-receive hook, run for real: a bare repo, a push, a webhook server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labkit import forge
from labkit.cluster.labstate import LabRecord
from labkit.errors import CommandError
from labkit.events import Timeline
from labkit.forge import github_push_event, github_signature
from labkit.git import LabRepo, PushedCommit, pushed_commits
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
from labkit.proc import Result
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
        "http_url": lab.http_url,
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


# -- the real engines: a GitHub push event to Argo CD, a reconcile request to Flux ---------------

ARGOCD_SECRET = b"argo-shared-secret"


@pytest.fixture
def argocd_server(state_dir: Path) -> Iterator[Received]:
    """An /api/webhook that checks a push the way Argo CD's GitHub parser (go-playground/webhooks) does."""
    received = Received(ARGOCD_SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.requests.append((self.path, dict(self.headers), body))
            mac = hmac.new(received.secret, body, hashlib.sha256).hexdigest()
            signature = (self.headers.get("X-Hub-Signature-256") or "").removeprefix("sha256=")
            ok = self.headers.get("X-GitHub-Event") == "push" and hmac.compare_digest(signature, mac)
            self.send_response(200 if ok else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    (state_dir / forge.ARGOCD_INFO).write_text(
        json.dumps({"server": f"127.0.0.1:{server.server_address[1]}"})
    )
    (state_dir / forge.ARGOCD_SECRET).write_bytes(ARGOCD_SECRET + b"\n")
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_github_push_event_names_the_labs_http_url_the_way_github_does() -> None:
    commits = [PushedCommit("b" * 40, "Scale web", modified=("apps/demo/deployment.yaml",))]
    event = github_push_event(
        "refs/heads/main", "a" * 40, "b" * 40, commits, "http://127.0.0.1:4242/gitops.git"
    )
    assert event["repository"] == {
        "name": "gitops",
        "full_name": "labkit/gitops",
        "html_url": "http://127.0.0.1:4242/gitops",
        "clone_url": "http://127.0.0.1:4242/gitops.git",
        "default_branch": "main",
    }
    assert (event["ref"], event["before"], event["after"]) == ("refs/heads/main", "a" * 40, "b" * 40)
    assert event["commits"] == [
        {
            "id": "b" * 40,
            "message": "Scale web",
            "added": [],
            "modified": ["apps/demo/deployment.yaml"],
            "removed": [],
        }
    ]
    assert event["head_commit"] == event["commits"][0]
    assert (event["created"], event["deleted"]) == (False, False)


def test_a_new_or_deleted_branch_is_flagged_in_the_push_event() -> None:
    created = github_push_event("refs/heads/x", ZERO, "b" * 40, [], "http://127.0.0.1:1/gitops.git")
    deleted = github_push_event("refs/heads/x", "b" * 40, ZERO, [], "http://127.0.0.1:1/gitops.git")
    assert (created["created"], created["deleted"], created["head_commit"]) == (True, False, None)
    assert (deleted["created"], deleted["deleted"]) == (False, True)


def test_the_github_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"ref": "refs/heads/main"}'
    expected = hmac.new(ARGOCD_SECRET, body, hashlib.sha256).hexdigest()
    assert github_signature(ARGOCD_SECRET, body) == f"sha256={expected}"


def test_pushed_commits_list_added_modified_and_removed_files_oldest_first(lab: LabRepo) -> None:
    before = lab.head()
    first = lab.commit_and_push("Add a note", {"NOTE.md": "hi\n"})
    second = lab.commit_and_push("Edit and remove", {"NOTE.md": "hello\n", "README.md": None})
    commits = pushed_commits(lab.bare, before, second)
    assert [(c.sha, c.message) for c in commits] == [(first, "Add a note"), (second, "Edit and remove")]
    assert (commits[0].added, commits[0].modified, commits[0].removed) == (("NOTE.md",), (), ())
    assert (commits[1].added, commits[1].modified, commits[1].removed) == ((), ("NOTE.md",), ("README.md",))


def test_pushed_commits_of_a_new_branch_is_its_head_and_of_a_deleted_one_nothing(lab: LabRepo) -> None:
    head = lab.head()
    assert [c.sha for c in pushed_commits(lab.bare, ZERO, head)] == [head]
    assert pushed_commits(lab.bare, head, ZERO) == []


def test_a_push_sends_argocd_a_signed_github_push_event_and_records_it(
    lab: LabRepo, state_dir: Path, argocd_server: Received
) -> None:
    before = lab.head()
    sha = lab.set_replicas("apps/demo", "web", 5)
    [(path, headers, body)] = argocd_server.requests
    assert path == "/api/webhook"
    assert {k.lower(): v for k, v in headers.items()}["x-github-event"] == "push"  # names are case-blind
    event = json.loads(body)
    assert (event["before"], event["after"]) == (before, sha)
    assert event["repository"]["clone_url"] == LabRepo(lab.bare, lab.work).http_url
    assert event["commits"][0]["modified"] == ["apps/demo/deployment.yaml"]
    [sent] = Timeline(state_dir / "timeline.jsonl").read(kind="webhook_sent")
    assert (sent.actor, sent.revision, sent.data["engine"], sent.data["sent"], sent.data["status"]) == (
        "git",
        sha,
        "argocd",
        True,
        200,
    )


def test_argocd_refusing_the_event_is_one_warning_and_the_push_stands(
    lab: LabRepo, state_dir: Path, argocd_server: Received
) -> None:
    (state_dir / forge.ARGOCD_SECRET).write_text("not the shared secret\n")
    lab.write("NOTE.md", "hi\n")
    subprocess.run(["git", "-C", str(lab.work), "add", "NOTE.md"], check=True)
    subprocess.run(["git", "-C", str(lab.work), "commit", "-qm", "Add a note"], check=True)
    push = subprocess.run(["git", "-C", str(lab.work), "push"], capture_output=True, text=True, timeout=30)
    assert push.returncode == 0
    assert "labkit: warning: Argo CD at" in push.stderr and "HTTP 400" in push.stderr
    [sent] = Timeline(state_dir / "timeline.jsonl").read(kind="webhook_sent")
    assert (sent.data["sent"], sent.data["status"]) == (False, 400)


def test_without_argocd_json_argocd_is_skipped_silently(state_dir: Path) -> None:
    assert forge.argocd_webhook_url(state_dir) is None
    assert forge.notify_argocd(state_dir, {"ref": "refs/heads/main"}) is None


def test_argocd_without_the_shared_secret_is_not_sent_anything(state_dir: Path) -> None:
    (state_dir / forge.ARGOCD_INFO).write_text(json.dumps({"server": f"127.0.0.1:{closed_port()}"}))
    notice = forge.notify_argocd(state_dir, {"ref": "refs/heads/main"})
    assert notice is not None and not notice.sent and "argocd-webhook.secret" in notice.message


def test_argocd_down_is_reported_within_the_time_bound(state_dir: Path) -> None:
    (state_dir / forge.ARGOCD_INFO).write_text(json.dumps({"server": f"127.0.0.1:{closed_port()}"}))
    (state_dir / forge.ARGOCD_SECRET).write_bytes(ARGOCD_SECRET)
    started = time.monotonic()
    notice = forge.notify_argocd(state_dir, {"ref": "refs/heads/main"})
    assert time.monotonic() - started < 2.5
    assert notice is not None and not notice.sent and "unreachable" in notice.message


def test_the_push_event_goes_only_to_127_0_0_1(state_dir: Path) -> None:
    (state_dir / forge.ARGOCD_INFO).write_text(json.dumps({"server": "example.com:443"}))
    (state_dir / forge.ARGOCD_SECRET).write_bytes(ARGOCD_SECRET)
    notice = forge.notify_argocd(state_dir, {"ref": "refs/heads/main"})
    assert notice is not None and not notice.sent and "only 127.0.0.1" in notice.message


def _gitrepository(namespace: str, name: str, url: str) -> dict[str, object]:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"url": url}}


def test_flux_targets_are_the_gitrepositories_of_the_labs_url_with_or_without_dot_git() -> None:
    listed = {
        "items": [
            _gitrepository("flux-system", "lab", "http://127.0.0.1:4242/gitops.git"),
            _gitrepository("team", "lab-short", "http://127.0.0.1:4242/gitops"),
            _gitrepository("flux-system", "other", "https://github.com/example/other.git"),
        ]
    }
    assert forge.flux_targets(listed, "http://127.0.0.1:4242/gitops.git") == [
        ("flux-system", "lab"),
        ("team", "lab-short"),
    ]


def test_without_flux_json_flux_is_skipped_silently(state_dir: Path) -> None:
    def runner(argv: Sequence[str], **kw: object) -> Result:
        raise AssertionError(f"nothing should run: {argv}")

    assert forge.notify_flux(state_dir, "http://127.0.0.1:4242/gitops.git", runner=runner) is None


def test_flux_is_asked_to_reconcile_with_the_requested_at_annotation(state_dir: Path) -> None:
    (state_dir / forge.FLUX_INFO).write_text("{}")
    (state_dir / "lab.json").write_text(
        LabRecord("kwok", str(state_dir / "kubeconfig"), "kwok-lab", "lab", "now").to_json()
    )
    listed = {"items": [_gitrepository("flux-system", "lab", "http://127.0.0.1:4242/gitops.git")]}
    calls: list[list[str]] = []

    def runner(argv: Sequence[str], **kw: object) -> Result:
        calls.append(list(argv))
        return Result(tuple(argv), 0, json.dumps(listed) if "get" in argv else "annotated", "")

    when = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    notice = forge.notify_flux(state_dir, "http://127.0.0.1:4242/gitops.git", runner=runner, now=lambda: when)
    assert notice is not None and notice.sent and "flux-system/lab" in notice.message
    get, annotate = calls
    assert get[1:5] == ["--kubeconfig", str(state_dir / "kubeconfig"), "--context", "kwok-lab"]
    assert "gitrepositories.source.toolkit.fluxcd.io" in get and "-A" in get
    assert annotate[5:] == [
        "annotate",
        "--overwrite",
        "-n",
        "flux-system",
        "gitrepositories.source.toolkit.fluxcd.io",
        "lab",
        "reconcile.fluxcd.io/requestedAt=2026-01-02T03:04:05.600000Z",
        annotate[-1],
    ]
    assert annotate[-1].startswith("--request-timeout=")


def test_a_failing_kubectl_becomes_a_flux_warning_not_an_exception(state_dir: Path) -> None:
    (state_dir / forge.FLUX_INFO).write_text("{}")
    (state_dir / "lab.json").write_text(
        LabRecord("kwok", str(state_dir / "kubeconfig"), "kwok-lab", "lab", "now").to_json()
    )

    def runner(argv: Sequence[str], **kw: object) -> Result:
        raise CommandError(argv, 1, "the server doesn't have a resource type gitrepositories")

    notice = forge.notify_flux(state_dir, "http://127.0.0.1:4242/gitops.git", runner=runner)
    assert notice is not None and not notice.sent and "could not ask Flux" in notice.message
