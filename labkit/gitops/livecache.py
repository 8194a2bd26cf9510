"""The live-state loop: watches that keep an in-memory copy of managed objects.

Argo CD does not poll the cluster to notice drift. It keeps a cache of every
object it manages, fed by watches, and re-checks an Application as soon as one
of its objects changes. This module is that cache. The comparer asks it to
watch a kind (``ensure_watch``); a thread per kind lists the objects once,
then follows the watch stream, and calls ``on_change(app, key, event)`` for
every object that carries labkit's tracking annotation (the controller queues
the app). ``tracked(app)`` reads one app's objects (for the comparer, and for
operations when a sync starts or an app is deleted); ``owner(key)`` says
which app an object belongs to, whoever asks (two apps claiming one object).

Only tracked objects are kept: an object labkit does not track is invisible
here, which is one reason prune can never touch it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from labkit.errors import LabkitError
from labkit.gitops.types import TRACKING_ANNOTATION, ResourceKey
from labkit.kube import Kube

Manifest = dict[str, Any]
ChangeHandler = Callable[[str, ResourceKey, str], None]
"""Called with (app name, object key, event type) after the cache changed."""

log = logging.getLogger(__name__)


def _tracking(obj: Manifest) -> tuple[str, ResourceKey] | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    if not value:
        return None
    try:
        return ResourceKey.parse_tracking_id(value)
    except (ValueError, LabkitError):
        return None


class LiveCache:
    """Tracked objects by (apiVersion, kind), kept current by one watch per kind."""

    def __init__(self, kube: Kube, on_change: ChangeHandler, reconnect_delay_s: float = 1.0) -> None:
        self.kube = kube
        self.on_change = on_change
        self.reconnect_delay_s = reconnect_delay_s
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Manifest]] = {}
        # app -> where its objects are in _objects: one app's lookup must not scan
        # every app's objects (1,000 apps x 5 objects, read on every compare).
        self._by_app: dict[str, set[tuple[tuple[str, str], tuple[str, str]]]] = {}
        self._threads: dict[tuple[str, str], threading.Thread] = {}
        self._synced: dict[tuple[str, str], threading.Event] = {}
        self._stop = threading.Event()
        self.errors: dict[tuple[str, str], str] = {}

    def ensure_watch(self, api_version: str, kind: str, wait_s: float = 10.0) -> None:
        """Start watching this kind (once) and wait until its first list is in."""
        gvk = (api_version, kind)
        with self._lock:
            if gvk not in self._threads:
                self._objects[gvk] = {}
                self._synced[gvk] = threading.Event()
                thread = threading.Thread(target=self._run, args=(gvk,), name=f"watch-{kind}", daemon=True)
                self._threads[gvk] = thread
                thread.start()
            synced = self._synced[gvk]
        synced.wait(wait_s)

    def watched(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._threads)

    def is_synced(self, api_version: str, kind: str) -> bool:
        event = self._synced.get((api_version, kind))
        return bool(event and event.is_set())

    def tracked(self, app: str, kinds: list[tuple[str, str]] | None = None) -> list[Manifest]:
        """Every cached object whose tracking annotation names ``app``."""
        wanted = set(kinds) if kinds is not None else None
        with self._lock:
            return [
                self._objects[gvk][ident]
                for gvk, ident in sorted(self._by_app.get(app, ()))
                if wanted is None or gvk in wanted
            ]

    def owner(self, key: ResourceKey) -> str | None:
        """The app whose tracking id the cached object ``key`` carries, whichever app that is.

        None when the object is not cached: absent, untracked, of a kind not
        watched, or carrying a tracking id copied from another object.
        """
        obj = self.find(key)
        tracking = _tracking(obj) if obj is not None else None
        return tracking[0] if tracking is not None and tracking[1] == key else None

    def find(self, key: ResourceKey) -> Manifest | None:
        """The cached object ``key`` (tracked by any app), or None."""
        with self._lock:
            for (api_version, kind), group in self._objects.items():
                if kind == key.kind and api_version.rpartition("/")[0] == key.group:
                    obj = group.get((key.namespace, key.name))
                    if obj is not None:
                        return obj
        return None

    def stop(self) -> None:
        self._stop.set()

    # -- the watch thread -------------------------------------------------

    def _run(self, gvk: tuple[str, str]) -> None:
        while not self._stop.is_set():
            try:
                self._list_then_watch(gvk)
            except LabkitError as e:
                # The API server went away (restart, network): keep the last
                # known state, say so, and reconnect; the list on reconnect
                # brings the cache up to date with whatever changed meanwhile.
                self.errors[gvk] = str(e).splitlines()[0]
                log.warning("watch %s/%s lost: %s; reconnecting", *gvk, self.errors[gvk])
                self._stop.wait(self.reconnect_delay_s)

    def _list_then_watch(self, gvk: tuple[str, str]) -> None:
        api_version, kind = gvk
        items, resource_version = self.kube.list_versioned(api_version, kind)
        fresh = {
            (o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in items if _tracking(o)
        }
        with self._lock:
            before = dict(self._objects[gvk])
            for ident in before:
                self._forget(gvk, ident)
            for ident, obj in fresh.items():
                self._keep(gvk, ident, obj)
        self.errors.pop(gvk, None)
        self._synced[gvk].set()
        # Anything that changed while we were not watching is reported now.
        for ident in set(before) | set(fresh):
            old, new = before.get(ident), fresh.get(ident)
            if (
                old is None
                or new is None
                or old.get("metadata", {}).get("resourceVersion")
                != new.get("metadata", {}).get("resourceVersion")
            ):
                self._notify(new or old, "DELETED" if new is None else "MODIFIED")
        # Start the watch exactly where the list ended: nothing is missed, nothing is replayed.
        for event_type, obj in self.kube.watch(
            api_version, kind, resource_version=resource_version, stop=self._stop
        ):
            self._apply_event(gvk, event_type, obj)

    def _apply_event(self, gvk: tuple[str, str], event_type: str, obj: Manifest) -> None:
        meta = obj.get("metadata") or {}
        ident = (meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            old = self._forget(gvk, ident)
            if event_type != "DELETED" and _tracking(obj):
                self._keep(gvk, ident, obj)
        if _tracking(obj) or old is not None:
            self._notify(obj if _tracking(obj) else old, event_type)
        # Another app took the object over (its tracking id now names that
        # app): the app that lost it must look again, or it would go on
        # reporting an object it no longer owns as Synced.
        before, after = _tracking(old) if old else None, _tracking(obj)
        if before and after and before[0] != after[0]:
            self._notify(old, event_type)

    def _keep(self, gvk: tuple[str, str], ident: tuple[str, str], obj: Manifest) -> None:
        """Cache a tracked object (the lock is held)."""
        self._objects[gvk][ident] = obj
        tracking = _tracking(obj)
        if tracking is not None:
            self._by_app.setdefault(tracking[0], set()).add((gvk, ident))

    def _forget(self, gvk: tuple[str, str], ident: tuple[str, str]) -> Manifest | None:
        """Drop an object from the cache (the lock is held); the object it was, if any."""
        old = self._objects[gvk].pop(ident, None)
        tracking = _tracking(old) if old is not None else None
        if tracking is not None:
            places = self._by_app.get(tracking[0], set())
            places.discard((gvk, ident))
            if not places:
                self._by_app.pop(tracking[0], None)
        return old

    def _notify(self, obj: Manifest | None, event_type: str) -> None:
        if obj is None:
            return
        tracking = _tracking(obj)
        if tracking is None:
            return
        app, _ = tracking
        try:
            self.on_change(app, ResourceKey.from_manifest(obj), event_type)
        except Exception:  # a handler bug must not kill the watch
            log.exception("live cache handler failed")
