"""The widgets notebooks show: the GitOps dashboard (one panel per Application) and the quiz.

``labkit.Lab.dashboard()`` builds a :class:`Dashboard` from the lab's real
objects (``AppClient``, ``LabRepo``, ``Timeline``, ``Kube`` and, when the
lab has one, the drift injector); tests build it from fakes with
``start=False`` and feed it events through :meth:`Dashboard.handle`.
The interview-prep notebook shows a :class:`labkit.ui.quiz.Quiz`.

Threads: one background thread watches Applications
(``kube.watch("labkit.dev/v1alpha1", "Application", "labkit", stop=...)``)
and hands each event to its panel, which re-renders its text straight away;
``panel.last_update_latency_s`` is the time from the event to the text. A
second thread redraws the live swimlane plots, at most once per
``plot_interval_s``, so a slow plot never delays a status. A third reads
the agent's heartbeat (``apps.agent()``) every ``agent_interval_s``: while the
agent is down, a red line says since when and every panel shows its sync
and health as of ``status.reconciledAt``. Assigning widget
values from these threads is safe enough in ipykernel: every assignment
becomes one comm message sent through the kernel's IOPub thread, and the
panels only ever assign whole values. :meth:`Dashboard.close` stops them all.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from labkit.errors import LabkitError
from labkit.gitops.application import API_VERSION, APP_NAMESPACE, KIND
from labkit.ui import views
from labkit.ui.panel import DEFAULT_IMAGES, AppPanel, DriftInjector
from labkit.ui.quiz import Question, Quiz

if TYPE_CHECKING:
    from labkit.apps import AppClient
    from labkit.events import Timeline
    from labkit.git import LabRepo
    from labkit.gitops.heartbeat import AgentState
    from labkit.kube import Kube

Manifest = dict[str, Any]
log = logging.getLogger(__name__)


class Dashboard:
    """Every Application's status and controls, kept live by a watch on the Application objects."""

    def __init__(
        self,
        apps: AppClient,
        repo: LabRepo,
        timeline: Timeline,
        *,
        kube: Kube,
        drift: DriftInjector | None = None,
        deployment: str = "web",
        images: Sequence[str] = DEFAULT_IMAGES,
        start: bool = True,
        plot_interval_s: float = 1.0,
        agent_interval_s: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.apps, self.repo, self.timeline, self.kube, self.drift = apps, repo, timeline, kube, drift
        self.namespace = str(getattr(apps, "namespace", APP_NAMESPACE))
        self.deployment, self.images = deployment, tuple(images)
        self.plot_interval_s, self.agent_interval_s, self.clock = plot_interval_s, agent_interval_s, clock
        self.panels: dict[str, AppPanel] = {}
        self.status, self.agent = w.HTML(), w.HTML()
        title = w.VBox([w.HTML("<h3>labkit: Applications</h3>"), self.agent])
        self.widget = w.VBox([title, self.status])
        self._agent_state: AgentState | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._plots_due: set[str] = set()
        self._threads: list[threading.Thread] = []
        for summary in apps.list():
            self.handle("ADDED", apps.get(summary.name))
        if not self.panels:
            self.status.value = "<i>no Applications yet: create one and it appears here</i>"
        if start:
            self.start()

    # -- events ------------------------------------------------------------------------------

    def handle(self, event_type: str, obj: Manifest, received_at: float | None = None) -> AppPanel | None:
        """Apply one watch event: update, add or remove the Application's panel."""
        received_at = self.clock() if received_at is None else received_at
        name = str((obj.get("metadata") or {}).get("name", ""))
        with self._lock:
            panel = self.panels.get(name)
        if event_type == "DELETED":
            if panel is not None:
                with self._lock:
                    del self.panels[name]
                    self.widget.children = tuple(c for c in self.widget.children if c is not panel.widget)
            return None
        if panel is None:
            panel = AppPanel(
                obj,
                self.apps,
                self.repo,
                self.timeline,
                drift=self.drift,
                deployment=self.deployment,
                images=self.images,
                clock=self.clock,
            )
            with self._lock:
                self.panels[name] = panel
                self.widget.children = (*self.widget.children, panel.widget)
            if self._agent_state is not None:
                panel.show_agent(self._agent_state)
            self.status.value = ""
            self._plot_later(name)
        elif panel.update(obj, received_at):
            self._plot_later(name)
        return panel

    def _plot_later(self, name: str) -> None:
        with self._lock:
            self._plots_due.add(name)
        self._wake.set()

    def render_plots(self, names: Sequence[str] | None = None) -> None:
        """Redraw the live plots of ``names`` (all panels by default) now, in this thread."""
        with self._lock:
            panels = [p for n, p in self.panels.items() if names is None or n in names]
        for panel in panels:
            panel.render_plot()

    def update_latencies_s(self) -> list[float]:
        """Recent event-to-text latencies of every panel, in seconds (the target is 0.25 s or less)."""
        with self._lock:
            return [t for p in self.panels.values() for t in p.update_latencies]

    # -- threads -----------------------------------------------------------------------------

    def start(self) -> Dashboard:
        """Start the watch thread and the plot thread (once)."""
        if self._threads:
            return self
        with self._lock:
            self._plots_due.update(self.panels)
        self._wake.set()
        threads = [(self._watch, "dashboard-watch"), (self._draw, "dashboard-plots")]
        if callable(getattr(self.apps, "agent", None)):
            threads.append((self._watch_agent, "dashboard-agent"))
        for target, name in threads:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        """Stop the threads; the widgets stay on screen but no longer change."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                for event_type, obj in self.kube.watch(API_VERSION, KIND, self.namespace, stop=self._stop):
                    self.handle(event_type, obj, self.clock())
            except LabkitError as e:
                self._report(f"watch on Applications lost ({e.message}); reconnecting")
                self._stop.wait(1.0)
            except Exception as e:  # a rendering bug must not freeze the dashboard silently
                log.exception("dashboard update failed")
                self._report(f"dashboard error: {e!r}")
                self._stop.wait(1.0)

    def show_agent(self, agent: AgentState) -> None:
        """Show the agent's state: the red line, and every panel's sync as current or as of."""
        self._agent_state = agent
        self.agent.value = views.agent_html(agent)
        with self._lock:
            panels = list(self.panels.values())
        for panel in panels:
            panel.show_agent(agent)

    def _watch_agent(self) -> None:
        while not self._stop.is_set():
            try:
                agent = self.apps.agent()
                old = self._agent_state
                if old is None or (old.up, old.holder) != (agent.up, agent.holder):
                    self.show_agent(agent)
            except LabkitError as e:
                self._report(f"cannot read the agent's heartbeat ({e.message})")
            self._stop.wait(self.agent_interval_s)

    def _draw(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                due, self._plots_due = sorted(self._plots_due), set()
            try:
                self.render_plots(due)
            except Exception as e:  # e.g. a half-written timeline line; the next event redraws
                log.exception("dashboard plot failed")
                self._report(f"plot error: {e!r}")
            self._stop.wait(self.plot_interval_s)

    def _report(self, text: str) -> None:
        self.status.value = f'<span style="color:#c62828">{html.escape(text)}</span>'

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def display(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AppPanel", "Dashboard", "Question", "Quiz"]
