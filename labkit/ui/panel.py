"""One Application's panel in the dashboard: status, resources, buttons, toggles, Git controls, live plot.

:class:`labkit.ui.widgets.Dashboard` builds one per Application and calls
:meth:`AppPanel.update` from its watch thread on every event. As in Argo
CD's UI, the controls write to the Application through ``AppClient``
(refresh, sync, policy, rollback) or commit to Git through ``LabRepo``
(replicas, image); none of them touches the app's objects in the cluster.
Only "Inject drift" does, on purpose, through the drift injector.

Each callback is a plain method (``on_sync_clicked``, ``on_auto_sync_changed``,
``git_controls.on_replicas_changed``, ...) so tests and notebooks can call
it, or click with ``button.click()``.

Threads: ``update`` runs on the dashboard's watch thread while the callbacks
run on the kernel's main thread. Assigning a widget's ``value`` from another
thread is safe enough in ipykernel (the message goes out through its IOPub
thread); the panel only ever assigns whole values, and a thread-local flag
keeps its own assignments from firing the callbacks meant for clicks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as w

from labkit.drift import KINDS
from labkit.ui import views
from labkit.ui.controls import GitControls, Quiet, act
from labkit.ui.figures import png_bytes
from labkit.ui.journey import swimlane
from labkit.ui.views import AppView

if TYPE_CHECKING:
    from labkit.apps import AppClient
    from labkit.events import Timeline
    from labkit.git import LabRepo
    from labkit.gitops.heartbeat import AgentState

Manifest = dict[str, Any]
DEFAULT_IMAGES = ("nginx:1.27", "nginx:1.28", "nginx:1.29")
DRIFT_KINDS = KINDS
"""Offered unless the drift injector lists its own kinds in ``KINDS``."""


class DriftInjector(Protocol):
    """What the panel needs from the drift injector (``labkit.drift``): change the cluster by hand."""

    def inject(self, kind: str, /, *, app: str, namespace: str) -> object: ...


class AppPanel:
    """The widgets of one Application, kept equal to its status by :meth:`update`."""

    def __init__(
        self,
        obj: Manifest,
        apps: AppClient,
        repo: LabRepo,
        timeline: Timeline,
        *,
        drift: DriftInjector | None = None,
        deployment: str = "web",
        images: Sequence[str] = DEFAULT_IMAGES,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.apps, self.repo, self.timeline, self.drift = apps, repo, timeline, drift
        self.name = str(obj["metadata"]["name"])
        self.deployment = deployment
        self.clock = clock
        self.view = AppView.from_manifest(obj)
        self.agent: AgentState | None = None
        """The agent's state as the dashboard last read it (None: not read)."""
        self.last_update_latency_s: float | None = None
        """Seconds from receiving a watch event to the panel's text showing it."""
        self.update_latencies: deque[float] = deque(maxlen=500)
        self._quiet = Quiet()
        self._build(tuple(images))
        self.update(obj)
        self.git_controls.load(self.view.path)

    # -- widgets ----------------------------------------------------------------------------

    def _build(self, images: tuple[str, ...]) -> None:
        self.header, self.message = w.HTML(), w.HTML()
        self.operation, self.conditions, self.resources = w.HTML(), w.HTML(), w.HTML()
        self.refresh_button = self._button(
            "Refresh", "ask the controller to read Git now", self.on_refresh_clicked
        )
        self.sync_button = self._button("Sync", "ask the controller to apply Git now", self.on_sync_clicked)
        self.diff_button = self._button(
            "Diff", "what differs between Git and the cluster", self.on_diff_clicked
        )
        self.diff_output = w.Output()
        self.rollback_choice = w.Dropdown(description="history", options=[])
        self.rollback_button = self._button("Rollback", "sync an earlier revision", self.on_rollback_clicked)
        self.rollback_box = w.HBox([self.rollback_choice, self.rollback_button])
        self.rollback_box.layout.display = None if callable(getattr(self.apps, "rollback", None)) else "none"
        kinds = tuple(getattr(self.drift, "KINDS", DRIFT_KINDS))
        self.drift_choice = w.Dropdown(description="drift", options=kinds)
        self.drift_button = self._button(
            "Inject drift", "change the cluster behind Git's back", self.on_drift_clicked
        )
        self.drift_box = w.HBox([self.drift_choice, self.drift_button])
        self.drift_box.layout.display = "none" if self.drift is None else None
        self.auto_sync = self._toggle("auto-sync", self.on_auto_sync_changed)
        self.self_heal = self._toggle("self-heal", self.on_self_heal_changed)
        self.prune = self._toggle("prune", self.on_prune_changed)
        self.git_controls = GitControls(self.repo, self.deployment, images, self.message)
        self.replicas, self.image = self.git_controls.replicas, self.git_controls.image
        self.plot = w.Image(format="png", layout=w.Layout(max_width="1000px"))
        buttons = [self.refresh_button, self.sync_button, self.diff_button]
        self.widget = w.VBox(
            [
                self.header,
                w.HBox(buttons),
                w.HBox([self.rollback_box, self.drift_box]),
                w.HBox([self.auto_sync, self.self_heal, self.prune]),
                self.git_controls.widget,
                self.message,
                self.operation,
                self.conditions,
                self.resources,
                self.diff_output,
                self.plot,
            ],
            layout=w.Layout(border="1px solid #bbb", padding="6px", margin="6px 0"),
        )

    @staticmethod
    def _button(text: str, tooltip: str, handler: Callable[[Any], None]) -> w.Button:
        # Wide enough for the whole label ("Inject drift" was cut to "Inject...").
        button = w.Button(description=text, tooltip=tooltip, layout=w.Layout(width="auto", min_width="110px"))
        button.on_click(handler)
        return button

    @staticmethod
    def _toggle(text: str, handler: Callable[[dict[str, Any]], None]) -> w.Checkbox:
        box = w.Checkbox(description=text, indent=False, layout=w.Layout(width="120px"))
        box.observe(handler, names="value")
        return box

    # -- status ------------------------------------------------------------------------------

    def update(self, obj: Manifest, received_at: float | None = None) -> bool:
        """Show ``obj``'s status; True when what the live plot shows may have changed."""
        start = self.clock() if received_at is None else received_at
        old, view = self.view, AppView.from_manifest(obj)
        self.view = view
        self.header.value = views.header_html(view, self.agent)
        self.operation.value = views.operation_html(view)
        self.conditions.value = views.conditions_html(view)
        self.resources.value = views.resources_html(view)
        self.last_update_latency_s = self.clock() - start
        self.update_latencies.append(self.last_update_latency_s)
        with self._quiet():
            self.auto_sync.value = view.auto_sync
            self.self_heal.value = view.self_heal
            self.prune.value = view.prune
            # Argo CD keeps selfHeal and prune under `automated`: they mean nothing without auto-sync.
            self.self_heal.disabled = self.prune.disabled = not view.auto_sync
            options = views.history_options(view)
            if list(self.rollback_choice.options) != options:
                self.rollback_choice.options = options
                self.rollback_choice.value = options[0][1] if options else None
        if view.revision != old.revision:
            self.git_controls.load(view.path)
        key = (view.revision, view.operation.get("phase"), view.sync, view.health)
        return key != (old.revision, old.operation.get("phase"), old.sync, old.health)

    def show_agent(self, agent: AgentState) -> None:
        """Show sync and health as current, or as of ``status.reconciledAt`` while the agent is down."""
        self.agent = agent
        self.header.value = views.header_html(self.view, agent)

    def render_plot(self) -> None:
        """Draw the swimlane of the revision the app is on (the latest push before the first compare)."""
        figure = swimlane(self.timeline, self.name, self.view.revision or None)
        self.plot.value = png_bytes(figure)

    # -- actions -----------------------------------------------------------------------------

    def on_refresh_clicked(self, _button: object = None) -> None:
        def go() -> str:
            self.apps.refresh(self.name)
            return "refresh requested: the controller reads Git now instead of at its next poll"

        act(self.message, go)

    def on_sync_clicked(self, _button: object = None) -> None:
        def go() -> str:
            self.apps.sync(self.name)
            return (
                "sync requested: the controller applies what Git holds (the operation is on the Application)"
            )

        act(self.message, go)

    def on_diff_clicked(self, _button: object = None) -> None:
        def go() -> str:
            text = views.diff_text(self.apps.diff(self.name))
            self.diff_output.outputs = ({"output_type": "stream", "name": "stdout", "text": text},)
            return "diff computed with the controller's own functions (--- live, +++ desired from Git)"

        act(self.message, go)

    def on_rollback_clicked(self, _button: object = None) -> None:
        choice = self.rollback_choice.value
        rollback = getattr(self.apps, "rollback", None)
        if choice is None or rollback is None:
            self.message.value = "<i>nothing to roll back to: no successful sync in the history yet</i>"
            return

        def go() -> str:
            # As Argo CD: auto-sync would sync straight back to Git's HEAD, so it goes off first.
            rollback(self.name, int(choice), disable_auto_sync=True)
            return f"rollback to history #{choice} requested; auto-sync is now off so it stays there"

        act(self.message, go)

    def on_drift_clicked(self, _button: object = None) -> None:
        kind, drift = self.drift_choice.value, self.drift
        if drift is None or kind is None:
            return

        def go() -> str:
            done = drift.inject(kind, app=self.name, namespace=self.view.dest_namespace)
            command = getattr(done, "command", f"drift {kind!r}")
            if getattr(done, "declared", True) is False:
                return f"ran {command}: Git does not declare that field, so the agent will not notice"
            return f"ran {command}: the cluster now differs from Git"

        act(self.message, go)

    def on_auto_sync_changed(self, change: dict[str, Any]) -> None:
        self._set_policy(self.auto_sync, "auto_sync", bool(change["new"]))

    def on_self_heal_changed(self, change: dict[str, Any]) -> None:
        self._set_policy(self.self_heal, "self_heal", bool(change["new"]))

    def on_prune_changed(self, change: dict[str, Any]) -> None:
        self._set_policy(self.prune, "prune", bool(change["new"]))

    def _set_policy(self, box: w.Checkbox, field: str, value: bool) -> None:
        if self._quiet:
            return

        def go() -> str:
            self.apps.set_policy(self.name, **{field: value})
            return (
                f"{field.replace('_', '-')} turned {'on' if value else 'off'} in the Application's syncPolicy"
            )

        if not act(self.message, go):
            with self._quiet():
                box.value = not value


__all__ = ["DEFAULT_IMAGES", "DRIFT_KINDS", "AppPanel", "DriftInjector"]
