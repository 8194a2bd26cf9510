"""Compare: judge every object of an app — is the live one equal to Git's (sync), and working (health)?

Argo CD's ``CompareAppState`` as pure functions, free of threads and timers,
so it reads like the definition of GitOps. :func:`compare` pairs desired and
live objects (``labkit.gitops.reconcile``, hooks and ``Skip`` objects left
out), diffs each pair (``labkit.gitops.diff``) and takes each live object's
health (``labkit.gitops.health``). The result, a :class:`Comparison`, is plain
data that the controller writes into ``Application.status``.

``predict`` asks the API server what an object would look like after a
server-side apply (a dry run); ``labkit.gitops.comparer`` passes it in, with
the live objects from the watch cache (``labkit.apps`` does the same for
``labkit app diff``). :func:`lagging` and :func:`rejudge`
handle a cache that is a few milliseconds behind that dry run. An extraneous
object (tracked, gone from Git) annotated ``argocd.argoproj.io/compare-options:
IgnoreExtraneous`` stays OutOfSync itself but does not make the app OutOfSync.
The app's ``spec.ignoreDifferences`` rules (``labkit.gitops.ignore``) leave
their fields out of each matching object's diff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from labkit.gitops import annotations as ann
from labkit.gitops.diff import ResourceDiff, server_side_diff, three_way_diff
from labkit.gitops.health import Health, app_health, health_of
from labkit.gitops.ignore import IgnoreRule, pointers_for
from labkit.gitops.reconcile import is_resource, pair
from labkit.gitops.types import DiffMode, HealthStatus, Manifest, ResourceKey, SyncStatus

Predict = Callable[[Manifest], tuple[Manifest | None, str]]
"""Dry-run apply of a desired object: (predicted live object, error message or "")."""

IGNORE_EXTRANEOUS = "IgnoreExtraneous"
COMPARE_OPTIONS = (IGNORE_EXTRANEOUS,)
"""The ``argocd.argoproj.io/compare-options`` labkit carries out; ``labkit.gitops.plan`` refuses others."""


@dataclass(frozen=True)
class ResourceState:
    """One object of the app: desired vs live, its diff and its health."""

    key: ResourceKey
    api_version: str
    desired: Manifest | None
    live: Manifest | None
    diff: ResourceDiff
    health: Health | None
    message: str = ""

    @property
    def status(self) -> SyncStatus:
        return self.diff.status

    @property
    def requires_pruning(self) -> bool:
        return self.desired is None and self.live is not None

    @property
    def counts_for_app(self) -> bool:
        """Whether this object's sync status counts for the app's (IgnoreExtraneous says no)."""
        ignored = IGNORE_EXTRANEOUS in ann.options(self.live, ann.COMPARE_OPTIONS)
        return not (self.requires_pruning and ignored)

    def to_status(self) -> Manifest:
        """The entry of ``status.resources`` (Argo CD's ResourceStatus shape)."""
        group, _, version = self.api_version.rpartition("/")
        entry: Manifest = {
            "group": group,
            "version": version,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "status": self.status.value,
        }
        if self.health is not None:
            entry["health"] = {"status": self.health.status.value}
            if self.health.message:
                entry["health"]["message"] = self.health.message
        elif self.live is None and self.desired is not None:
            entry["health"] = {"status": HealthStatus.Missing.value}
        if self.requires_pruning:
            entry["requiresPruning"] = True
        if self.message:
            entry["message"] = self.message
        return entry


@dataclass(frozen=True)
class Comparison:
    """The whole app at one revision: per-resource states plus the summary."""

    revision: str
    resources: tuple[ResourceState, ...]
    sync_status: SyncStatus
    health: Health

    def out_of_sync(self) -> set[ResourceKey]:
        return {r.key for r in self.resources if r.status is not SyncStatus.Synced}

    def get(self, key: ResourceKey) -> ResourceState | None:
        return next((r for r in self.resources if r.key == key), None)


def compare(
    app: str,
    revision: str,
    desired: list[Manifest],
    live: list[Manifest],
    *,
    diff_mode: DiffMode | str = DiffMode.ServerSide,
    predict: Predict | None = None,
    ignore: Sequence[IgnoreRule] = (),
) -> Comparison:
    """Pair desired and live objects (hooks left out, like Argo CD) and judge every pair.

    ``ignore``: the app's ``spec.ignoreDifferences`` rules.
    """
    mode = DiffMode(diff_mode)
    pairs = pair([d for d in desired if is_resource(d)], [x for x in live if is_resource(x)], app)
    states = [_judge(p.key, p.desired, p.live, mode, predict, pointers_for(ignore, p.key)) for p in pairs]
    return summarize(revision, states)


def summarize(revision: str, states: list[ResourceState]) -> Comparison:
    """The app's sync status and health from its resources' states."""
    synced = all(s.status is SyncStatus.Synced for s in states if s.counts_for_app)
    missing = sum(1 for s in states if s.live is None and s.desired is not None)
    health = app_health((s.health for s in states if s.live is not None), missing=missing)
    return Comparison(revision, tuple(states), SyncStatus.Synced if synced else SyncStatus.OutOfSync, health)


def resource_version(obj: Manifest | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def lagging(comparison: Comparison, predicted: dict[ResourceKey, Manifest]) -> list[ResourceState]:
    """OutOfSync resources whose live copy is older than the object the dry run was made on.

    A watch cache lags the API server by a few milliseconds. When an object
    changed in between, the dry run already carries the change and the cached
    copy does not, so even a change of a field nobody declares looks like drift.
    """
    return [
        s
        for s in comparison.resources
        if s.status is SyncStatus.OutOfSync
        and s.live is not None
        and s.key in predicted
        and resource_version(predicted[s.key]) != resource_version(s.live)
    ]


def rejudge(
    comparison: Comparison,
    fresh: dict[ResourceKey, tuple[Manifest, Manifest]],
    ignore: Sequence[IgnoreRule] = (),
) -> Comparison:
    """Judge resources again against (predicted, current) pairs read at the same resourceVersion."""
    if not fresh:
        return comparison
    states = []
    for s in comparison.resources:
        if s.key in fresh:
            predicted, current = fresh[s.key]
            diff = server_side_diff(s.key, predicted, current, pointers_for(ignore, s.key))
            s = ResourceState(s.key, s.api_version, s.desired, current, diff, health_of(current), s.message)
        states.append(s)
    return summarize(comparison.revision, states)


def _judge(
    key: ResourceKey,
    desired: Manifest | None,
    live: Manifest | None,
    mode: DiffMode,
    predict: Predict | None,
    ignored: Sequence[str],
) -> ResourceState:
    api_version = str((desired or live or {}).get("apiVersion", ""))
    message = ""
    if desired is None:
        diff = server_side_diff(key, None, live)  # tracked, but no longer in Git
    elif mode is DiffMode.ThreeWay or predict is None:
        diff = three_way_diff(key, desired, live, ignored)
    else:
        predicted, error = predict(desired)
        if error:
            # The dry run itself failed (invalid object, immutable field,
            # unknown kind): the resource cannot be in sync, and the message
            # is the API server's own words.
            message = error
            diff = ResourceDiff(
                key, SyncStatus.OutOfSync, DiffMode.ServerSide, (), f"dry run failed: {error}"
            )
        else:
            diff = server_side_diff(key, predicted, live, ignored)
    health = health_of(live) if live is not None else None
    return ResourceState(key, api_version, desired, live, diff, health, message)
