"""The lab's Git server over smart HTTP, on 127.0.0.1, like a forge: anonymous read, push with a credential.

A small :class:`http.server.ThreadingHTTPServer` in front of git's own CGI
program, ``git http-backend`` (started through :func:`labkit.git.http_backend`),
so Argo CD, Flux, labkit's agent and the learner clone the lab's repository
from ``http://127.0.0.1:<port>/gitops.git`` (:func:`url`) exactly as they
would clone a public GitHub repository: no secret needed to read. A push
(``git-receive-pack``) needs HTTP Basic auth with the lab's credential, made
once by :func:`credentials` and kept 0600 in ``<state_dir>/git-http.credentials``
in git's credential-store format; without it the answer is 401 with
``WWW-Authenticate``, so git asks its credential helpers. http-backend runs the
bare repository's ``post-receive`` hook (:mod:`labkit.hook`) for HTTP pushes
as for any other push.

The supervisor starts the server with :func:`argv` (``labkit git-http run``,
see :mod:`labkit.cli.githttp_cmds`, which calls :func:`run`); it serves until
SIGTERM and logs one line per request to stderr. The port is the lab's
``git-http`` port from :mod:`labkit.ports`, so a restart keeps the URL.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import parse_qs, urlsplit

from labkit import git
from labkit.errors import LabkitError, LabStateError

REPO = "gitops.git"
USER = "labkit"
CREDENTIALS = "git-http.credentials"
REALM = "labkit Git server"
_CHUNK = 64 * 1024


def url(state_dir: Path) -> str:
    """``http://127.0.0.1:<port>/gitops.git``: the lab's repository over HTTP."""
    return git.http_url(Path(state_dir) / "repos" / REPO)


def argv(state_dir: Path, port: int) -> list[str]:
    """The command line that runs the server for the lab at ``state_dir`` on ``port``."""
    return [
        sys.executable,
        "-m",
        "labkit",
        "git-http",
        "run",
        "--state-dir",
        str(state_dir),
        "--port",
        str(port),
    ]


def credentials(state_dir: Path) -> tuple[str, str]:
    """(user, token) that may push; made once, kept 0600 in ``<state_dir>/git-http.credentials``.

    The file is one line in git's credential-store format
    (``http://labkit:<token>@127.0.0.1:<port>``), so git can read it itself:
    ``git -c credential.helper='store --file=<that file>' push``.
    """
    path = Path(state_dir) / CREDENTIALS
    if not path.exists():
        _create_private(path, _store_line(url(state_dir), USER, secrets.token_urlsafe(24)))
    parts = urlsplit(path.read_text().strip())
    if not parts.username or not parts.password:
        raise LabStateError(
            f"{path} does not hold a credential like http://labkit:<token>@127.0.0.1:<port>",
            hint=f"delete {path}; the next `labkit git-http run` makes a new one",
        )
    user, token = parts.username, parts.password
    if f"{parts.hostname}:{parts.port}" != urlsplit(url(state_dir)).netloc:
        _replace_private(path, _store_line(url(state_dir), user, token))  # the lab's port moved
    return user, token


def _store_line(repo_url: str, user: str, token: str) -> str:
    parts = urlsplit(repo_url)
    return f"{parts.scheme}://{user}:{token}@{parts.netloc}\n"


def _create_private(path: Path, text: str) -> None:
    """Write ``text`` 0600 to ``path`` unless it exists (two racing starts keep the first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _replace_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# -- pure pieces of the protocol -------------------------------------------------------


def is_push(path: str, query: str) -> bool:
    """Whether a request is part of a push: ``git-receive-pack``'s ref advertisement or its POST."""
    return path.endswith("/git-receive-pack") or "git-receive-pack" in parse_qs(query).get("service", [])


def authorized(header: str | None, user: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries Basic ``user:token`` (constant-time compare)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, f"{user}:{token}".encode())


def served_path(path: str) -> bool:
    """Only the lab's bare repository is served, never the learner's working clone next to it."""
    return (path == f"/{REPO}" or path.startswith(f"/{REPO}/")) and ".." not in path.split("/")


def read_cgi_headers(stream: IO[bytes]) -> tuple[int, str, list[tuple[str, str]]]:
    """Read a CGI program's header block: (status, reason, other headers); ``Status:`` defaults to 200."""
    status, reason, headers = 200, "OK", []
    for raw in iter(stream.readline, b""):
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() == "status":
            code, _, reason = value.strip().partition(" ")
            status = int(code)
        else:
            headers.append((name.strip(), value.strip()))
    return status, reason or "OK", headers


