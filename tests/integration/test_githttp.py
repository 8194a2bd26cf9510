"""The lab's Git server over HTTP for real: clone anonymously, push with the credential, survive SIGKILL.

Each test starts its own server with :func:`labkit.githttp.argv` on the
session lab's state directory, on a port of its own (``git-http-test`` in the
lab's ports.json), so whatever the lab's supervisor runs on the lab's own
``git-http`` port is left alone (one test pushes through that one, with the
credential file as git's own store helper reads it); the server is killed at the end. A push
made over HTTP moves the lab's bare repository, so the learner's working clone
is fast-forwarded afterwards for the tests that commit through it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from labkit import githttp, ports
from tests.integration.apphelpers import GitApp, deployment, dump, eventually

if TYPE_CHECKING:
    from labkit.lab import Lab

pytestmark = pytest.mark.cluster
GITAPP_PREFIX = "githttp"
PORT_NAME = "git-http-test"
NO_HELPERS = ("-c", "credential.helper=")
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class Server:
    """``labkit git-http run`` as the supervisor would start it, on the test's port; log in a file."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        self.state_dir, self.log = state_dir, log
        self.port = ports.port(state_dir, PORT_NAME)
        self.url = f"http://127.0.0.1:{self.port}/{githttp.REPO}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(githttp.argv(self.state_dir, self.port), stderr=log, stdout=log)
        eventually(lambda: git("ls-remote", self.url).returncode == 0, 20, f"{self.url} answers")

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=60)


def with_credential(server: Server, tmp_path: Path) -> tuple[str, ...]:
    """git options that give the lab's credential (for the test's port) to git's credential-store helper."""
    user, token = githttp.credentials(server.state_dir)
    store = tmp_path / "credentials"
    store.write_text(f"http://{user}:{token}@127.0.0.1:{server.port}\n")
    store.chmod(0o600)
    return (*NO_HELPERS, "-c", f"credential.helper=store --file={store}")


@pytest.fixture
def server(lab: Lab, tmp_path: Path) -> Iterator[Server]:
    running = Server(lab.state_dir, tmp_path / "git-http.log")
    running.start()
    try:
        yield running
    finally:
        running.kill(signal.SIGTERM)
        # Pushes over HTTP moved main: let the learner's clone follow, as `git pull` would.
        git("fetch", "-q", "origin", cwd=lab.repo.work)
        git("merge", "-q", "--ff-only", "origin/main", cwd=lab.repo.work)


def commit_file(clone: Path, relpath: str, text: str, message: str) -> str:
    path = clone / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git("add", relpath, cwd=clone)
    git(
        "-c",
        "user.name=HTTP learner",
        "-c",
        "user.email=http@labkit.local",
        "commit",
        "-qm",
        message,
        cwd=clone,
    )
    return git("rev-parse", "HEAD", cwd=clone).stdout.strip()


