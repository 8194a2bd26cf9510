"""The controller's eyes: what Git declares for one app against what runs, judged.

:meth:`labkit.gitops.controller.Controller.process` calls
:meth:`Comparer.compare` once per reconcile and copies the
:class:`CompareResult` onto the app's record. The comparer renders the app's
path at the refreshed revision (``labkit.gitops.source``), makes sure every
kind involved is watched (``labkit.gitops.livecache``), and hands both sides
to the pure ``labkit.gitops.compare.compare`` with a server-side dry run as
predictor (``labkit.gitops.dryrun``: a repeated dry run is answered from memory while
neither side changed). It also names objects the app declares that another app's
tracking id claims (Argo CD's ``SharedResourceWarning``). It reads the
record and changes nothing but the watch cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.errors import LabkitError
from labkit.gitops.application import AppSpec
from labkit.gitops.compare import Comparison, ResourceState, compare, lagging, rejudge, resource_version
from labkit.gitops.dryrun import DryRuns
from labkit.gitops.livecache import LiveCache
from labkit.gitops.record import AppRecord, one_line
from labkit.gitops.source import Desired, SourceCache
from labkit.gitops.types import ResourceKey
from labkit.kube import Kube

Manifest = dict[str, Any]


@dataclass(frozen=True)
class CompareResult:
    """What one comparison found; the controller copies it onto the app's record."""

    comparison: Comparison | None
    """None when Git cannot say (no revision yet, or the render failed: ``render_error``)."""
    kinds: frozenset[tuple[str, str]]
    render_error: str = ""
    shared: dict[ResourceKey, str] = field(default_factory=dict)
    unsettled: bool = False
    """The cluster changed while comparing: do not act on this comparison, look again shortly."""
    carried_to: str | None = None
    """The new revision leaves the app's manifests as they were: it counts as deployed (see below)."""


class Comparer:
    """Compares one app at a time: desired (Git) with live (the watch cache), via a dry run."""

    def __init__(self, kube: Kube, source: SourceCache, live: LiveCache) -> None:
        self.kube = kube
        self.source = source
        self.live = live
        self.dry_runs = DryRuns(kube, live)

    def compare(self, spec: AppSpec, record: AppRecord) -> CompareResult:
        """The app at ``record.revision``, judged."""
        if record.revision is None:
            return CompareResult(None, record.kinds)
        try:
            desired = self._desired(spec, record.revision)
        except LabkitError as e:
            return CompareResult(None, record.kinds, render_error=one_line(e))
        kinds = self._watch(record, desired)
        live = self.live.tracked(record.name, sorted(kinds))
        predicted: dict[ResourceKey, Manifest] = {}

        def predict(obj: Manifest) -> tuple[Manifest | None, str]:
            result = self.dry_runs.apply(obj)
            if not result.ok or result.obj is None:
                return None, result.message
            predicted[ResourceKey.from_manifest(obj)] = result.obj
            return result.obj, ""

        comparison = compare(
            spec.name,
            record.revision,
            list(desired.objects),
            live,
            diff_mode=spec.diff_mode,
            predict=predict,
            ignore=spec.ignore_differences,
        )
        behind = lagging(comparison, predicted)
        fresh = self._read_current(behind)
        comparison = rejudge(comparison, fresh, spec.ignore_differences)
        return CompareResult(
            comparison,
            kinds,
            shared=self._claimed_by_others(spec.name, comparison),
            unsettled=len(fresh) < len(behind),
            carried_to=self._carried_to(spec, record, desired),
        )

    def _desired(self, spec: AppSpec, revision: str) -> Desired:
        return self.source.desired(
            spec.name, spec.repo_url, spec.path, revision, spec.dest_namespace, spec.helm
        )

    def _watch(self, record: AppRecord, desired: Desired) -> frozenset[tuple[str, str]]:
        """Watch every kind the app declares or ever managed; the kinds the server knows."""
        kinds = {(str(o["apiVersion"]), str(o["kind"])) for o in desired.objects} | record.kinds
        known = frozenset(k for k in kinds if self.kube.is_namespaced(*k) is not None)
        for api_version, kind in sorted(known):
            self.live.ensure_watch(api_version, kind)
        return known

    def _carried_to(self, spec: AppSpec, record: AppRecord, desired: Desired) -> str | None:
        """The new revision, when a commit leaves this app's manifests as they were; else None.

        The lab's apps share one repository, so most commits touch other apps.
        As Argo CD does ("manifests not changed"), the deployed revision then
        moves to the new commit: drift stays drift (self-heal's business, not a
        fresh auto-sync that would undo it with selfHeal off).
        """
        old = record.deployed_revision
        if old is None or old == record.revision:
            return None
        try:
            before = self._desired(spec, old)
        except LabkitError:
            return None  # the old commit is gone (a force push) or unreadable: the new one is new
        return record.revision if before.objects == desired.objects else None

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
