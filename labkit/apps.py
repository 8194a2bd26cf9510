"""Applications from the user's side: what the CLI, the Lab facade and widgets call.

Like Argo CD's CLI and UI, nothing here touches the app's resources. Every
action is a write to the Application: create it, change its spec, set the
refresh annotation, or write an ``operation`` — and the controller does the
work. ``wait`` then polls the Application's status (every 0.1 s) until it
says what we are waiting for. The one read-only exception is :meth:`AppClient.diff`,
which recomputes the diff locally with the controller's own pure functions
(as ``argocd app diff`` does) so a learner can read it. :meth:`AppClient.agent`
reads the agent's heartbeat Lease, so that a status is never shown as current
while nobody keeps it so.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabkitError
from labkit.gitops import application as appdef
from labkit.gitops import heartbeat
from labkit.gitops.application import AppSpec, ResourceKey, auto_sync_enabled
from labkit.gitops.compare import Comparison, compare
from labkit.gitops.helm import HelmSource
from labkit.gitops.source import SourceCache
from labkit.gitops.types import API_VERSION, FINALIZER
from labkit.kube import Kube

Manifest = dict[str, Any]


class AppError(LabkitError):
    """An Application is missing, or a request about it cannot be done."""


@dataclass(frozen=True)
class AppSummary:
    """One line of `labkit app list`."""

    name: str
    sync: str
    health: str
    revision: str
    path: str
    auto_sync: bool
    self_heal: bool
    message: str
    reconciled_at: str = ""
    """When the controller last wrote this status (``status.reconciledAt``); "" if never."""

    @classmethod
    def from_manifest(cls, obj: Manifest) -> AppSummary:
        status, spec = obj.get("status") or {}, obj.get("spec") or {}
        auto = (spec.get("syncPolicy") or {}).get("automated")
        conditions = status.get("conditions") or []
        return cls(
            name=obj["metadata"]["name"],
            sync=(status.get("sync") or {}).get("status", "Unknown"),
            health=(status.get("health") or {}).get("status", "Unknown"),
            revision=str((status.get("sync") or {}).get("revision", ""))[:7],
            path=(spec.get("source") or {}).get("path", ""),
            auto_sync=auto_sync_enabled(auto),
            self_heal=bool((auto or {}).get("selfHeal")),
            message=conditions[0]["message"] if conditions else "",
            reconciled_at=heartbeat.as_of(obj),
        )


class AppClient:
    """Create, read, change and ask to sync Applications through the API server."""

    def __init__(self, kube: Kube, namespace: str = appdef.APP_NAMESPACE) -> None:
        self.kube = kube
        self.namespace = namespace

    def create(
        self,
        name: str,
        repo_url: str,
        path: str,
        dest_namespace: str,
        helm: HelmSource | None = None,
        **options: Any,
    ) -> Manifest:
        """Create or update an Application (options: see ``application_manifest``).

        ``helm`` becomes ``spec.source.helm`` (value files, parameters, release name).
        """
        obj = appdef.application_manifest(name, repo_url, path, dest_namespace, **options)
        obj["metadata"]["namespace"] = self.namespace
        if helm is not None:
            obj["spec"]["source"]["helm"] = helm.to_manifest()
        result = self.kube.apply(obj, field_manager="labkit-cli")
        if not result.ok or result.obj is None:
            raise AppError(f"could not create Application {name!r}: {result.message}")
        return result.obj

    def get(self, name: str) -> Manifest:
        obj = self.kube.get(API_VERSION, appdef.KIND, name, self.namespace)
        if obj is None:
            raise AppError(f"Application {name!r} not found", hint="list them with `labkit app list`")
        return obj

    def agent(self) -> heartbeat.AgentState:
        """Whether the agent that writes these statuses is alive now (its heartbeat Lease)."""
        return heartbeat.read(self.kube)

    def list(self) -> builtins.list[AppSummary]:
        items = self.kube.list(API_VERSION, appdef.KIND, self.namespace)
        return sorted((AppSummary.from_manifest(o) for o in items), key=lambda s: s.name)

    def sync(
        self,
        name: str,
        *,
        revision: str | None = None,
        prune: bool = False,
        dry_run: bool = False,
        resources: builtins.list[ResourceKey] | None = None,
    ) -> None:
        """Ask the controller to sync (writes the ``operation`` field)."""
        self.get(name)
        op = appdef.operation_manifest(revision=revision, prune=prune, dry_run=dry_run, resources=resources)
        self._patch(name, {"operation": op})

    def refresh(self, name: str, hard: bool = False) -> None:
        self._patch(
            name, {"metadata": {"annotations": {appdef.REFRESH_ANNOTATION: "hard" if hard else "normal"}}}
        )

    def set_policy(
        self,
        name: str,
        *,
        auto_sync: bool | None = None,
        self_heal: bool | None = None,
        prune: bool | None = None,
    ) -> None:
        """Turn auto-sync, self-heal or prune on or off."""
        obj = self.get(name)
        raw = ((obj.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        automated = dict(raw or {})
        enabled = auto_sync_enabled(raw) if auto_sync is None else auto_sync
        if self_heal is not None:
            automated["selfHeal"] = self_heal
        if prune is not None:
            automated["prune"] = prune
        if enabled and "enabled" in automated:
            automated["enabled"] = True  # a merge patch keeps an old `enabled: false` unless told
        self._patch(name, {"spec": {"syncPolicy": {"automated": automated if enabled else None}}})

    def rollback(self, name: str, history_id: int, *, disable_auto_sync: bool = False) -> str:
        """Sync the app to the revision of a history entry (Argo CD's ``app rollback``).

        Refused while auto-sync is on: auto-sync would roll the rollback
        straight back to Git's HEAD. With ``disable_auto_sync`` it is switched
        off first — which is why, after a rollback, the app stays OutOfSync
        against HEAD until someone fixes Git or turns auto-sync on again.
        """
        obj = self.get(name)
        history = (obj.get("status") or {}).get("history") or []
        entry = next((h for h in history if int(h.get("id", -1)) == history_id), None)
        if entry is None:
            ids = ", ".join(str(h.get("id")) for h in history) or "none yet"
            raise AppError(f"Application {name!r} has no history entry {history_id} (ids: {ids})")
        if AppSummary.from_manifest(obj).auto_sync:
            if not disable_auto_sync:
                raise AppError(
                    "rollback cannot be initiated when auto-sync is enabled",
                    hint=f"turn it off first (`labkit app set {name} --no-auto-sync`) "
                    "or pass --disable-auto-sync; to go back for good, `git revert` instead",
                )
            self.set_policy(name, auto_sync=False)
        revision = str(entry["revision"])
        self.sync(name, revision=revision)
        return revision

    def delete(self, name: str, cascade: bool = False) -> None:
        """Delete the Application; with ``cascade`` the controller prunes its resources first."""
        self.get(name)
        if cascade:
            self._patch(name, {"metadata": {"finalizers": [FINALIZER]}})
        self.kube.delete(API_VERSION, appdef.KIND, name, self.namespace)

    def wait(
        self,
        name: str,
        *,
        sync: str | None = "Synced",
        health: str | None = None,
        revision: str | None = None,
        timeout_s: float = 60.0,
    ) -> Manifest:
        """Wait until the status shows the wanted sync/health (and revision, if given)."""
        deadline = time.monotonic() + timeout_s
        obj = self.get(name)
        while time.monotonic() < deadline:
            obj = self.get(name)
            if _matches(obj, sync, health, revision):
                return obj
            time.sleep(0.1)
        summary = AppSummary.from_manifest(obj)
        raise AppError(
            f"Application {name!r} is {summary.sync}/{summary.health} at {summary.revision or '?'} after "
            f"{timeout_s:.0f} s (wanted {sync or 'any'}/{health or 'any'}); {summary.message}".rstrip("; "),
            hint=f"look at `labkit app get {name}` and the controller log",
        )

    def diff(self, name: str, mode: str | None = None, source: SourceCache | None = None) -> Comparison:
        """Compare Git and the cluster now, with the controller's own functions."""
        obj = self.get(name)
        spec = AppSpec.from_manifest(obj)
        source = source or SourceCache(is_namespaced=self.kube.is_namespaced)
        sha = source.resolve(spec.repo_url, spec.target_revision)
        desired = source.desired(name, spec.repo_url, spec.path, sha, spec.dest_namespace, spec.helm)
        kinds = {(str(o["apiVersion"]), str(o["kind"])) for o in desired.objects}
        kinds |= {_gvk(r) for r in (obj.get("status") or {}).get("resources") or []}
        known = [k for k in sorted(kinds) if self.kube.is_namespaced(*k) is not None]
        live = self.kube.list_tracked(known, None, appdef.TRACKING_ANNOTATION, name)

        def predict(o: Manifest) -> tuple[Manifest | None, str]:
            r = self.kube.apply(o, dry_run=True)
            return (r.obj, "") if r.ok else (None, r.message)

        return compare(
            name,
            sha,
            list(desired.objects),
            live,
            diff_mode=mode or spec.diff_mode,
            predict=predict,
            ignore=spec.ignore_differences,
        )

    def _patch(self, name: str, patch: Manifest) -> None:
        self.kube.patch(API_VERSION, appdef.KIND, name, self.namespace, patch)


def _gvk(resource: Manifest) -> tuple[str, str]:
    group, version = resource.get("group", ""), resource.get("version", "v1")
    return (f"{group}/{version}" if group else version, resource.get("kind", ""))


def _matches(obj: Manifest, sync: str | None, health: str | None, revision: str | None) -> bool:
    status = obj.get("status") or {}
    op_phase = (status.get("operationState") or {}).get("phase")
    if obj.get("operation") is not None or op_phase == "Running":
        return False
    if sync and (status.get("sync") or {}).get("status") != sync:
        return False
    if health and (status.get("health") or {}).get("status") != health:
        return False
    return not revision or str((status.get("sync") or {}).get("revision", "")).startswith(revision)
