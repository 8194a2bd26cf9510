"""labkit.githttp: the protocol pieces (pure), and the server for real on a bare repo in a temp dir."""

from __future__ import annotations

import base64
import gzip
import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError

import pytest

from labkit import githttp, ports
from labkit.errors import LabkitError
from labkit.git import LabRepo
from labkit.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "repos" / "starter"
NO_HELPERS = ["-c", "credential.helper="]
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


# -- pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "push"),
    [
        ("/gitops.git/info/refs", "service=git-receive-pack", True),
        ("/gitops.git/git-receive-pack", "", True),
        ("/gitops.git/info/refs", "service=git-upload-pack", False),
        ("/gitops.git/git-upload-pack", "", False),
        ("/gitops.git/HEAD", "", False),
    ],
)
def test_only_receive_pack_requests_count_as_a_push(path: str, query: str, push: bool) -> None:
    assert githttp.is_push(path, query) is push


def test_basic_auth_passes_only_with_the_right_user_and_token() -> None:
    assert githttp.authorized(_basic("labkit", "t0ken"), "labkit", "t0ken")
    assert not githttp.authorized(_basic("labkit", "wrong"), "labkit", "t0ken")
    assert not githttp.authorized(_basic("someone", "t0ken"), "labkit", "t0ken")


@pytest.mark.parametrize("header", [None, "", "Bearer t0ken", "Basic not-base64!", "Basic " + "x" * 3])
def test_a_missing_or_malformed_authorization_header_is_refused(header: str | None) -> None:
    assert not githttp.authorized(header, "labkit", "t0ken")


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/gitops.git/info/refs", True),
        ("/gitops.git", True),
        ("/gitops-work/.git/info/refs", False),
        ("/gitops.git/../gitops-work/info/refs", False),
        ("/other.git/info/refs", False),
    ],
)
def test_only_the_bare_repository_is_served(path: str, served: bool) -> None:
    assert githttp.served_path(path) is served


def test_cgi_headers_default_to_200_and_keep_git_content_type() -> None:
    out = io.BytesIO(b"Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nContent-Type: application/x-git\r\n\r\nPACK")
    assert githttp.read_cgi_headers(out) == (
        200,
        "OK",
        [("Expires", "Fri, 01 Jan 1980 00:00:00 GMT"), ("Content-Type", "application/x-git")],
    )
    assert out.read() == b"PACK"


def test_a_cgi_status_header_becomes_the_response_status() -> None:
    out = io.BytesIO(b"Status: 403 Forbidden\nContent-Type: text/plain\n\n")
    assert githttp.read_cgi_headers(out) == (403, "Forbidden", [("Content-Type", "text/plain")])


