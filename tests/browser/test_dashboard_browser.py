"""The dashboard notebook in a real browser: JupyterLab on 127.0.0.1, Debian's Chromium through Playwright.

The test starts JupyterLab with the session lab's environment (``lab.env()``,
so the kernel's ``labkit.Lab.up()`` reuses the test session's lab), opens
``notebooks/dashboard.ipynb``, runs its cells above the clean-up from the Run menu, clicks
Sync and Inject drift on the demo app's panel, and checks that the status
text changes and the live plot renders. Screenshots go to
``test-output/browser/``. Never a browser Playwright downloads: only
``/usr/bin/chromium``; without it the test skips and says how to get it.

JupyterLab serves a copy of the notebook from a temporary root, so an
autosave can never write outputs into the committed file; its settings,
workspaces and runtime files live in the temporary directory too.
"""

from __future__ import annotations

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
from typing import TYPE_CHECKING, Any

import pytest

from labkit.cluster import kubectl
from tests.integration.apphelpers import eventually

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
PROJECT = Path(__file__).resolve().parents[2]
NOTEBOOK = PROJECT / "notebooks" / "dashboard.ipynb"
OUTPUT = PROJECT / "test-output" / "browser"
APP = "demo"
"""The app the notebook creates (``lab.create_app("demo", "apps/demo")``), deployed to namespace demo."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.cluster,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's Chromium is not installed ({CHROMIUM} is missing): "
        "`apt-get install chromium`, as .ci/run does; Playwright's own browsers are never used",
    ),
]


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


# -- fixtures ---------------------------------------------------------------------------------


def remove_demo_app(lab: Any) -> None:
    """No demo Application and no demo namespace: the notebook must start from OutOfSync."""
    if any(a.name == APP for a in lab.apps.list()):
        lab.apps.delete(APP, cascade=True)
        eventually(lambda: not [a for a in lab.apps.list() if a.name == APP], 30, "the demo app deleted")
    with lab.kube() as kube:
        if kube.get("v1", "Namespace", APP) is not None:
            kube.delete("v1", "Namespace", APP, propagation="Background")
            kubectl.force_delete_pods(lab.runner, lab.kubeconfig, lab.context, APP)
            eventually(lambda: kube.get("v1", "Namespace", APP) is None, 60, "namespace demo deleted")


@pytest.fixture
def jupyterlab(lab: Any, tmp_path: Path) -> Iterator[JupyterLab]:
    remove_demo_app(lab)
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    server = start_jupyterlab(lab, tmp_path, root)
    try:
        yield server
    finally:
        stop_jupyterlab(server)
        remove_demo_app(lab)
    assert server.process.returncode is not None


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1600},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


# -- the test ---------------------------------------------------------------------------------


def app_panel(page: Page, app: str) -> tuple[Locator, Locator]:
    """(the app's panel, its header) in the dashboard output: the header holds ``<b>app</b>``."""
    name = page.locator(".widget-html b").filter(has_text=re.compile(rf"^{re.escape(app)}$"))
    header = name.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' widget-html ')][1]")
    panel = name.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' widget-vbox ')][1]")
    return panel, header


def test_the_dashboard_notebook_syncs_and_shows_drift_in_chromium(
    lab: Any, jupyterlab: JupyterLab, page: Page
) -> None:
    from playwright.sync_api import expect

    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.goto(f"{jupyterlab.base}/lab/tree/{NOTEBOOK.name}?token={jupyterlab.token}")
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=60_000)
    # Run All before the kernel is up would ask which kernel to start instead of running.
    kernel = page.get_by_role("button", name=re.compile(r"^Python 3 .*\| Idle$"))
    expect(kernel).to_be_visible(timeout=60_000)
    # Everything above "Summary": the notebook's last cell closes the dashboard (its clean-up).
    page.locator(".jp-Notebook .jp-Cell", has_text="Summary").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Above Selected Cell", exact=True).click()

    panel, header = app_panel(page, APP)
    expect(header).to_contain_text(re.compile(r"sync\s+OutOfSync"), timeout=90_000)
    page.screenshot(path=OUTPUT / "1-out-of-sync.png")

    panel.get_by_role("button", name="Sync", exact=True).click()
    expect(header).to_contain_text(re.compile(r"sync\s+Synced"), timeout=30_000)
    expect(panel).to_contain_text("sync requested")
    page.screenshot(path=OUTPUT / "2-synced.png")

    drift_label = page.locator("label", has_text=re.compile("^drift$"))
    drift = panel.locator(".widget-dropdown").filter(has=drift_label)
    drift.locator("select").select_option("scale")
    panel.get_by_role("button", name="Inject drift", exact=True).click()
    expect(header).to_contain_text(re.compile(r"sync\s+OutOfSync"), timeout=30_000)
    expect(panel).to_contain_text("scale deployment/web --replicas=5")

    plot = panel.locator("img.widget-image")
    plot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
    width, height = plot.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    page.screenshot(path=OUTPUT / "3-drift-out-of-sync.png")
    panel.screenshot(path=OUTPUT / "3-drift-panel.png")
    assert width > 300 and height > 100, f"the plot is {width}x{height} px"
    live = lab.client.get("apps/v1", "Deployment", "web", APP)
    assert live is not None and live["spec"]["replicas"] == 5, "the drift button ran kubectl scale"
