"""The Application resource: names, statuses, spec parsing and manifests, mirroring Argo CD.

Everything the pull agent, the CLI and the widgets agree on lives here: the
``applications.labkit.dev`` CRD, the annotations labkit writes on managed
objects, the status enums, :class:`ResourceKey` (and its tracking id) and
:class:`AppSpec`, the parsed spec. ``labkit.gitops.sync`` and
``labkit.gitops.controller`` read Applications through :meth:`AppSpec.from_manifest`;
the CLI and widgets build them with :func:`application_manifest` and request a
sync by writing :func:`operation_manifest` into the object. The CRD itself and
the resource's group/version/kind are built in :mod:`labkit.gitops.crd` and
re-exported here (``crd_manifest``, ``GROUP``, ...). Pure data, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from labkit.errors import LabkitError

# The resource's identity and the CRD live in crd.py, which imports nothing from here, so
# there is no import cycle. Callers import all of these from this module; the names not
# used here are re-exported with `as` so linters keep them.
from labkit.gitops.crd import DIFF_MODES, GROUP, KIND, VERSION, Manifest
from labkit.gitops.crd import PLURAL as PLURAL
from labkit.gitops.crd import crd_manifest as crd_manifest

APP_NAMESPACE = "labkit"
TRACKING_ANNOTATION = "labkit.dev/tracking-id"
REFRESH_ANNOTATION = "labkit.dev/refresh"
WAVE_ANNOTATION = "labkit.dev/sync-wave"
HOOK_ANNOTATION = "labkit.dev/hook"
HOOK_DELETE_ANNOTATION = "labkit.dev/hook-delete-policy"
SYNC_OPTIONS_ANNOTATION = "labkit.dev/sync-options"
FIELD_MANAGER = "labkit"


class InvalidSpec(LabkitError):
    """An Application (or a value in it) cannot be understood."""


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

    def is_worse_than(self, other: HealthStatus) -> bool:
        return self.rank > other.rank


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

    @property
    def successful(self) -> bool:
        return self is OperationPhase.Succeeded


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

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s: str | float) -> float:
    """Seconds in a Go/Argo CD duration such as "5s", "3m", "1m30s", "500ms"; bare numbers are seconds."""
    if isinstance(s, int | float) and not isinstance(s, bool):
        value = float(s)
    else:
        text = str(s).strip()
        try:
            value = float(text)
        except ValueError:
            if not text or _DURATION_PART.sub("", text):
                raise InvalidSpec(
                    f"invalid duration {s!r}", hint='write it like "30s", "3m" or "1m30s"'
                ) from None
            value = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text))
    if value < 0:
        raise InvalidSpec(f"invalid duration {s!r}: must not be negative")
    return value


@dataclass(frozen=True)
class Backoff:
    duration_s: float = 5.0
    factor: float = 2.0
    max_duration_s: float = 180.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 = the first retry), capped."""
        return min(self.duration_s * self.factor**attempt, self.max_duration_s)


@dataclass(frozen=True)
class Retry:
    limit: int = 0
    """Retries after a failed sync; 0 = none, negative = unlimited (as in Argo CD)."""
    backoff: Backoff = field(default_factory=Backoff)

    def allows(self, retries_done: int) -> bool:
        return self.limit < 0 or retries_done < self.limit


@dataclass(frozen=True)
class AppSpec:
    """An Application's spec with defaults applied."""

    name: str
    repo_url: str
    path: str
    target_revision: str = "HEAD"
    dest_namespace: str = "default"
    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    sync_options: frozenset[str] = frozenset()
    retry: Retry = field(default_factory=Retry)
    revision_history_limit: int = 10
    poll_interval_s: float | None = None
    """From ``spec.refreshInterval``; None = the lab's ControllerSettings.poll_interval_s."""
    diff_mode: str = "server-side"

    def has_option(self, option: str) -> bool:
        """Exact match, as Argo CD's ``SyncOptions.HasOption`` ("CreateNamespace=true")."""
        return option in self.sync_options

    @classmethod
    def from_manifest(cls, app_obj: Manifest) -> AppSpec:
        name = str((app_obj.get("metadata") or {}).get("name") or "")
        spec = _mapping(app_obj.get("spec"), "spec", name)
        source = _mapping(spec.get("source"), "spec.source", name)
        dest = _mapping(spec.get("destination"), "spec.destination", name)
        policy = _mapping(spec.get("syncPolicy"), "spec.syncPolicy", name)
        auto = policy.get("automated")
        auto_map = _mapping(auto, "spec.syncPolicy.automated", name)
        repo_url, path = source.get("repoURL"), source.get("path")
        if not name:
            raise InvalidSpec("Application has no metadata.name")
        if not isinstance(repo_url, str) or not repo_url:
            raise InvalidSpec(
                f"Application {name!r}: spec.source.repoURL is missing", hint="set it to the Git URL"
            )
        if not isinstance(path, str) or not path:
            raise InvalidSpec(
                f"Application {name!r}: spec.source.path is missing", hint='use "." for the root'
            )
        if path.startswith("/") or ".." in path.split("/"):
            raise InvalidSpec(
                f"Application {name!r}: spec.source.path {path!r} must stay inside the repository"
            )
        diff_mode = str(spec.get("diffMode") or "server-side")
        if diff_mode not in DIFF_MODES:
            raise InvalidSpec(f"Application {name!r}: spec.diffMode {diff_mode!r} is not one of {DIFF_MODES}")
        refresh = spec.get("refreshInterval")
        return cls(
            name=name,
            repo_url=repo_url,
            path=path,
            target_revision=str(source.get("targetRevision") or "HEAD"),
            dest_namespace=str(dest.get("namespace") or "default"),
            automated=auto_sync_enabled(auto),
            prune=bool(auto_map.get("prune", False)),
            self_heal=bool(auto_map.get("selfHeal", False)),
            allow_empty=bool(auto_map.get("allowEmpty", False)),
            sync_options=frozenset(str(o).strip() for o in policy.get("syncOptions") or ()),
            retry=_retry(_mapping(policy.get("retry"), "spec.syncPolicy.retry", name)),
            revision_history_limit=int(spec.get("revisionHistoryLimit", 10)),
            poll_interval_s=None if refresh in (None, "") else parse_duration(refresh),
            diff_mode=diff_mode,
        )