def test_a_chunked_body_is_decoded_with_extensions_and_trailers() -> None:
    source = io.BytesIO(b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\nnext request")
    dest = io.BytesIO()
    assert githttp.copy_chunked(source, dest) == 12
    assert dest.getvalue() == b"hello, world"
    assert source.read() == b"next request"


def test_argv_runs_labkit_git_http_with_this_python(tmp_path: Path) -> None:
    assert githttp.argv(tmp_path, 4242) == [
        sys.executable,
        *("-m", "labkit", "git-http", "run", "--state-dir", str(tmp_path), "--port", "4242"),
    ]


def test_url_is_the_labs_git_http_port_on_127_0_0_1(tmp_path: Path) -> None:
    assert githttp.url(tmp_path) == f"http://127.0.0.1:{ports.port(tmp_path, 'git-http')}/gitops.git"
    assert githttp.url(tmp_path) == LabRepo(tmp_path / "repos" / "gitops.git", tmp_path / "w").http_url


def test_the_credential_is_made_once_0600_in_credential_store_format(tmp_path: Path) -> None:
    user, token = githttp.credentials(tmp_path)
    assert user == "labkit" and len(token) >= 24
    path = tmp_path / "git-http.credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    port = ports.port(tmp_path, "git-http")
    assert path.read_text() == f"http://labkit:{token}@127.0.0.1:{port}\n"
    assert githttp.credentials(tmp_path) == (user, token)


def test_the_credential_follows_the_lab_when_its_port_changes(tmp_path: Path) -> None:
    _, token = githttp.credentials(tmp_path)
    (tmp_path / "ports.json").write_text('{"git-http": 40001}')
    assert githttp.credentials(tmp_path) == ("labkit", token)
    assert (tmp_path / "git-http.credentials").read_text() == f"http://labkit:{token}@127.0.0.1:40001\n"


# -- the server, for real --------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A lab-shaped state dir whose bare repo's hook writes its stdin and REMOTE_USER, served on 127.0.0.1."""
    state = tmp_path / "state"
    repo = LabRepo.create(state / "repos" / "gitops.git", state / "repos" / "gitops-work", STARTER)
    repo.install_hook(f'#!/bin/sh\necho "user=$REMOTE_USER" > {state}/hook.user\ncat > {state}/hook.stdin\n')
    server = githttp.GitHTTPServer(state, ports.port(state, "git-http"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, githttp.url(state)
    server.shutdown()
    server.server_close()


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=60)


def _commit(clone: Path, name: str) -> str:
    (clone / name).write_text("x\n")
    _git("add", name, cwd=clone)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"add {name}", cwd=clone)
    return _git("rev-parse", "HEAD", cwd=clone).stdout.strip()


def test_anyone_can_clone_and_a_push_without_the_credential_is_refused(
    served: tuple[Path, str], tmp_path: Path
) -> None:
    state, url = served
    clone = tmp_path / "clone"
    assert _git(*NO_HELPERS, "clone", "-q", url, str(clone)).returncode == 0
    assert (clone / "apps").is_dir()
    _commit(clone, "anon.txt")
    pushed = _git(*NO_HELPERS, "push", "origin", "main", cwd=clone)
    assert pushed.returncode != 0
    assert not (state / "hook.stdin").exists()


def test_a_push_with_the_credential_lands_and_runs_the_post_receive_hook(
    served: tuple[Path, str], tmp_path: Path
) -> None:
    state, url = served
    clone = tmp_path / "clone"
    _git(*NO_HELPERS, "clone", "-q", url, str(clone))
    sha = _commit(clone, "pushed.txt")
    helper = f"store --file={state / 'git-http.credentials'}"
    pushed = _git(*NO_HELPERS, "-c", f"credential.helper={helper}", "push", "origin", "main", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr
    assert LabRepo(state / "repos" / "gitops.git", clone).head() == sha
    assert (state / "hook.stdin").read_text().split()[1:] == [sha, "refs/heads/main"]
    assert (state / "hook.user").read_text().strip() == "user=labkit"


def test_a_wrong_credential_gets_401_with_www_authenticate(served: tuple[Path, str]) -> None:
    _, url = served
    request = urllib.request.Request(
        f"{url}/info/refs?service=git-receive-pack", headers={"Authorization": _basic("labkit", "nope")}
    )
    with pytest.raises(HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 401
    assert e.value.headers["WWW-Authenticate"].startswith("Basic realm=")
    e.value.close()


def test_the_learners_working_clone_is_not_served(served: tuple[Path, str]) -> None:
    _, url = served
    with pytest.raises(HTTPError) as e:
        urllib.request.urlopen(url.replace("gitops.git", "gitops-work") + "/info/refs", timeout=10)
    assert e.value.code == 404
    e.value.close()


def test_a_gzipped_upload_pack_request_is_answered(served: tuple[Path, str], tmp_path: Path) -> None:
    state, url = served
    head = LabRepo(state / "repos" / "gitops.git", tmp_path).head()
    lines = [f"want {head} multi_ack_detailed side-band-64k ofs-delta\n", "", "done\n"]
    body = "".join(f"{len(line) + 4:04x}{line}" if line else "0000" for line in lines).encode()
    request = urllib.request.Request(
        f"{url}/git-upload-pack",
        data=gzip.compress(body),
        headers={"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read()
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in answer


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(LabkitError) as e:
            githttp.GitHTTPServer(tmp_path, s.getsockname()[1])
    assert "ss -ltnp" in e.value.hint


def test_run_without_the_labs_repository_says_to_run_labkit_up(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from labkit.cli import main

    result = CliRunner().invoke(main, ["git-http", "run", "--state-dir", str(tmp_path), "--port", "1"])
    assert result.exit_code == 1
    assert "no Git repository" in result.output and "labkit up" in result.output


def test_the_supervisors_command_line_serves_until_sigterm_and_exits_0(served: tuple[Path, str]) -> None:
    state, _ = served
    port = ports.port(state, "git-http-argv")
    url = f"http://127.0.0.1:{port}/gitops.git"
    with subprocess.Popen(githttp.argv(state, port), stderr=subprocess.PIPE, text=True) as proc:
        try:
            deadline = time.monotonic() + 20
            while _git("ls-remote", url).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _git("ls-remote", url).returncode == 0
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert f"serving {url}" in stderr
    assert '"GET /gitops.git/info/refs?service=git-upload-pack" 200' in stderr
