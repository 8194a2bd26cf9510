"""The Application's spec: parsed with defaults, and the manifests the CLI and widgets write.

:class:`AppSpec` is an Application's ``spec`` with Argo CD's defaults
applied (source, destination, syncPolicy.automated {prune, selfHeal,
allowEmpty}, syncOptions, retry, revisionHistoryLimit, ignoreDifferences,
plus labkit's ``refreshInterval`` and ``diffMode``). The controller reads every Application
through :meth:`AppSpec.from_manifest` and every requested sync through
:meth:`SyncOperation.from_manifest`; ``labkit.apps`` (the CLI and the widgets)
builds them with :func:`application_manifest` and :func:`operation_manifest`.
A spec labkit cannot carry out (a sync option it does not know, a bad
duration) raises :class:`InvalidSpec`, shown as the app's InvalidSpecError.

The small shared types (statuses, phases, :class:`ResourceKey`) live in
``labkit.gitops.types`` and the CRD in ``labkit.gitops.crd``; the resource's
names are re-exported here for the modules outside the package that build
Applications. Pure data, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import LabkitError

# Re-exported with `as` for callers outside the package (the CLI, the Lab, widgets, tests).
from labkit.gitops.crd import DIFF_MODES as DIFF_MODES
from labkit.gitops.crd import PLURAL as PLURAL
from labkit.gitops.crd import crd_manifest as crd_manifest
from labkit.gitops.ignore import IgnoreDifferencesError, IgnoreRule, parse_rules
from labkit.gitops.types import API_VERSION as API_VERSION
from labkit.gitops.types import APP_NAMESPACE as APP_NAMESPACE
from labkit.gitops.types import GROUP as GROUP
from labkit.gitops.types import KIND as KIND
from labkit.gitops.types import REFRESH_ANNOTATION as REFRESH_ANNOTATION
from labkit.gitops.types import TRACKING_ANNOTATION as TRACKING_ANNOTATION
from labkit.gitops.types import VERSION as VERSION
from labkit.gitops.types import DiffMode, Manifest, ResourceKey

APP_SYNC_OPTIONS = (
    "CreateNamespace=true",
    "CreateNamespace=false",
    "ApplyOutOfSyncOnly=true",
    "ApplyOutOfSyncOnly=false",
    "PruneLast=true",
    "PruneLast=false",
    "RespectIgnoreDifferences=true",  # labkit.gitops.ignore.respect
    "RespectIgnoreDifferences=false",
    "ServerSideApply=true",  # labkit always applies server-side
    "Validate=false",  # labkit never asks the server for strict field validation
)
"""``spec.syncPolicy.syncOptions`` labkit carries out (or that match what it always does)."""


class InvalidSpec(LabkitError):
    """An Application (or a value in it) cannot be understood."""


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
    diff_mode: DiffMode = DiffMode.ServerSide
    helm: Manifest | None = None
    """The raw ``spec.source.helm``, checked when the chart renders (``labkit.gitops.helm``); None = unset."""
    ignore_differences: tuple[IgnoreRule, ...] = ()
    """``spec.ignoreDifferences``: fields the diff leaves out (``labkit.gitops.ignore``)."""

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
        _one_project_one_cluster(spec, dest, name)
        diff_mode = _diff_mode(spec.get("diffMode"), name)
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
            sync_options=_sync_options(policy.get("syncOptions"), name),
            retry=_retry(_mapping(policy.get("retry"), "spec.syncPolicy.retry", name)),
            revision_history_limit=int(spec.get("revisionHistoryLimit", 10)),
            poll_interval_s=None if refresh in (None, "") else parse_duration(refresh),
            diff_mode=diff_mode,
            helm=None if source.get("helm") is None else _mapping(source["helm"], "spec.source.helm", name),
            ignore_differences=_ignore_differences(spec.get("ignoreDifferences"), name),
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


def _diff_mode(raw: Any, app: str) -> DiffMode:
    try:
        return DiffMode(str(raw or DiffMode.ServerSide))
    except ValueError:
        modes = tuple(m.value for m in DiffMode)
        raise InvalidSpec(f"Application {app!r}: spec.diffMode {raw!r} is not one of {modes}") from None


def _ignore_differences(raw: Any, app: str) -> tuple[IgnoreRule, ...]:
    try:
        return parse_rules(raw)
    except IgnoreDifferencesError as e:
        raise InvalidSpec(f"Application {app!r}: {e.message}", hint=e.hint) from e


def _sync_options(raw: Any, app: str) -> frozenset[str]:
    options = frozenset(str(o).strip() for o in raw or ())
    if unknown := sorted(options - set(APP_SYNC_OPTIONS)):
        raise InvalidSpec(
            f"Application {app!r}: labkit does not carry out spec.syncPolicy.syncOptions {unknown}",
            hint=f"remove them; labkit understands {', '.join(APP_SYNC_OPTIONS)}",
        )
    return options


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
        "apiVersion": API_VERSION,
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


IN_CLUSTER = ("https://kubernetes.default.svc", "in-cluster")
"""How Argo CD names the cluster it runs in (destination.server / destination.name)."""


def _one_project_one_cluster(spec: Manifest, dest: Manifest, name: str) -> None:
    """Argo CD's fields labkit's agent has no choice in are checked, never ignored.

    labkit's agent deploys only to the lab's own cluster and has one project,
    ``default`` (Argo CD's default AppProject: no restrictions), so an Application
    written for Argo CD works here unchanged, and anything else is refused by name.
    """
    project = spec.get("project") or "default"
    if project != "default":
        raise InvalidSpec(
            f"Application {name!r}: spec.project {project!r}: labkit's agent has one project, 'default'",
            hint="set spec.project: default (AppProjects are Argo CD's: try them with labkit argocd up)",
        )
    for key in ("server", "name"):
        value = dest.get(key)
        if value not in (None, "") and value not in IN_CLUSTER:
            raise InvalidSpec(
                f"Application {name!r}: spec.destination.{key} {value!r}: labkit's agent deploys only to "
                "the lab's own cluster",
                hint="use destination.server: https://kubernetes.default.svc (or name: in-cluster)",
            )
