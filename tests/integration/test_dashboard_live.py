"""The dashboard against the real kwok lab: its buttons act, and its status follows the watch alone.

The test clicks the panel's buttons the way a browser would (``button.click()``
runs the same callbacks) and never calls ``Dashboard.handle``: only the
dashboard's own watch thread may move the text. A second, independent watch
in the test timestamps each status change as the API server hands it out, so
the status-to-panel latency is measured from outside the dashboard too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from labkit.gitops.application import GROUP, KIND, VERSION
from labkit.ui.widgets import Dashboard
from tests.integration.apphelpers import configmap, deployment, dump, eventually, service

pytestmark = pytest.mark.cluster

LATENCY_BUDGET_S = 0.25
"""From the Application's status change (seen by any watch) to the panel's text, at most."""


def sync_shown(header: str) -> str | None:
    """The sync status the panel's header shows (``sync <b ...>Synced</b>``), or None."""
    found = re.search(r"sync <b[^>]*>([A-Za-z]+)</b>", header)
    return found.group(1) if found else None


@dataclass
class Stamps:
    """When (``time.perf_counter``) each sync status was first seen, per observer."""

    first: dict[str, float] = field(default_factory=dict)

    def see(self, status: str | None) -> None:
        if status is not None:
            self.first.setdefault(status, time.perf_counter())

    def reset(self) -> None:
        self.first.clear()

    def when(self, status: str, timeout_s: float = 5.0) -> float:
        """When ``status`` was first seen (waiting a little: the other watch may be a moment behind)."""
        return float(eventually(lambda: self.first.get(status), timeout_s, f"a watch event with {status}"))


@pytest.fixture
def app(lab: Any, namespace: str) -> Iterator[str]:
    """An app of the demo's shape (Deployment/Service web, ConfigMap web-config), auto-sync off."""
    name, path = namespace, f"apps/{namespace}"
    files = {f"{path}/app.yaml": dump(deployment(replicas=2), service(), configmap())}
    lab.repo.commit_and_push(f"dashboard test app {name}", files)
    lab.create_app(name, path, namespace, auto_sync=False)
    yield name
    if any(a.name == name for a in lab.apps.list()):
        lab.apps.delete(name, cascade=True)
        eventually(lambda: not [a for a in lab.apps.list() if a.name == name], 30, f"app {name} deleted")
    lab.repo.commit_and_push(f"remove {name}", {f"{path}/app.yaml": None})


@pytest.fixture
def outside_watch(lab: Any, app: str) -> Iterator[Stamps]:
    """An independent watch on the app's Application that stamps each new sync status on arrival."""
    stamps, stop = Stamps(), threading.Event()
    kube = lab.kube()

    def run() -> None:
        for _, obj in kube.watch(f"{GROUP}/{VERSION}", KIND, "labkit", stop=stop, timeout_s=120):
            if obj["metadata"]["name"] == app:
                stamps.see(((obj.get("status") or {}).get("sync") or {}).get("status"))

    thread = threading.Thread(target=run, name="test-outside-watch", daemon=True)
    thread.start()
    yield stamps
    stop.set()
    thread.join(timeout=10)
    kube.close()
    assert not thread.is_alive(), "the test's watch thread did not stop"


@pytest.fixture
def board(lab: Any, app: str) -> Iterator[Dashboard]:
    dashboard = lab.dashboard()
    yield dashboard
    dashboard.close()
    assert not any(t.is_alive() for t in dashboard._threads), "the dashboard's threads outlived close()"


def test_sync_and_drift_buttons_move_the_panel_status_through_the_watch_alone(
    lab: Any, app: str, outside_watch: Stamps, board: Dashboard
) -> None:
    panel = eventually(lambda: board.panels.get(app), 10, f"a panel for {app}")
    shown = Stamps()
    panel.header.observe(lambda change: shown.see(sync_shown(change["new"])), names="value")
    shown.see(sync_shown(panel.header.value))
    eventually(lambda: "OutOfSync" in shown.first, 30, "the panel to show OutOfSync before any sync")

    outside_watch.reset()
    shown.reset()
    clicked = time.perf_counter()
    panel.sync_button.click()
    eventually(lambda: "Synced" in shown.first, 10, "the panel to show Synced after clicking Sync")
    assert "sync requested" in panel.message.value
    synced_after_s = shown.first["Synced"] - clicked
    sync_latency_s = shown.first["Synced"] - outside_watch.when("Synced")

    outside_watch.reset()
    shown.reset()
    panel.drift_choice.value = "scale"
    clicked = time.perf_counter()
    panel.drift_button.click()
    eventually(lambda: "OutOfSync" in shown.first, 10, "the panel to show OutOfSync after the drift")
    assert "kubectl -n" in panel.message.value and "scale deployment/web" in panel.message.value
    drifted_after_s = shown.first["OutOfSync"] - clicked
    drift_latency_s = shown.first["OutOfSync"] - outside_watch.when("OutOfSync")

    live = lab.client.get("apps/v1", "Deployment", "web", app)
    assert live is not None and live["spec"]["replicas"] == 5, "self-heal is off: the drift must stay"
    assert board.status.value == "", f"the dashboard reported a problem: {board.status.value}"
    print(
        f"\nclick Sync -> panel Synced {synced_after_s:.2f} s; "
        f"click drift -> panel OutOfSync {drifted_after_s:.2f} s\n"
        f"status change (outside watch) -> panel text: sync {sync_latency_s * 1e3:.0f} ms, "
        f"drift {drift_latency_s * 1e3:.0f} ms; "
        f"panel event -> text at most {max(panel.update_latencies) * 1e3:.1f} ms"
    )
    assert sync_latency_s <= LATENCY_BUDGET_S and drift_latency_s <= LATENCY_BUDGET_S
    assert max(panel.update_latencies) <= LATENCY_BUDGET_S
