"""Refresh: ask Git which commit an app's targetRevision names now.

Only a refresh looks at Git; a commit stays unseen until one happens. As in
Argo CD, four things trigger one: the poll timer (``refreshInterval`` or
``ControllerSettings.poll_interval_s``, plus jitter), the webhook the Git
server's ``post-receive`` hook calls, the refresh annotation
``labkit.dev/refresh: normal|hard`` (``hard`` also forgets every rendered
commit), and a changed spec or a (re)started controller.

:meth:`labkit.gitops.controller.Controller.process` asks :func:`trigger`
whether to refresh, and :func:`refresh` for the result, which it copies onto
the app's record; it also removes the annotation and sets the next poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.errors import LabkitError
from labkit.events import Timeline
from labkit.gitops.application import AppSpec
from labkit.gitops.record import one_line
from labkit.gitops.source import SourceCache
from labkit.gitops.types import REFRESH_ANNOTATION, Manifest

REFRESH_REASONS = frozenset({"startup", "spec", "webhook", "refresh", "hard-refresh"})
"""Queue reasons that refresh whatever the poll timer says."""


@dataclass(frozen=True)
class RefreshResult:
    revision: str | None
    """The commit targetRevision names now (the previous one when Git could not be read)."""
    error: str = ""
    """Why Git could not be read ("" when it could): the app's ComparisonError."""


ARGOCD_REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
"""Argo CD's name for the same request; ``kubectl annotate … argocd.argoproj.io/refresh=hard`` works too."""


def requested(app_obj: Manifest) -> tuple[str | None, str]:
    """(normal|hard, the annotation that asked) when the Application asks for a refresh; else (None, "")."""
    annotations = (app_obj.get("metadata") or {}).get("annotations") or {}
    for name in (REFRESH_ANNOTATION, ARGOCD_REFRESH_ANNOTATION):
        if annotations.get(name):
            return str(annotations[name]), name
    return None, ""


def trigger(reasons: set[str], annotation: str | None, poll_due: bool, revision: str | None) -> str | None:
    """What triggers a refresh now (for the timeline), or None when none is due."""
    if annotation:
        return "annotation"
    if poll_due:
        return "poll"
    if asked := reasons & REFRESH_REASONS:
        return ",".join(sorted(asked))
    return "first look" if revision is None else None


def refresh(
    source: SourceCache, timeline: Timeline, spec: AppSpec, previous: str | None, trigger: str, *, hard: bool
) -> RefreshResult:
    """Resolve the app's targetRevision; tell the timeline when it moved."""
    if hard:
        source.clear()
    timeline.append("controller", "refresh_started", app=spec.name, trigger=trigger)
    try:
        sha = source.resolve(spec.repo_url, spec.target_revision)
    except LabkitError as e:
        return RefreshResult(previous, one_line(e))
    if sha != previous:
        timeline.append(
            "controller", "revision_detected", app=spec.name, revision=sha, previous=previous, trigger=trigger
        )
    return RefreshResult(sha)
