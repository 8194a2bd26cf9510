"""Reconcile: a pure pairing of what Git declares with what the cluster runs.

gitops-engine's ``pkg/sync/reconcile.go`` in Python. :func:`pair` puts every
desired object next to the live object of the same :class:`ResourceKey`
(``live=None`` means create, ``desired=None`` means prune); only live objects
whose tracking id names the app (:func:`tracked_by`) take part, so an object
labkit does not track can never be pruned. :func:`is_hook` is the one test for
"this object is a hook" (Argo CD's ``hook.IsHook``): hooks are not compared,
and ``labkit.gitops.hooks`` runs them in their phase.

``labkit.gitops.compare`` pairs to judge each object;
``labkit.gitops.operations`` pairs when a sync starts and hands the pairs to
``labkit.gitops.plan``, which (like ``hooks``, ``prune`` and ``compare``)
asks :func:`is_hook`, :func:`is_skipped` or :func:`is_resource`. Nothing
here talks to the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.gitops import annotations as ann
from labkit.gitops.types import TRACKING_ANNOTATION, Manifest, ResourceKey, TrackingIdError

SKIP = "Skip"
"""``argocd.argoproj.io/hook: Skip``: the object is rendered but never applied, compared or pruned."""


@dataclass(frozen=True)
class Pair:
    """One object as Git wants it and as the cluster has it; ``None`` on either side says which is missing."""

    key: ResourceKey
    desired: Manifest | None
    live: Manifest | None


def hook_values(obj: Manifest | None) -> list[str]:
    """The comma-separated values of the hook annotation (``PreSync,PostSync``), as written."""
    return [p.strip() for p in ann.value(obj, ann.HOOK).split(",") if p.strip()]


def is_skipped(obj: Manifest | None) -> bool:
    """Argo CD's ``Skip`` hook: the object takes no part in compare or sync."""
    return SKIP in hook_values(obj)


def is_hook(obj: Manifest | None) -> bool:
    """True for a hook: an object run in a sync phase, never compared, never pruned (``hook.IsHook``)."""
    return bool(hook_values(obj)) and not is_skipped(obj)


def is_resource(obj: Manifest | None) -> bool:
    """An ordinary resource: compared, synced and pruned (neither a hook nor skipped)."""
    return not hook_values(obj)


def tracked_by(obj: Manifest, app: str) -> bool:
    """True when ``obj``'s tracking id names ``app`` and the object itself (not a copy of another)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(TRACKING_ANNOTATION)
    if not isinstance(raw, str):
        return False
    try:
        owner, key = ResourceKey.parse_tracking_id(raw)
    except TrackingIdError:
        return False
    return owner == app and key == ResourceKey.from_manifest(obj)


def pair(desired: list[Manifest], live: list[Manifest], app: str) -> list[Pair]:
    """Pair objects by key: Git's order first, then tracked live objects Git no longer has, sorted."""
    live_by_key: dict[ResourceKey, Manifest] = {}
    for obj in live:
        if tracked_by(obj, app):
            live_by_key.setdefault(ResourceKey.from_manifest(obj), obj)
    pairs: list[Pair] = []
    seen: set[ResourceKey] = set()
    for obj in desired:
        key = ResourceKey.from_manifest(obj)
        if key not in seen:
            seen.add(key)
            pairs.append(Pair(key, obj, live_by_key.get(key)))
    pairs += [Pair(key, None, live_by_key[key]) for key in sorted(live_by_key.keys() - seen)]
    return pairs
