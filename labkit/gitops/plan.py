"""Plan: the tasks of one sync, in order, decided before anything is applied.

``labkit.gitops.operations`` calls :func:`plan_sync` with the pairs from
``labkit.gitops.reconcile.pair`` when a sync starts; ``labkit.gitops.sync``
runs the plan. Every pair becomes a :class:`Task` (or none): apply the
desired object, prune the live one (``labkit.gitops.prune``), or run a hook
in its phases (``labkit.gitops.hooks``); the tasks are sorted by phase, wave,
kind and name (``labkit.gitops.waves``). Nothing here talks to the cluster,
so a notebook can show a plan before anything happens.

A value labkit cannot follow — an unknown hook phase or delete policy, a wave
that is not an integer, a sync or compare option labkit does not carry out —
refuses the whole plan with a message naming the object: nothing is
half-applied, and nothing is accepted and then ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from labkit.gitops import annotations as ann
from labkit.gitops import hooks, waves
from labkit.gitops.annotations import AnnotationError
from labkit.gitops.compare import COMPARE_OPTIONS
from labkit.gitops.prune import DELETE_FALSE, PRUNE_FALSE, PRUNE_LAST, empty_target, prune_skipped, prune_wave
from labkit.gitops.reconcile import Pair, is_hook, is_skipped
from labkit.gitops.types import Manifest, ResourceKey, SyncPhase

SKIP_DRY_RUN_ON_MISSING = "SkipDryRunOnMissingResource=true"
RESOURCE_SYNC_OPTIONS = (
    PRUNE_FALSE,
    PRUNE_LAST,
    DELETE_FALSE,
    SKIP_DRY_RUN_ON_MISSING,
    "ServerSideApply=true",  # labkit always applies server-side
    "Validate=false",  # labkit never asks the server for strict field validation
)
"""Per-object ``argocd.argoproj.io/sync-options`` labkit carries out (or that match what it always does)."""


class Action(StrEnum):
    Create = "Create"
    Update = "Update"
    Prune = "Prune"
    PruneSkipped = "PruneSkipped"
    None_ = "None"
    """In sync already; the sync may still apply it (Argo CD applies all unless ApplyOutOfSyncOnly)."""


@dataclass(frozen=True)
class Task:
    """One step of a sync: what to do to which object, in which phase and wave."""

    key: ResourceKey
    action: Action
    desired: Manifest | None
    live: Manifest | None
    phase: SyncPhase
    wave: int
    """The wave the task runs in (for prune tasks: after mirroring / PruneLast)."""
    hook: bool = False
    """A hook (``reconcile.is_hook``): created afresh in its phase, its outcome awaited."""
    delete_policies: frozenset[hooks.DeletePolicy] = frozenset()
    """For hooks: when the hook object is deleted (``labkit.gitops.hooks``)."""
    sync_options: frozenset[str] = frozenset()
    """The object's own ``argocd.argoproj.io/sync-options``."""

    @property
    def is_prune(self) -> bool:
        """A prune candidate: Prune, or PruneSkipped (reported, not deleted)."""
        return self.action in (Action.Prune, Action.PruneSkipped)

    @property
    def applies(self) -> bool:
        """The task server-side applies its desired object (create or update)."""
        return self.action in (Action.Create, Action.Update) and self.desired is not None

    @property
    def api_version(self) -> str:
        return str((self.desired or self.live or {}).get("apiVersion", ""))


@dataclass(frozen=True)
class SyncPlan:
    tasks: tuple[Task, ...]
    refused: str | None = None
    """Why nothing may run (empty target, bad annotation); None when the plan can run."""

    def by_action(self, action: Action) -> list[Task]:
        return [t for t in self.tasks if t.action is action]


def plan_sync(
    pairs: Iterable[Pair],
    out_of_sync: set[ResourceKey] | None,
    *,
    prune: bool,
    apply_out_of_sync_only: bool,
    prune_last: bool,
    allow_empty: bool,
    only: set[ResourceKey] | None = None,
) -> SyncPlan:
    """The ordered tasks of a sync, or a refusal saying why it must not run.

    ``out_of_sync`` is the set of keys the diff found OutOfSync (None = unknown:
    treat everything as OutOfSync). ``only`` restricts a selective sync (which
    skips the empty-target guard: the learner named what to sync).
    """
    pairs = list(pairs)
    if not allow_empty and only is None and (refusal := empty_target(pairs, prune)):
        return SyncPlan((), refusal)
    tasks: list[Task] = []
    try:
        for p in pairs:
            if only is None or p.key in only:
                tasks += _tasks_for(p, out_of_sync, prune, apply_out_of_sync_only)
    except AnnotationError as e:
        return SyncPlan((), str(e))
    placed = _place_prunes(tasks, prune_last)
    return SyncPlan(tuple(sorted(placed, key=lambda t: waves.order(t.phase, t.wave, t.is_prune, t.key))))


def _tasks_for(
    p: Pair, out_of_sync: set[ResourceKey] | None, prune_on: bool, only_out_of_sync: bool
) -> list[Task]:
    if p.desired is None and (is_hook(p.live) or is_skipped(p.live)):
        return []  # hooks are recreated by each sync and never pruned as ordinary resources
    if is_skipped(p.desired):
        return []  # Argo CD's Skip: render it, never apply it
    obj = p.desired if p.desired is not None else p.live
    options = _sync_options(p.key, obj)
    if phases := hooks.hook_phases(p.key, p.desired):
        policies = hooks.delete_policies(p.key, p.desired)
        wave = waves.wave_of(p.key, p.desired)
        return [
            Task(p.key, Action.Create, p.desired, p.live, ph, wave, True, policies, options) for ph in phases
        ]
    action = _resource_action(p, out_of_sync, prune_on, only_out_of_sync)
    if action is None:
        return []
    return [
        Task(
            p.key, action, p.desired, p.live, SyncPhase.Sync, waves.wave_of(p.key, obj), sync_options=options
        )
    ]


def _resource_action(
    p: Pair, out_of_sync: set[ResourceKey] | None, prune_on: bool, only_out_of_sync: bool
) -> Action | None:
    if p.desired is None:
        return Action.PruneSkipped if prune_skipped(p.live, prune_on) else Action.Prune
    if p.live is None:
        return Action.Create
    if out_of_sync is None or p.key in out_of_sync:
        return Action.Update
    return None if only_out_of_sync else Action.None_


def _sync_options(key: ResourceKey, obj: Manifest | None) -> frozenset[str]:
    """The object's sync options; any sync or compare option labkit does not carry out refuses the plan."""
    checks = [
        (ann.SYNC_OPTIONS, RESOURCE_SYNC_OPTIONS),
        (ann.COMPARE_OPTIONS, COMPARE_OPTIONS),
    ]
    for name, known in checks:
        for option in sorted(ann.options(obj, name) - set(known)):
            used = ann.lookup(obj, name)
            raise AnnotationError(
                f"{key}: labkit does not carry out {used[0] if used else name} {option!r}; "
                f"it understands {', '.join(known)}"
            )
    return frozenset(ann.options(obj, ann.SYNC_OPTIONS))


def _place_prunes(tasks: list[Task], prune_last: bool) -> list[Task]:
    """Mirror prune waves (first-created is last-deleted) and move PruneLast prunes after the last wave."""
    prune_waves = [t.wave for t in tasks if t.is_prune]
    last = max([t.wave for t in tasks if t.phase is SyncPhase.Sync] + [0]) + 1
    return [
        replace(t, wave=prune_wave(t.wave, t.live, prune_waves, last, prune_last)) if t.is_prune else t
        for t in tasks
    ]