def test_anyone_clones_over_http_and_a_push_without_the_credential_gets_401(
    lab: Lab, server: Server, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    cloned = git(*NO_HELPERS, "clone", "-q", server.url, str(clone))
    assert cloned.returncode == 0, cloned.stderr
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == lab.repo.head()
    before = lab.repo.head()
    commit_file(clone, "scratch/anonymous.txt", "no credential\n", "Anonymous push")
    pushed = git(*NO_HELPERS, "push", "origin", "main", cwd=clone)
    assert pushed.returncode != 0
    assert lab.repo.head() == before
    assert '"GET /gitops.git/info/refs?service=git-receive-pack" 401' in server.log.read_text()


def test_a_push_with_the_credential_runs_the_hook_and_the_controller_syncs_it(
    lab: Lab, server: Server, gitapp: GitApp, tmp_path: Path
) -> None:
    gitapp.commit("demo app", **{"app.yaml": dump(deployment(replicas=2))})
    gitapp.create(auto_sync=True)
    gitapp.wait(sync="Synced", timeout_s=60)
    clone = tmp_path / "clone"
    assert git(*NO_HELPERS, "clone", "-q", server.url, str(clone)).returncode == 0
    sha = commit_file(clone, f"{gitapp.path}/app.yaml", dump(deployment(replicas=4)), "Scale to 4 over HTTP")
    pushed = git(*with_credential(server, tmp_path), "push", "origin", "main", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr
    assert lab.repo.head() == sha
    [event] = [e for e in lab.timeline.read(kind="pushed") if e.revision == sha]
    assert (event.actor, event.data["author"]) == ("git", "HTTP learner")
    assert any(e.revision == sha for e in lab.timeline.read(kind="webhook_received"))
    gitapp.wait(sync="Synced", revision=sha, timeout_s=30)
    live = gitapp.live("Deployment", "web", "apps/v1")
    assert live is not None and live["spec"]["replicas"] == 4
    assert '"POST /gitops.git/git-receive-pack" 200' in server.log.read_text()


def test_after_sigkill_the_server_restarts_on_its_port_and_serves_a_push_made_while_it_was_down(
    lab: Lab, server: Server, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    assert git(*NO_HELPERS, "clone", "-q", server.url, str(clone)).returncode == 0
    server.kill(signal.SIGKILL)
    assert git("ls-remote", server.url).returncode != 0
    # While it is down, Git itself still works: push to the bare repository directly.
    direct = tmp_path / "direct"
    git("clone", "-q", str(lab.repo.bare), str(direct))
    sha = commit_file(
        direct, "scratch/while-down.txt", "pushed during the outage\n", "Push while HTTP is down"
    )
    assert git("push", "-q", "origin", "main", cwd=direct).returncode == 0
    server.start()
    assert server.port == ports.port(lab.state_dir, PORT_NAME)
    fetched = git(*NO_HELPERS, "fetch", "-q", "origin", cwd=clone)
    assert fetched.returncode == 0, fetched.stderr
    assert git("rev-parse", "origin/main", cwd=clone).stdout.strip() == sha
    assert git("cat-file", "-e", f"{sha}:scratch/while-down.txt", cwd=clone).returncode == 0


def test_status_shows_the_labs_http_url(lab: Lab) -> None:
    status = lab.status()
    assert status["repo"]["http_url"] == githttp.url(lab.state_dir)
    assert (
        status["repo"]["http_url"] == f"http://127.0.0.1:{ports.port(lab.state_dir, 'git-http')}/gitops.git"
    )


def test_the_labs_own_server_takes_a_push_with_the_credential_file_as_git_reads_it(
    lab: Lab, tmp_path: Path
) -> None:
    url = lab.repo.http_url  # served by the lab's supervisor since `labkit up`
    eventually(lambda: git("ls-remote", url).returncode == 0, 20, f"{url} answers")
    clone = tmp_path / "clone"
    assert git(*NO_HELPERS, "clone", "-q", url, str(clone)).returncode == 0
    sha = commit_file(
        clone, "scratch/lab-server.txt", "via the lab's server\n", "Push to the lab's own server"
    )
    store = f"credential.helper=store --file={lab.state_dir / githttp.CREDENTIALS}"
    try:
        pushed = git(*NO_HELPERS, "-c", store, "push", "origin", "main", cwd=clone)
        assert pushed.returncode == 0, pushed.stderr
        assert lab.repo.head() == sha
    finally:
        git("fetch", "-q", "origin", cwd=lab.repo.work)
        git("merge", "-q", "--ff-only", "origin/main", cwd=lab.repo.work)


def test_the_supervisor_restarts_the_killed_git_server_within_5_s_and_a_push_made_meanwhile_is_fetched(
    lab: Lab, tmp_path: Path
) -> None:
    from labkit import supervisor

    url = lab.repo.http_url
    clone = tmp_path / "clone"
    old = supervisor.wait_for_pid(lab.state_dir, "git-http")
    assert git(*NO_HELPERS, "clone", "-q", url, str(clone)).returncode == 0
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    direct = tmp_path / "direct"
    git("clone", "-q", str(lab.repo.bare), str(direct))
    sha = commit_file(
        direct, "scratch/outage.txt", "pushed while the server was down\n", "Push during the outage"
    )
    try:
        assert git("push", "-q", "origin", "main", cwd=direct).returncode == 0
        new = eventually(lambda: _restarted_pid(lab.state_dir, old), 10, "git-http restarted")
        eventually(lambda: git("ls-remote", url).returncode == 0, 5, f"{url} answers again")
        assert time.monotonic() - killed < 5, "git-http took longer than 5 s to come back"
        assert new != old
        assert git(*NO_HELPERS, "fetch", "-q", "origin", cwd=clone).returncode == 0
        assert git("rev-parse", "origin/main", cwd=clone).stdout.strip() == sha
    finally:
        git("fetch", "-q", "origin", cwd=lab.repo.work)
        git("merge", "-q", "--ff-only", "origin/main", cwd=lab.repo.work)


def _restarted_pid(state_dir: Path, old: int) -> int | None:
    from labkit import supervisor

    entry = supervisor.read_status(state_dir).get("programs", {}).get("git-http", {})
    pid = entry.get("pid")
    return int(pid) if pid and pid != old and entry.get("state") == "running" else None
