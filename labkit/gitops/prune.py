"""Prune: deleting the objects an app tracks that Git no longer declares — carefully.

Only objects whose tracking id names the app can be pruned
(``labkit.gitops.reconcile.pair`` never pairs anything else), and only when
the sync asks for it (``syncPolicy.automated.prune`` or ``--prune``); an
object annotated ``argocd.argoproj.io/sync-options: Prune=false`` is reported
(PruneSkipped), never deleted. Hooks are never pruned: each sync recreates them.

Where prunes run, as in Argo CD: after the applies of their wave, with the
waves mirrored (the objects created first are deleted last); with
``PruneLast=true`` (the app's syncOptions or the object's annotation) in one
wave after the last Sync wave. :func:`empty_target` is Argo CD's
``allowEmpty`` guard: an empty render usually means a wrong path, not "delete
everything". Deleting the Application deletes what it tracks, except objects
annotated ``Delete=false`` (:func:`kept_on_app_delete`).

``labkit.gitops.plan`` calls :func:`prune_skipped`, :func:`prune_wave` and
:func:`empty_target`; ``labkit.gitops.operations`` calls
:func:`kept_on_app_delete` when an Application is deleted. Pure functions.
"""

from __future__ import annotations

from labkit.gitops import annotations as ann
from labkit.gitops.reconcile import Pair, is_resource
from labkit.gitops.types import Manifest

PRUNE_FALSE = "Prune=false"
PRUNE_LAST = "PruneLast=true"
DELETE_FALSE = "Delete=false"


def prune_skipped(live: Manifest | None, prune: bool) -> bool:
    """True when an extraneous object is only reported: prune is off, or the object says Prune=false."""
    return not prune or PRUNE_FALSE in ann.options(live, ann.SYNC_OPTIONS)


def kept_on_app_delete(live: Manifest) -> bool:
    """``Delete=false``: the object outlives its Application (Argo CD's cascade deletion skips it)."""
    return DELETE_FALSE in ann.options(live, ann.SYNC_OPTIONS)


def prune_wave(
    wave: int, live: Manifest | None, prune_waves: list[int], last_wave: int, prune_last: bool
) -> int:
    """The wave a prune of an object from ``wave`` runs in.

    ``prune_waves`` are the distinct waves of all prune tasks, mirrored: the
    lowest prunes in the highest. ``last_wave`` is one after the last Sync wave.
    """
    if prune_last or PRUNE_LAST in ann.options(live, ann.SYNC_OPTIONS):
        return last_wave
    unique = sorted(set(prune_waves))
    return dict(zip(unique, reversed(unique), strict=True))[wave]


def empty_target(pairs: list[Pair], prune: bool) -> str | None:
    """Why a sync must not run when Git renders nothing but objects are live (None when it may)."""
    if any(p.desired is not None and is_resource(p.desired) for p in pairs):
        return None
    live = sum(1 for p in pairs if p.live is not None and is_resource(p.live))
    if not live:
        return None
    if prune:
        return f"refusing to sync an empty target: would prune {live} objects; set allowEmpty"
    return f"refusing to sync an empty target: Git renders no objects but {live} are live; set allowEmpty"
