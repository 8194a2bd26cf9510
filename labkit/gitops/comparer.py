"""The controller's eyes: what Git declares for one app against what runs, judged.

:meth:`labkit.gitops.controller.Controller.process` calls :meth:`Comparer.compare`
once per reconcile. It renders the app's path at the refreshed revision
(``labkit.gitops.source``), makes sure every kind involved is watched
(``labkit.gitops.livecache``), and hands both sides to the pure
``labkit.gitops.reconcile.compare`` with a server-side dry run as predictor.
It also notes, on the app's record, objects the app declares that another
app's tracking id claims (Argo CD's ``SharedResourceWarning``).
"""

from __future__ import annotations

from typing import Any

from labkit.errors import LabkitError
from labkit.gitops.application import AppSpec, ResourceKey
from labkit.gitops.livecache import LiveCache
from labkit.gitops.reconcile import Comparison, ResourceState, compare, lagging, rejudge, resource_version
from labkit.gitops.record import AppRecord, one_line
from labkit.gitops.source import Desired, SourceCache
from labkit.kube import Kube

Manifest = dict[str, Any]


class Comparer:
    """Compares one app at a time: desired (Git) with live (the watch cache), via a dry run."""

    def __init__(self, kube: Kube, source: SourceCache, live: LiveCache) -> None:
        self.kube = kube
        self.source = source
        self.live = live

    def compare(self, spec: AppSpec, record: AppRecord) -> Comparison | None:
        """The app at ``record.revision``; None (and a render error on the record) when Git can't say."""
        if record.revision is None:
            return None
        try:
            desired = self.source.desired(
                spec.name, spec.repo_url, spec.path, record.revision, spec.dest_namespace
            )
        except LabkitError as e:
            record.render_error, record.shared = one_line(e), {}
            return None
        record.render_error = ""
        self._carry_deployment(spec, record, desired)
        live = self._watch_and_read(record, desired)
        predicted: dict[ResourceKey, Manifest] = {}

        def predict(obj: Manifest) -> tuple[Manifest | None, str]:
            result = self.kube.apply(obj, dry_run=True)
            if not result.ok or result.obj is None:
                return None, result.message
            predicted[ResourceKey.from_manifest(obj)] = result.obj
            return result.obj, ""

        comparison = compare(
            spec.name, record.revision, list(desired.objects), live, diff_mode=spec.diff_mode, predict=predict
        )
        behind = lagging(comparison, predicted)
        fresh = self._read_current(behind)
        record.unsettled = len(fresh) < len(behind)
        comparison = rejudge(comparison, fresh)
        record.shared = self._claimed_by_others(spec.name, comparison)
        return comparison

    def _watch_and_read(self, record: AppRecord, desired: Desired) -> list[Manifest]:
        """Watch every kind the app declares or ever managed; the objects of them it tracks now."""
        kinds = {(str(o["apiVersion"]), str(o["kind"])) for o in desired.objects} | record.kinds
        known = {k for k in kinds if self.kube.is_namespaced(*k) is not None}
        for api_version, kind in sorted(known):
            self.live.ensure_watch(api_version, kind)
        record.kinds = known
        return self.live.tracked(record.name, sorted(known))

    def _carry_deployment(self, spec: AppSpec, record: AppRecord, desired: Desired) -> None:
        """A commit that leaves this app's manifests as they were deploys nothing new.

        The lab's apps share one repository, so most commits touch other apps.
        As Argo CD does ("manifests not changed"), the deployed revision then
        moves to the new commit: drift stays drift (self-heal's business, not a
        fresh auto-sync that would undo it with selfHeal off).
        """
        old = record.deployed_revision
        if old is None or old == record.revision:
            return
        try:
            before = self.source.desired(spec.name, spec.repo_url, spec.path, old, spec.dest_namespace)
        except LabkitError:
            return  # the old commit is gone (a force push) or unreadable: the new one is new
        if before.objects != desired.objects:
            return
        if record.memory.synced_revision == old:
            record.memory.synced_revision = record.revision
        record.deployed_revision = record.revision

    def _read_current(
        self, states: list[ResourceState], attempts: int = 3
    ) -> dict[ResourceKey, tuple[Manifest, Manifest]]:
        """For objects the watch cache is behind on: a (dry run, current object) pair of one version.

        Read the object, dry-run Git's version onto it, and keep the pair only
        if the server did not change the object in between (same
        resourceVersion); a busy object (a rollout updating its status) gets a
        few tries. What stays unsettled is left to the next reconcile.
        """
        fresh = {}
        for s in states:
            for _ in range(attempts):
                current = self.kube.get(s.api_version, s.key.kind, s.key.name, s.key.namespace or None)
                if current is None or s.desired is None:
                    break
                result = self.kube.apply(s.desired, dry_run=True)
                if result.ok and result.obj and resource_version(result.obj) == resource_version(current):
                    fresh[s.key] = (result.obj, current)
                    break
        return fresh

    def _claimed_by_others(self, app: str, comparison: Comparison) -> dict[ResourceKey, str]:
        """Declared objects that exist but carry another app's tracking id: key -> that app.

        To this app they are missing (it tracks them no longer, or never did),
        which the comparison already says; the owner's name is what tells a
        learner *why* (two Applications on one set of objects).
        """
        shared = {}
        for s in comparison.resources:
            if s.desired is not None and s.live is None:
                owner = self.live.owner(s.key)
                if owner is not None and owner != app:
                    shared[s.key] = owner
        return shared
