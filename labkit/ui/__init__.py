"""What the learner sees: plots of the timeline and the dashboard widgets.

The only layer that imports matplotlib and ipywidgets. Notebooks call
``labkit.ui.plots`` (swimlane, latency ECDFs, drift, replicas, the summary
picture) and ``labkit.ui.widgets`` (the dashboard and the quiz); the Lab
facade builds the dashboard with ``Lab.dashboard()``. Names load lazily, so
``import labkit.ui`` alone pulls in neither library, and plots work without
ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "commit_events": "labkit.ui.plots",
    "drift_timeline": "labkit.ui.plots",
    "latency_ecdf": "labkit.ui.plots",
    "poll_vs_webhook": "labkit.ui.plots",
    "push_vs_pull": "labkit.ui.plots",
    "replicas_over_time": "labkit.ui.plots",
    "sample_replicas": "labkit.ui.sampling",
    "summary_picture": "labkit.ui.summary",
    "swimlane": "labkit.ui.plots",
    "AppPanel": "labkit.ui.panel",
    "Dashboard": "labkit.ui.widgets",
    "Question": "labkit.ui.quiz",
    "Quiz": "labkit.ui.quiz",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'labkit.ui' has no attribute {name!r}")