def copy_chunked(source: io.BufferedIOBase, dest: IO[bytes]) -> int:
    """Decode a ``Transfer-Encoding: chunked`` body from ``source`` into ``dest``; return its size."""
    total = 0
    while True:
        size = int(source.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while source.readline().strip():  # trailers, up to the empty line
                pass
            return total
        dest.write(source.read(size))
        source.readline()  # the CRLF after each chunk
        total += size


# -- the server ------------------------------------------------------------------------


class GitHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to 127.0.0.1 that serves one lab's ``repos/gitops.git``."""

    daemon_threads = False  # server_close() waits for requests in flight: SIGTERM never cuts a push short

    def __init__(self, state_dir: Path, port: int) -> None:
        self.state_dir = Path(state_dir)
        try:
            super().__init__(("127.0.0.1", port), Handler)
        except OSError as e:
            raise LabkitError(
                f"the Git HTTP server cannot listen on 127.0.0.1:{port}: {e.strerror or e}",
                hint=f"is another server on that port? `ss -ltnp | grep :{port}` says; stop it, start again",
            ) from e


class Handler(BaseHTTPRequestHandler):
    """One request: check the path and (for a push) the credential, then hand it to http-backend."""

    server: GitHTTPServer
    server_version = "labkit-git-http"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        started, sent = time.monotonic(), 0
        path, _, query = self.path.partition("?")
        user: str | None = None
        if not served_path(path):
            status = self._plain(404, f"not found: this server serves /{REPO} only\n")
        elif is_push(path, query) and not authorized(
            self.headers.get("Authorization"), *credentials(self.server.state_dir)
        ):
            status = self._plain(
                401, f"push needs the lab's credential, see {self.server.state_dir / CREDENTIALS}\n"
            )
        else:
            user = USER if is_push(path, query) else None
            status, sent = self._backend(path, query, user)
        took_ms = (time.monotonic() - started) * 1000
        request = f'"{self.command} {self.path}"'
        line = f"{self.client_address[0]} {request} {status} {sent}B user={user or '-'} {took_ms:.0f}ms"
        print(line, file=sys.stderr, flush=True)

    def _plain(self, status: int, text: str) -> int:
        body = text.encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return status

    def _backend(self, path: str, query: str, user: str | None) -> tuple[int, int]:
        with tempfile.TemporaryFile() as body:
            length = self._spool_body(body)
            body.seek(0)
            proc = git.http_backend(
                self.server.state_dir / "repos", self._cgi_env(path, query, user, length), body
            )
            stdout = cast(io.BufferedReader, proc.stdout)
            try:
                status, reason, headers = read_cgi_headers(stdout)
                self.send_response(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                sent = 0
                while chunk := stdout.read1(_CHUNK):  # as it comes: git streams progress
                    self.wfile.write(chunk)
                    sent += len(chunk)
                return status, sent
            except (BrokenPipeError, ConnectionResetError):
                proc.kill()  # the client went away; git needs nothing more from it
                return 499, 0
            finally:
                stdout.close()
                proc.wait()

    def _spool_body(self, body: IO[bytes]) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return copy_chunked(self.rfile, body)
        remaining = length = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _CHUNK))
            if not chunk:
                break
            body.write(chunk)
            remaining -= len(chunk)
        return length - remaining

    def _cgi_env(self, path: str, query: str, user: str | None, length: int) -> dict[str, str]:
        env = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "REMOTE_ADDR": self.client_address[0],
        }
        # git sends gzip'd request bodies (http-backend inflates them) and asks for protocol v2 in a header.
        for header, variable in (
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
        ):
            if self.headers.get(header):
                env[variable] = str(self.headers[header])
        if user is not None:
            env["REMOTE_USER"] = user  # http-backend allows receive-pack only for an authenticated user
        return env

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _serve logs one line per request itself


def run(state_dir: Path, port: int) -> None:
    """Serve the lab's repository on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    state_dir = Path(state_dir).resolve()
    if not (state_dir / "repos" / REPO / "HEAD").is_file():
        raise LabStateError(
            f"no Git repository at {state_dir / 'repos' / REPO}",
            hint="run `labkit up` to create the lab first",
        )
    credentials(state_dir)
    server = GitHTTPServer(state_dir, port)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, name="shutdown").start()  # shutdown() waits for the loop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"labkit git-http: serving http://127.0.0.1:{port}/{REPO} (pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


__all__ = [
    "CREDENTIALS",
    "REPO",
    "USER",
    "GitHTTPServer",
    "argv",
    "authorized",
    "copy_chunked",
    "credentials",
    "is_push",
    "read_cgi_headers",
    "run",
    "served_path",
    "url",
]
