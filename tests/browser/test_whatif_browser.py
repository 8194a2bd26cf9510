"""Notebook 12's what-if widget in a real browser: fitted on the lab's own timeline, moved with the mouse.

JupyterLab (:mod:`tests.browser.jupyter`) serves a copy of
``notebooks/12-gitops-at-scale-what-if.ipynb``; the test runs, one by one as
a learner would (click, Ctrl+Enter), the cells that bring the lab up, reset
it, measure the small 50-app run, fit the model from that timeline and show
the what-if widget — not the 100-app validation, which the notebook test in
``tests/integration/test_notebooks.py`` runs. Then it switches the webhook
off with the checkbox (the model must predict a slower commit: every app
waits for its poll) and picks Flux in the preset dropdown (the controls jump
to Flux's defaults), checking the printed p50/p95 lines and the redrawn plot.
Screenshots go to ``test-output/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.jupyter import (
    MARKS,
    OUTPUT,
    PROJECT,
    JupyterLab,
    open_notebook,
    run_cell,
    serving,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

NOTEBOOK = PROJECT / "notebooks" / "12-gitops-at-scale-what-if.ipynb"
LINE = re.compile(r"^\s*(?P<config>[\w ,-]+?): p50 (?P<p50>[\d.]+) s, p95 (?P<p95>[\d.]+) s$", re.M)
"""One line the widget prints under its plot, e.g. ``argocd what-if: p50 92.1 s, p95 170.3 s``."""

pytestmark = MARKS


@pytest.fixture
def jupyterlab(lab: Any, tmp_path: Path) -> Iterator[JupyterLab]:
    try:
        with serving(lab, tmp_path, NOTEBOOK) as server:
            yield server
    finally:
        lab.reset(progress=lambda _: None)  # the notebook's 50 apps go, as its clean-up cell does


def printed(widget: Locator) -> dict[str, tuple[float, float]]:
    """config -> (p50, p95) from the lines the widget prints."""
    text = widget.locator(".jp-OutputArea-output").all_inner_texts()
    return {m["config"]: (float(m["p50"]), float(m["p95"])) for m in LINE.finditer("\n".join(text))}


def plot_size(page: Page, widget: Locator) -> tuple[int, int]:
    plot = widget.locator(".jp-OutputArea-output img").first
    plot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
    width, height = plot.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    return int(width), int(height)


def test_the_what_if_widget_redraws_the_model_when_the_learner_moves_its_controls(
    lab: Any, jupyterlab: JupyterLab, page: Page
) -> None:
    from playwright.sync_api import expect

    OUTPUT.mkdir(parents=True, exist_ok=True)
    open_notebook(page, jupyterlab, NOTEBOOK.name)
    run_cell(page, "lab = labkit.Lab.up()", timeout_s=120)
    run_cell(page, "a known state", timeout_s=120)
    run_cell(page, "small = scale.run(lab, 50", timeout_s=400)
    run_cell(page, "fit = sim.fit_timeline", timeout_s=60)
    run_cell(page, "explore = whatif.WhatIf", timeout_s=120)

    webhook = page.get_by_role("checkbox", name="webhook on push")
    widget = page.locator(".widget-vbox").filter(has=webhook)
    expect(widget.locator(".jp-OutputArea-output").filter(has_text="argocd: p50")).to_have_count(1)
    before = printed(widget)
    assert list(before) == ["argocd"], before
    assert plot_size(page, widget)[0] > 300
    page.screenshot(path=OUTPUT / "whatif-1-argocd-defaults.png")

    webhook.uncheck()
    expect(widget).to_contain_text("argocd what-if: p50", timeout=60_000)
    after = printed(widget)
    assert after["argocd"] == before["argocd"], "the preset's own line stays as it was"
    assert after["argocd what-if"][0] > 2 * before["argocd"][0], (
        f"without the webhook each app waits for its poll (120 s + up to 60 s): {after}"
    )
    page.screenshot(path=OUTPUT / "whatif-2-no-webhook.png")

    preset = widget.locator(".widget-dropdown").filter(
        has=page.locator("label", has_text=re.compile("^preset$"))
    )
    preset.locator("select").select_option(label="Flux")
    expect(widget).to_contain_text("flux: p50", timeout=60_000)
    assert list(printed(widget)) == ["flux"], "picking a preset moves every control to its defaults"
    expect(webhook).not_to_be_checked()  # Flux's default: no Receiver, the source interval decides
    width, height = plot_size(page, widget)
    widget.screenshot(path=OUTPUT / "whatif-3-flux-widget.png")
    assert width > 300 and height > 100, f"the plot is {width}x{height} px"
