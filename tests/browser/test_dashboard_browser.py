"""The dashboard notebook in a real browser: JupyterLab on 127.0.0.1, Debian's Chromium through Playwright.

The test starts JupyterLab (:mod:`tests.browser.jupyter`) on a copy of
``notebooks/dashboard.ipynb``, runs its cells above the clean-up from the Run
menu, clicks Sync and Inject drift on the demo app's panel, and checks that
the status text changes and the live plot renders. Screenshots go to
``test-output/browser/``; without ``/usr/bin/chromium`` the test skips and
says how to get it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.cluster import kubectl
from tests.browser.jupyter import MARKS, OUTPUT, PROJECT, JupyterLab, open_notebook, serving
from tests.integration.apphelpers import eventually

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

NOTEBOOK = PROJECT / "notebooks" / "dashboard.ipynb"
APP = "demo"
"""The app the notebook creates (``lab.create_app("demo", "apps/demo")``), deployed to namespace demo."""

pytestmark = MARKS


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
    try:
        with serving(lab, tmp_path, NOTEBOOK) as server:
            yield server
    finally:
        remove_demo_app(lab)


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
    open_notebook(page, jupyterlab, NOTEBOOK.name)
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
