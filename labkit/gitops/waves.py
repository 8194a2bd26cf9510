"""Waves: the order a sync runs in — phase, then wave, then kind, then name.

gitops-engine's ``sync_tasks.go`` order. Every object sits in a wave
(``argocd.argoproj.io/sync-wave``, an integer, default 0; lower runs first);
within a wave kinds go in :data:`KIND_ORDER` (Namespaces before
Deployments, unknown kinds last), prunes after the wave's applies in reverse
kind order. A sync starts the next wave only once the previous one is Healthy.

``labkit.gitops.plan`` sorts tasks with :func:`order` and reads waves with
:func:`wave_of`; ``labkit.gitops.sync`` runs :func:`group` of the plan one
group at a time. Where prune tasks land is ``labkit.gitops.prune``'s
business. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from labkit.gitops import annotations as ann
from labkit.gitops.annotations import AnnotationError
from labkit.gitops.types import Manifest, ResourceKey, SyncPhase

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


class Staged(Protocol):
    @property
    def phase(self) -> SyncPhase: ...

    @property
    def wave(self) -> int: ...


T = TypeVar("T", bound=Staged)


def wave_of(key: ResourceKey, obj: Manifest | None) -> int:
    """The object's sync wave (default 0); a value that is not an integer refuses the sync."""
    found = ann.lookup(obj, ann.SYNC_WAVE)
    if found is None:
        return 0
    name, raw = found
    try:
        return int(raw.strip())
    except ValueError:
        raise AnnotationError(f"{key}: {name} must be an integer, got {raw!r}") from None


def order(
    phase: SyncPhase, wave: int, prune: bool, key: ResourceKey
) -> tuple[int, int, int, int, str, str, str]:
    """Sort key: phase, wave, applies before prunes, kind (reversed for prunes), then name."""
    rank = _KIND_RANK.get(key.kind, len(KIND_ORDER))
    # Prunes follow the applies of their wave, in reverse kind order (Deployments before Namespaces).
    kind_rank = -rank if prune else rank
    return (phase.order, wave, int(prune), kind_rank, key.kind, key.namespace, key.name)


def group(tasks: Iterable[T]) -> list[tuple[SyncPhase, int, list[T]]]:
    """Ordered tasks grouped by (phase, wave), in execution order."""
    groups: list[tuple[SyncPhase, int, list[T]]] = []
    for task in tasks:
        if groups and groups[-1][0] is task.phase and groups[-1][1] == task.wave:
            groups[-1][2].append(task)
        else:
            groups.append((task.phase, task.wave, [task]))
    return groups