def auto_sync_enabled(automated: Any) -> bool:
    """Argo CD 3.x: an ``automated`` block turns auto-sync on unless it says ``enabled: false``."""
    return isinstance(automated, dict) and automated.get("enabled", True) is not False


def _mapping(value: Any, where: str, app: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSpec(f"Application {app!r}: {where} must be a mapping, got {type(value).__name__}")
    return value


def _retry(raw: dict[str, Any]) -> Retry:
    b = raw.get("backoff") or {}
    backoff = Backoff(
        duration_s=parse_duration(b.get("duration", 5.0)),
        factor=float(b.get("factor", 2.0)),
        max_duration_s=parse_duration(b.get("maxDuration", 180.0)),
    )
    return Retry(limit=int(raw.get("limit", 0)), backoff=backoff)


def application_manifest(
    name: str,
    repo_url: str,
    path: str,
    dest_namespace: str,
    *,
    target_revision: str = "HEAD",
    auto_sync: bool = False,
    prune: bool = False,
    self_heal: bool = False,
    allow_empty: bool = False,
    sync_options: Iterable[str] = (),
    retry_limit: int = 0,
    refresh_interval: str | float | None = None,
    diff_mode: str | None = None,
) -> Manifest:
    """An Application object ready to apply into :data:`APP_NAMESPACE`."""
    spec: Manifest = {
        "source": {"repoURL": repo_url, "path": path, "targetRevision": target_revision},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": dest_namespace},
    }
    policy: Manifest = {}
    if auto_sync or prune or self_heal or allow_empty:
        # Keeps prune/selfHeal settings while auto-sync is off, like Argo CD's `enabled: false`.
        policy["automated"] = {
            "enabled": auto_sync,
            "prune": prune,
            "selfHeal": self_heal,
            "allowEmpty": allow_empty,
        }
    if options := list(sync_options):
        policy["syncOptions"] = options
    if retry_limit:
        policy["retry"] = {
            "limit": retry_limit,
            "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"},
        }
    if policy:
        spec["syncPolicy"] = policy
    if refresh_interval is not None:
        is_number = isinstance(refresh_interval, int | float)
        spec["refreshInterval"] = f"{refresh_interval:g}s" if is_number else refresh_interval
    if diff_mode is not None:
        spec["diffMode"] = diff_mode
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": APP_NAMESPACE},
        "spec": spec,
    }


def operation_manifest(
    *,
    revision: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    resources: Iterable[ResourceKey] | None = None,
    initiated_by: str = "labkit",
    automated: bool = False,
) -> Manifest:
    """The ``operation`` field that requests a sync (Argo CD's ``operation.sync`` shape)."""
    sync: Manifest = {"prune": prune, "dryRun": dry_run}
    if revision:
        sync["revision"] = revision
    if resources is not None:
        sync["resources"] = [
            {"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name} for k in resources
        ]
    return {"sync": sync, "initiatedBy": {"username": initiated_by, "automated": automated}}


@dataclass(frozen=True)
class SyncOperation:
    """A parsed ``operation`` field: what sync was asked for, by whom."""

    revision: str | None = None
    prune: bool = False
    dry_run: bool = False
    resources: tuple[ResourceKey, ...] | None = None
    """None = every resource of the app; otherwise only these (a selective sync)."""
    initiated_by: str = ""
    automated: bool = False

    @classmethod
    def from_manifest(cls, app_obj: Manifest) -> SyncOperation | None:
        op = app_obj.get("operation")
        if not isinstance(op, dict) or not isinstance(op.get("sync"), dict):
            return None
        sync, by = op["sync"], op.get("initiatedBy") or {}
        raw = sync.get("resources")
        resources = None
        if raw is not None:
            resources = tuple(
                ResourceKey(r.get("group", ""), r["kind"], r.get("namespace", ""), r["name"]) for r in raw
            )
        return cls(
            revision=sync.get("revision") or None,
            prune=bool(sync.get("prune", False)),
            dry_run=bool(sync.get("dryRun", False)),
            resources=resources,
            initiated_by=str(by.get("username", "")),
            automated=bool(by.get("automated", False)),
        )
