"""The small types every part of the pull agent shares: names, statuses, phases, resource keys.

Argo CD keeps these in ``pkg/apis/application/v1alpha1/types.go``; here they
are the words of the Application's status (:class:`SyncStatus`,
:class:`HealthStatus`, :class:`OperationPhase`, :class:`ResultCode`), of a sync
(:class:`SyncPhase`) and of a diff (:class:`DiffMode`), plus
:class:`ResourceKey`, the identity of one Kubernetes object, and its tracking
id. Every module of ``labkit.gitops`` imports them from here;
``labkit.gitops.application`` builds the spec on top of them. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from labkit.errors import LabkitError
from labkit.gitops.crd import GROUP, KIND, VERSION, Manifest

API_VERSION = f"{GROUP}/{VERSION}"
"""``labkit.dev/v1alpha1``: the apiVersion of labkit's Application (Argo CD's is ``argoproj.io/v1alpha1``)."""
APP_NAMESPACE = "labkit"
TRACKING_ANNOTATION = "labkit.dev/tracking-id"
REFRESH_ANNOTATION = "labkit.dev/refresh"
FINALIZER = "labkit.dev/resources-finalizer"
"""On an Application: deleting it deletes its resources first (Argo CD's resources-finalizer)."""
FIELD_MANAGER = "labkit"

__all__ = [
    "API_VERSION",
    "APP_NAMESPACE",
    "FIELD_MANAGER",
    "FINALIZER",
    "Health",
    "GROUP",
    "KIND",
    "REFRESH_ANNOTATION",
    "TRACKING_ANNOTATION",
    "VERSION",
    "DiffMode",
    "HealthStatus",
    "Manifest",
    "OperationPhase",
    "ResourceKey",
    "ResultCode",
    "SyncPhase",
    "SyncStatus",
    "TrackingIdError",
    "parse_tracking_id",
    "worst",
]


class SyncStatus(StrEnum):
    Synced = "Synced"
    OutOfSync = "OutOfSync"
    Unknown = "Unknown"

    @property
    def synced(self) -> bool:
        return self is SyncStatus.Synced


class HealthStatus(StrEnum):
    """Health of one object or of a whole app; members are declared in Argo CD's rank order."""

    Healthy = "Healthy"
    Suspended = "Suspended"
    Progressing = "Progressing"
    Missing = "Missing"
    Degraded = "Degraded"
    Unknown = "Unknown"

    @property
    def rank(self) -> int:
        return list(HealthStatus).index(self)

    @property
    def healthy(self) -> bool:
        return self is HealthStatus.Healthy


@dataclass(frozen=True)
class Health:
    """One object's (or one app's) health, with Argo CD's message when it is not Healthy."""

    status: HealthStatus
    message: str = ""


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """The worst status by Argo CD's ranking; Healthy when there is none."""
    return max(statuses, key=lambda s: s.rank, default=HealthStatus.Healthy)


class OperationPhase(StrEnum):
    Running = "Running"
    Succeeded = "Succeeded"
    Failed = "Failed"
    Error = "Error"

    @property
    def completed(self) -> bool:
        return self is not OperationPhase.Running


class ResultCode(StrEnum):
    Synced = "Synced"
    SyncFailed = "SyncFailed"
    Pruned = "Pruned"
    PruneSkipped = "PruneSkipped"

    @property
    def failed(self) -> bool:
        return self is ResultCode.SyncFailed


class SyncPhase(StrEnum):
    """Sync phases; declaration order is execution order (SyncFail runs only after a failure)."""

    PreSync = "PreSync"
    Sync = "Sync"
    PostSync = "PostSync"
    SyncFail = "SyncFail"

    @property
    def order(self) -> int:
        return list(SyncPhase).index(self)


class DiffMode(StrEnum):
    """How a live object is compared with Git (``spec.diffMode``); see ``labkit.gitops.diff``."""

    ServerSide = "server-side"
    """Against a server-side-apply dry run of the desired object (Argo CD's ServerSideDiff)."""
    ThreeWay = "three-way"
    """Against Git's fields merged onto the live object (Argo CD's legacy diff)."""


class TrackingIdError(LabkitError):
    """A tracking-id annotation is not of the form ``<app>:<group>/<kind>:<namespace>/<name>``."""


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of a Kubernetes object within the cluster; ``namespace`` is "" when cluster-scoped."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def from_manifest(cls, m: Manifest) -> ResourceKey:
        api_version = str(m.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]  # "v1" -> "" (core), "apps/v1" -> "apps"
        meta = m.get("metadata") or {}
        return cls(group, str(m.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))

    def tracking_id(self, app: str) -> str:
        return f"{app}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    @staticmethod
    def parse_tracking_id(s: str) -> tuple[str, ResourceKey]:
        """Split ``<app>:<group>/<kind>:<namespace>/<name>`` into the app name and the key."""
        # Names, namespaces, kinds and groups cannot contain ':' or '/', so plain splits are exact.
        parts = s.split(":")
        if len(parts) != 3 or parts[1].count("/") != 1 or parts[2].count("/") != 1:
            raise TrackingIdError(
                f"malformed tracking id {s!r}", hint="expected <app>:<group>/<kind>:<ns>/<name>"
            )
        app, group_kind, ns_name = parts
        group, kind = group_kind.split("/")
        namespace, name = ns_name.split("/")
        if not app or not kind or not name:
            raise TrackingIdError(f"malformed tracking id {s!r}", hint="app, kind and name must not be empty")
        return app, ResourceKey(group, kind, namespace, name)

    def __str__(self) -> str:
        gk = f"{self.group}/{self.kind}" if self.group else self.kind
        return f"{gk} {self.namespace}/{self.name}" if self.namespace else f"{gk} {self.name}"


parse_tracking_id = ResourceKey.parse_tracking_id
