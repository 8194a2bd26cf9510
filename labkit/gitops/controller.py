"""The pull agent: an Argo CD-shaped controller that keeps the cluster equal to Git.

Read this file top to bottom to see how Argo CD works inside. Work arrives
in a queue (``labkit.gitops.workqueue``) from four sources:

- **Git refresh** — a poll timer per app (interval + jitter), the webhook
  that the Git server's ``post-receive`` hook calls, and the manual refresh
  annotation ``labkit.dev/refresh``. Only a refresh asks Git for a new
  revision: a commit stays unseen until one of these happens.
- **Live state** — watches on every kind the apps manage
  (``labkit.gitops.livecache``). A ``kubectl scale`` is seen from the watch
  event itself, within a fraction of a second.
- **The Application itself** — a spec change or an ``operation`` written by
  the CLI or a widget (they never touch the cluster themselves).
- **Timers** — self-heal and retry backoff, a sync waiting for health.

A few workers take apps from the queue — never the same app twice at once —
and reconcile each (:meth:`process`), one Argo CD concept per module:

1. **refresh** (``labkit.gitops.refresh``) if asked or due: which commit
   does targetRevision name now?
2. **compare** (``labkit.gitops.comparer`` over the pure
   ``labkit.gitops.compare``, which pairs with ``labkit.gitops.reconcile``,
   diffs with ``labkit.gitops.diff`` and judges ``labkit.gitops.health``).
3. **observe**: the timeline hears of new diffs, drift and healing
   (``labkit.gitops.selfheal.observe_drift``).
4. **act** (``labkit.gitops.operations``): step a running sync, start a
   requested one, or let the automated sync policy decide
   (``labkit.gitops.autosync``, ``labkit.gitops.selfheal``). A sync is a plan
   (``labkit.gitops.plan``: ``hooks``, ``waves``, ``prune``) run by the step
   machine ``labkit.gitops.sync``.
5. **write status** (``labkit.gitops.record``, ``labkit.gitops.status``).

Each step returns what it found or decided; only this module changes an
app's :class:`labkit.gitops.record.AppRecord`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import replace
from typing import Any

from labkit.errors import LabkitError
from labkit.events import Timeline
from labkit.gitops import refresh, selfheal
from labkit.gitops import status as st
from labkit.gitops.application import AppSpec, InvalidSpec
from labkit.gitops.compare import Comparison
from labkit.gitops.comparer import Comparer, CompareResult
from labkit.gitops.livecache import LiveCache
from labkit.gitops.operations import Operations
from labkit.gitops.record import AppRecord, OperationResult
from labkit.gitops.source import SourceCache
from labkit.gitops.types import API_VERSION, APP_NAMESPACE, KIND, ResourceKey, SyncStatus
from labkit.gitops.webhook import WebhookServer
from labkit.gitops.workqueue import WorkQueue
from labkit.kube import Kube
from labkit.settings import ControllerSettings

Manifest = dict[str, Any]
log = logging.getLogger(__name__)


class Controller:
    """Watches Applications and their resources, and reconciles them one at a time."""

    def __init__(
        self,
        kube: Kube,
        timeline: Timeline,
        settings: ControllerSettings | None = None,
        *,
        webhook_secret: bytes | None = None,
        namespace: str = APP_NAMESPACE,
        source: SourceCache | None = None,  # None: render the lab's Git (tests pass a fake)
    ) -> None:
        self.kube = kube
        self.timeline = timeline
        self.settings = settings or ControllerSettings()
        self.namespace = namespace
        self.queue = WorkQueue()
        self.source = source or SourceCache(is_namespaced=kube.is_namespaced, timeline=timeline)
        self.live = LiveCache(kube, self._on_resource_change)
        self.comparer = Comparer(kube, self.source, self.live)
        self.apps: dict[str, AppRecord] = {}
        self.ops = Operations(
            kube,
            self.source,
            self.live,
            timeline,
            self.settings,
            self.queue.later,
            namespace=namespace,
            dry_runs=self.comparer.dry_runs,
        )
        self.webhook = WebhookServer(webhook_secret, self._on_push) if webhook_secret else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seen: dict[str, tuple[Any, ...]] = {}

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Controller:
        """Start the watch on Applications, the webhook server and the worker."""
        if self.webhook is not None:
            self.webhook.start()
        workers = [(self._work, f"worker-{i}") for i in range(self.settings.workers)]
        for target, name in [(self._watch_apps, "watch-apps"), *workers]:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        self.live.stop()
        if self.webhook is not None:
            self.webhook.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self.queue.get(timeout_s=1.0)
            if item is None:
                continue
            name, reasons = item
            started = time.monotonic()
            try:
                self.process(name, reasons)
                # The worker's whole time on this app (Argo CD logs "Reconciliation completed" with
                # time_ms): labkit.sim.fit fits the time outside the model's steps from it.
                took_s = round(time.monotonic() - started, 4)
                self.timeline.append(
                    "controller", "reconciled", app=name, reasons=sorted(reasons), duration_s=took_s
                )
            except LabkitError as e:
                # Broken infrastructure (API server down, ...): keep running,
                # try again shortly. Bad input never gets here: it becomes a
                # condition on the Application instead.
                log.warning("reconcile of %s failed: %s", name, str(e).splitlines()[0])
                self.queue.later(2.0, name, "retry-after-error")
            except Exception:
                log.exception("bug while reconciling %s", name)
                self.queue.later(5.0, name, "retry-after-error")
            finally:
                self.queue.done(name)

    # -- inputs: the loops feed the queue --------------------------------------

    def _watch_apps(self) -> None:
        while not self._stop.is_set():
            try:
                for event_type, obj in self.kube.watch(API_VERSION, KIND, self.namespace, stop=self._stop):
                    self._on_app_event(event_type, obj)
            except LabkitError as e:
                log.warning("watch on Applications lost: %s; reconnecting", str(e).splitlines()[0])
                self._stop.wait(1.0)

    def _on_app_event(self, event_type: str, obj: Manifest) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        if event_type == "DELETED":
            self._seen.pop(name, None)
            self.queue.add(name, "deleted")
            return
        # Our own status writes also arrive here; only changes a user makes
        # (spec, operation, refresh annotation, deletion) need a reconcile.
        marker = (
            json.dumps(obj.get("spec"), sort_keys=True),
            repr(obj.get("operation")),
            refresh.requested(obj),
            meta.get("deletionTimestamp"),
        )
        previous = self._seen.get(name)
        self._seen[name] = marker
        if previous is None:
            self.queue.add(name, "startup")
        elif previous != marker:
            self.queue.add(name, "spec" if previous[0] != marker[0] else "operation")

    def _on_resource_change(self, app: str, key: ResourceKey, event_type: str) -> None:
        # Apps that declare this object while another app owns it look again
        # too: the owner may have let it go, which ends their SharedResourceWarning.
        claimants = [name for name, r in list(self.apps.items()) if key in r.shared and name != app]
        for name in [app, *claimants]:
            record = self.apps.get(name)
            if record is not None and record.flux_style:
                continue  # Flux-style apps look at the cluster only on their interval.
            self.queue.add(name, "resource")

    def _on_push(self, payload: dict[str, Any]) -> None:
        self.timeline.append(
            "controller", "webhook_received", revision=payload.get("after"), ref=payload.get("ref")
        )
        # The push names its repository by file URL and, when served, by http URL.
        repos = {str(payload.get(k)) for k in ("repository", "http_url") if payload.get(k)}
        for name, record in list(self.apps.items()):
            if not repos or not record.repo_url or record.repo_url in repos:
                self.queue.add(name, "webhook")

    # -- one reconcile ------------------------------------------------------------

    def process(self, name: str, reasons: set[str]) -> None:
        """Reconcile one Application: refresh, compare, observe, act, write status."""
        obj = self.kube.get(API_VERSION, KIND, name, self.namespace)
        if obj is None:
            self.apps.pop(name, None)
            return
        record = self.apps.get(name) or AppRecord.from_status(name, obj.get("status") or {})
        self.apps[name] = record
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            if self.ops.finalize(obj, record):
                self.apps.pop(name, None)
            return
        try:
            spec = AppSpec.from_manifest(obj)
        except InvalidSpec as e:
            record.invalid_spec = str(e)
            self._write_status(obj, None, record)
            return
        record.invalid_spec = ""
        record.repo_url, record.flux_style = spec.repo_url, _flux_style(obj)
        before = record.revision
        refreshed = self._refresh(obj, spec, record, reasons)
        # A poll timer that is not due (a refresh moved the next poll) has nothing to do at all.
        if reasons <= {"poll"} and (not refreshed or self._nothing_new(record, before)):
            return
        found = self.comparer.compare(spec, record)
        _take_compare(record, found)
        if record.unsettled:
            # The cluster changed while we compared: judging now could call a
            # harmless edit drift. Look again in a moment, with fresh copies.
            self.queue.later(0.2, name, "settle")
            return
        self._observe(spec, record, found.comparison)
        result = self.ops.act(obj, spec, record, record.comparison)
        _take_operation(record, result)
        if not result.finished:
            self._write_status(obj, spec, record)

    def _refresh(self, obj: Manifest, spec: AppSpec, record: AppRecord, reasons: set[str]) -> bool:
        """Ask Git for the revision if a refresh is due or asked for; True when it did."""
        annotation, asked_by = refresh.requested(obj)
        due = "poll" in reasons and time.monotonic() >= record.next_poll_at - 0.05
        trigger = refresh.trigger(reasons, annotation, due, record.revision)
        if trigger is None:
            return False
        found = refresh.refresh(
            self.source, self.timeline, spec, record.revision, trigger, hard=annotation == "hard"
        )
        record.revision, record.refresh_error = found.revision, found.error
        if annotation:
            patch = {"metadata": {"annotations": {asked_by: None}}}
            self.kube.patch(API_VERSION, KIND, spec.name, self.namespace, patch)
        self._schedule_poll(spec, record)
        return True

    @staticmethod
    def _nothing_new(record: AppRecord, before: str | None) -> bool:
        """A poll that found no new commit has nothing to add: watches keep the live side fresh.

        (Flux-style apps are the exception: the interval is their only look at the cluster.)
        """
        return (
            not record.syncing
            and record.revision == before
            and record.comparison is not None
            and not record.flux_style
        )

    def _schedule_poll(self, spec: AppSpec, record: AppRecord) -> None:
        interval = spec.poll_interval_s or self.settings.poll_interval_s
        delay = interval + random.uniform(0, self.settings.poll_jitter_s)
        record.next_poll_at = time.monotonic() + delay
        self.queue.later(delay, spec.name, "poll")

    def _observe(self, spec: AppSpec, record: AppRecord, comparison: Comparison | None) -> None:
        """Write what changed to the timeline: diff, drift, healed, healthy."""
        previous, record.comparison = record.comparison, comparison
        if comparison is None:
            return
        name, rev = spec.name, comparison.revision
        if previous is None or (previous.sync_status, previous.revision) != (comparison.sync_status, rev):
            self.timeline.append(
                "controller",
                "diff_computed",
                app=name,
                revision=rev,
                sync=comparison.sync_status.value,
                out_of_sync=sorted(str(k) for k in comparison.out_of_sync()),
            )
        drift = selfheal.observe_drift(
            comparison,
            deployed_revision=record.deployed_revision,
            sync_running=record.syncing,
            drifting_before=record.memory.drifting,
            heal_attempts=record.memory.heal_attempts,
            self_heal=spec.self_heal,
        )
        for kind, data in drift.events:
            self.timeline.append("controller", kind, app=name, **data)
        record.memory = replace(record.memory, drifting=drift.drifting)
        if (
            comparison.sync_status is SyncStatus.Synced
            and comparison.health.status.healthy
            and record.healthy_revision != rev
        ):
            record.healthy_revision = rev
            self.timeline.append("controller", "healthy", app=name, revision=rev)

    def _write_status(self, obj: Manifest, spec: AppSpec | None, record: AppRecord) -> None:
        old = obj.get("status") or {}
        new = record.status(spec, old)
        comparable = {k: v for k, v in new.items() if k != "reconciledAt"}
        if comparable == {k: v for k, v in old.items() if k != "reconciledAt"}:
            return
        new["reconciledAt"] = st.iso(time.time())
        patch = st.merge_patch(old, new)
        self.kube.patch_status(API_VERSION, KIND, record.name, self.namespace, patch)


def _flux_style(obj: Manifest) -> bool:
    """Apps annotated ``labkit.dev/drift-detection: interval`` ignore watch events, like Flux."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get("labkit.dev/drift-detection") == "interval"


def _take_compare(record: AppRecord, found: CompareResult) -> None:
    """Copy what the comparer found onto the record (the comparison itself: see ``_observe``)."""
    record.render_error, record.shared, record.unsettled = found.render_error, found.shared, found.unsettled
    record.kinds = found.kinds
    if found.carried_to is not None:
        if record.memory.synced_revision == record.deployed_revision:
            record.memory = replace(record.memory, synced_revision=found.carried_to)
        record.deployed_revision = found.carried_to


def _take_operation(record: AppRecord, result: OperationResult) -> None:
    """Copy what the operations decided onto the record: the run, the operation state, memory, history."""
    record.run, record.op, record.op_state = result.run, result.op, result.op_state
    record.memory, record.history = result.memory, result.history
    record.deployed_revision, record.sync_error = result.deployed_revision, result.sync_error
    record.last_decision, record.resumed_started_at = result.last_decision, result.resumed_started_at
