"""The annotations an app's manifests use to steer a sync: Argo CD's names, read the same way.

An app written for Argo CD behaves the same under labkit's agent, so the
names are Argo CD's own (``argocd.argoproj.io/sync-wave``, ``hook``,
``hook-delete-policy``, ``sync-options``, ``compare-options``). labkit's first
names (``labkit.dev/sync-wave``, ...) still work as aliases, for repositories
written before; when an object carries both, Argo CD's name wins.

``labkit.gitops.reconcile``, ``hooks``, ``waves``, ``prune``, ``compare`` and
``plan`` read annotations through :func:`lookup`, :func:`value` and
:func:`options`. Pure functions, no I/O.
"""

from __future__ import annotations

from labkit.gitops.types import Manifest

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"

ALIASES = {
    SYNC_WAVE: "labkit.dev/sync-wave",
    HOOK: "labkit.dev/hook",
    HOOK_DELETE_POLICY: "labkit.dev/hook-delete-policy",
    SYNC_OPTIONS: "labkit.dev/sync-options",
    COMPARE_OPTIONS: "labkit.dev/compare-options",
}
"""Argo CD's name -> labkit's older name for the same annotation."""


def annotations_of(obj: Manifest | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


def lookup(obj: Manifest | None, name: str) -> tuple[str, str] | None:
    """(the name found, its value) for Argo CD's annotation ``name`` or its labkit alias; None if neither."""
    annotations = annotations_of(obj)
    for candidate in (name, ALIASES[name]):
        if candidate in annotations:
            return candidate, str(annotations[candidate])
    return None


def value(obj: Manifest | None, name: str, default: str = "") -> str:
    found = lookup(obj, name)
    return found[1] if found is not None else default


def options(obj: Manifest | None, name: str) -> set[str]:
    """A comma-separated option list (``Prune=false,PruneLast=true``) as a set of trimmed items."""
    return {o.strip() for o in value(obj, name).split(",") if o.strip()}


class AnnotationError(Exception):
    """An annotation value labkit cannot follow; the sync refuses to start and shows this message."""
