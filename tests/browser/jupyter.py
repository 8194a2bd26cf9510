"""JupyterLab and Chromium for the browser tests: a JupyterLab of the test's own on 127.0.0.1.

:func:`start_jupyterlab` serves ``root`` (a temporary copy of the notebooks a
test opens, so an autosave never writes outputs into the committed files) with
the session lab's environment (``lab.env()``: the kernel's ``labkit.Lab.up()``
reuses the test session's lab); its settings, workspaces and runtime files live
in the test's temporary directory. :func:`stop_jupyterlab` shuts the kernels
and the server down and kills whatever is left. Only Debian's Chromium
(:data:`CHROMIUM`) is ever driven, never a browser Playwright downloads.
Used by ``tests/browser/test_*.py`` through ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apphelpers import eventually

CHROMIUM = Path("/usr/bin/chromium")
PROJECT = Path(__file__).resolve().parents[2]
OUTPUT = PROJECT / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARKS = [
    pytest.mark.browser,
    pytest.mark.cluster,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's Chromium is not installed ({CHROMIUM} is missing): "
        "`apt-get install chromium`, as .ci/run does; Playwright's own browsers are never used",
    ),
]
"""Every browser test module's ``pytestmark``."""


# -- JupyterLab -------------------------------------------------------------------------------


@dataclass
class JupyterLab:
    """A JupyterLab server this test started, and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyter_env(lab: Any, tmp: Path) -> dict[str, str]:
    """The lab's environment plus Jupyter directories of this test's own (no user config, no news)."""
    dirs = {
        name: tmp / sub
        for name, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("IPYTHONDIR", "ipython"),
        )
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # The "get Jupyter news?" toast would cover the page; this lab stays off the network anyway.
    page_config = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (dirs["JUPYTER_CONFIG_DIR"] / "labconfig").mkdir(exist_ok=True)
    (dirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json").write_text(json.dumps(page_config))
    return {**os.environ, **lab.env(), **{k: str(v) for k, v in dirs.items()}}


def start_jupyterlab(lab: Any, tmp: Path, root: Path, timeout_s: float = 90.0) -> JupyterLab:
    port, token, log = free_port(), secrets.token_hex(16), tmp / "jupyterlab.log"
    argv = [
        str(Path(lab.env()["PATH"].split(os.pathsep)[0]) / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=jupyter_env(lab, tmp), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = JupyterLab(process, port, token, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status")
            return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    stop_jupyterlab(server)
    raise AssertionError(f"JupyterLab did not answer within {timeout_s:.0f} s:\n{server.log_tail()}")


def child_pids(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (the kernels a Jupyter server started), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def stop_jupyterlab(server: JupyterLab) -> None:
    """Shut the kernels down through the API, then the server; kill whatever is left of either."""
    kernels = child_pids(server.process.pid)
    try:
        for session in server.api("GET", "/api/sessions"):
            server.api("DELETE", f"/api/sessions/{session['id']}")
        server.api("POST", "/api/shutdown")
        server.process.wait(timeout=20)
    except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    for pid in kernels:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    eventually(lambda: not [p for p in kernels if Path(f"/proc/{p}").exists()], 10, "the kernels to exit")


@contextlib.contextmanager
def serving(lab: Any, tmp: Path, notebook: Path) -> Iterator[JupyterLab]:
    """JupyterLab on a temporary copy of ``notebook``, stopped (kernels and all) when the block ends."""
    root = tmp / "notebooks"
    root.mkdir()
    shutil.copy(notebook, root / notebook.name)
    server = start_jupyterlab(lab, tmp, root)
    try:
        yield server
    finally:
        stop_jupyterlab(server)
    assert server.process.returncode is not None


# -- driving a notebook -------------------------------------------------------------------------


def open_notebook(page: Any, server: JupyterLab, name: str) -> None:
    """Open ``name`` and wait until its kernel is idle (Run before that would ask which kernel to start)."""
    from playwright.sync_api import expect

    page.goto(f"{server.base}/lab/tree/{name}?token={server.token}")
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=60_000)
    kernel = page.get_by_role("button", name=re.compile(r"^Python 3 .*\| Idle$"))
    expect(kernel).to_be_visible(timeout=60_000)


def run_cell(page: Any, text: str, timeout_s: float = 60.0) -> Any:
    """Run the one code cell whose source contains ``text`` (click, Ctrl+Enter), as a learner would.

    Waits until its prompt shows an execution count; fails with the cell's
    output when it raised. Returns the cell's locator.
    """
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=text)
    expect(cell).to_have_count(1)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    prompt = cell.locator(".jp-InputArea-prompt")
    expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=timeout_s * 1000)
    failed = cell.locator('[data-mime-type="application/vnd.jupyter.stderr"]').filter(has_text="Traceback")
    assert failed.count() == 0, f"the cell {text!r} failed:\n{failed.all_inner_texts()}"
    return cell
