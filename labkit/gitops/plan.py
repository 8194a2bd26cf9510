"""Plan: reconcile is a pure pairing of desired and live objects; sync order is data.

The controller calls :func:`pair` on every refresh (rendered objects from
Git against the tracked objects it finds in the cluster) and
``labkit.gitops.sync`` turns the pairs into a :class:`SyncPlan` with
:func:`plan_sync`, then executes :func:`waves` one by one. Nothing here talks
to the cluster, so a notebook can show a plan before anything happens.

Ordering follows gitops-engine's ``sync_tasks.go``: phase (PreSync, Sync,
PostSync, SyncFail) -> wave (``labkit.dev/sync-wave``, default 0) -> kind
(:data:`KIND_ORDER`, unknown kinds last) -> name. Prune tasks run after the
applies of their wave in reverse kind order, and their waves are mirrored
(the objects created in the first wave are deleted in the last one), as
Argo CD does; with PruneLast (app option or per resource) they all move to
one wave after the last Sync wave. SyncFail tasks are in the plan but the
sync runs them only when the sync has failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from labkit.gitops.application import (
    HOOK_ANNOTATION,
    HOOK_DELETE_ANNOTATION,
    SYNC_OPTIONS_ANNOTATION,
    TRACKING_ANNOTATION,
    WAVE_ANNOTATION,
    Manifest,
    ResourceKey,
    SyncPhase,
    TrackingIdError,
)

#: Argo CD's (and kubectl's) kind order within a wave; kinds not listed go last.
KIND_ORDER = tuple(
    (  # noqa: SIM905 - one string keeps the 35 kinds readable on five lines
        "Namespace NetworkPolicy ResourceQuota LimitRange PodSecurityPolicy PodDisruptionBudget "
        "ServiceAccount Secret SecretList ConfigMap StorageClass PersistentVolume PersistentVolumeClaim "
        "CustomResourceDefinition ClusterRole ClusterRoleList ClusterRoleBinding ClusterRoleBindingList "
        "Role RoleList RoleBinding RoleBindingList Service DaemonSet Pod ReplicationController ReplicaSet "
        "Deployment HorizontalPodAutoscaler StatefulSet Job CronJob IngressClass Ingress APIService"
    ).split()
)
_KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
HOOK_DELETE_POLICIES = ("BeforeHookCreation", "HookSucceeded", "HookFailed")
SKIP_HOOK = "Skip"


@dataclass(frozen=True)
class Pair:
    """One object as Git wants it and as the cluster has it; ``None`` on either side says which is missing."""

    key: ResourceKey
    desired: Manifest | None
    live: Manifest | None


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


class Action(StrEnum):
    Create = "Create"
    Update = "Update"
    Prune = "Prune"
    PruneSkipped = "PruneSkipped"
    None_ = "None"
    """In sync already; the sync may still apply it (Argo CD applies all unless ApplyOutOfSyncOnly)."""

    @property
    def deletes(self) -> bool:
        return self is Action.Prune

    @property
    def applies(self) -> bool:
        return self in (Action.Create, Action.Update, Action.None_)


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
    hook_delete_policy: str | None
    """For hooks: comma-separated policies (default BeforeHookCreation); None for ordinary resources."""

    @property
    def is_hook(self) -> bool:
        return self.hook_delete_policy is not None

    @property
    def is_prune(self) -> bool:
        """A prune candidate: Prune, or PruneSkipped (reported, not deleted)."""
        return self.action in (Action.Prune, Action.PruneSkipped)

    @property
    def obj(self) -> Manifest:
        """The object the task is about: desired when there is one, else live."""
        obj = self.desired if self.desired is not None else self.live
        assert obj is not None, "a task always has an object"
        return obj


@dataclass(frozen=True)
class SyncPlan:
    tasks: tuple[Task, ...]
    refused: str | None = None
    """Why nothing may run (empty target, bad annotation); None when the plan can run."""

    def by_action(self, action: Action) -> list[Task]:
        return [t for t in self.tasks if t.action is action]


class _Refuse(Exception):
    """Internal: a bad annotation makes the whole plan refuse (nothing is half-applied)."""


def _annotations(obj: Manifest | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


def _wave(key: ResourceKey, obj: Manifest | None) -> int:
    raw = _annotations(obj).get(WAVE_ANNOTATION, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise _Refuse(f"{key}: {WAVE_ANNOTATION} must be an integer, got {raw!r}") from None


def _options(obj: Manifest | None) -> set[str]:
    return {o.strip() for o in _annotations(obj).get(SYNC_OPTIONS_ANNOTATION, "").split(",") if o.strip()}


def _hook_phases(key: ResourceKey, obj: Manifest | None) -> list[str]:
    raw = _annotations(obj).get(HOOK_ANNOTATION)
    if raw is None:
        return []
    phases = [p.strip() for p in str(raw).split(",") if p.strip()]
    allowed = [p.value for p in SyncPhase] + [SKIP_HOOK]
    for phase in phases:
        if phase not in allowed:
            raise _Refuse(
                f"{key}: unknown hook {phase!r} in {HOOK_ANNOTATION}; use one of {', '.join(allowed)}"
            )
    return phases


def _hook_tasks(p: Pair, phases: list[str]) -> list[Task]:
    if SKIP_HOOK in phases:
        return []  # Argo CD's Skip: render it, never apply it
    policy = _annotations(p.desired).get(HOOK_DELETE_ANNOTATION, "BeforeHookCreation")
    for name in (x.strip() for x in policy.split(",")):
        if name not in HOOK_DELETE_POLICIES:
            raise _Refuse(
                f"{p.key}: unknown {HOOK_DELETE_ANNOTATION} {name!r}; use {', '.join(HOOK_DELETE_POLICIES)}"
            )
    wave = _wave(p.key, p.desired)
    return [Task(p.key, Action.Create, p.desired, p.live, SyncPhase(ph), wave, policy) for ph in phases]


def _resource_task(
    p: Pair, out_of_sync: set[ResourceKey] | None, prune: bool, only_out_of_sync: bool
) -> Task | None:
    if p.desired is None:
        skipped = not prune or "Prune=false" in _options(p.live)
        action = Action.PruneSkipped if skipped else Action.Prune
        return Task(p.key, action, None, p.live, SyncPhase.Sync, _wave(p.key, p.live), None)
    if p.live is None:
        action = Action.Create
    elif out_of_sync is None or p.key in out_of_sync:
        action = Action.Update
    elif only_out_of_sync:
        return None
    else:
        action = Action.None_
    return Task(p.key, action, p.desired, p.live, SyncPhase.Sync, _wave(p.key, p.desired), None)


def _order(task: Task) -> tuple[int, int, int, int, str, str, str]:
    rank = _KIND_RANK.get(task.key.kind, len(KIND_ORDER))
    # Prunes follow the applies of their wave, in reverse kind order (Deployments before Namespaces).
    kind_rank = -rank if task.is_prune else rank
    k = task.key
    return (task.phase.order, task.wave, int(task.is_prune), kind_rank, k.kind, k.namespace, k.name)


def _place_prunes(tasks: list[Task], prune_last: bool) -> list[Task]:
    """Mirror prune waves (first-created is last-deleted) and move PruneLast prunes after the last wave."""
    unique = sorted({t.wave for t in tasks if t.is_prune})
    mirror = dict(zip(unique, reversed(unique), strict=True))
    last = max([t.wave for t in tasks if t.phase is SyncPhase.Sync] + [0]) + 1
    placed = []
    for t in tasks:
        if t.is_prune:
            wave = last if prune_last or "PruneLast=true" in _options(t.live) else mirror[t.wave]
            t = Task(t.key, t.action, t.desired, t.live, t.phase, wave, t.hook_delete_policy)
        placed.append(t)
    return placed


def _is_hook(obj: Manifest | None) -> bool:
    return HOOK_ANNOTATION in _annotations(obj)


def _tasks_for(
    p: Pair, out_of_sync: set[ResourceKey] | None, prune: bool, only_out_of_sync: bool
) -> list[Task]:
    if p.desired is None and _is_hook(p.live):
        return []  # hooks are recreated by each sync and never pruned as ordinary resources
    if phases := _hook_phases(p.key, p.desired):
        return _hook_tasks(p, phases)
    task = _resource_task(p, out_of_sync, prune, only_out_of_sync)
    return [task] if task is not None else []


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
    if not allow_empty and only is None and (refusal := _empty_target(pairs, prune)):
        return SyncPlan((), refusal)
    tasks: list[Task] = []
    try:
        for p in pairs:
            if only is None or p.key in only:
                tasks += _tasks_for(p, out_of_sync, prune, apply_out_of_sync_only)
    except _Refuse as e:
        return SyncPlan((), str(e))
    return SyncPlan(tuple(sorted(_place_prunes(tasks, prune_last), key=_order)))


def _empty_target(pairs: list[Pair], prune: bool) -> str | None:
    """Argo CD's allowEmpty guard: an empty render usually means a wrong path, not "delete everything"."""
    if any(p.desired is not None and not _is_hook(p.desired) for p in pairs):
        return None
    live = sum(1 for p in pairs if p.live is not None and not _is_hook(p.live))
    if not live:
        return None
    if prune:
        return f"refusing to sync an empty target: would prune {live} objects; set allowEmpty"
    return f"refusing to sync an empty target: Git renders no objects but {live} are live; set allowEmpty"


def waves(plan: SyncPlan) -> list[tuple[SyncPhase, int, list[Task]]]:
    """The plan's tasks grouped by (phase, wave), in execution order."""
    groups: list[tuple[SyncPhase, int, list[Task]]] = []
    for task in plan.tasks:
        if groups and groups[-1][0] is task.phase and groups[-1][1] == task.wave:
            groups[-1][2].append(task)
        else:
            groups.append((task.phase, task.wave, [task]))
    return groups
