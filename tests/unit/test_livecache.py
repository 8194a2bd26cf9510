"""The watch cache's view of ownership (labkit.gitops.livecache), fed by a fake API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from labkit.gitops.application import TRACKING_ANNOTATION, ResourceKey
from labkit.gitops.livecache import LiveCache

Manifest = dict[str, Any]
KEY = ResourceKey("", "ConfigMap", "redis", "redis-config")


def configmap(name: str, tracking_id: str | None = None) -> Manifest:
    annotations = {TRACKING_ANNOTATION: tracking_id} if tracking_id else {}
    meta = {"name": name, "namespace": "redis", "resourceVersion": "1", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


class FakeKube:
    """Lists the given objects once; the watch then stays quiet until the cache stops."""

    def __init__(self, *objects: Manifest) -> None:
        self.objects = list(objects)

    def list_versioned(self, api_version: str, kind: str) -> tuple[list[Manifest], str]:
        return [o for o in self.objects if (o["apiVersion"], o["kind"]) == (api_version, kind)], "1"

    def watch(self, *args: Any, stop: threading.Event, **kwargs: Any) -> Iterator[tuple[str, Manifest]]:
        stop.wait()
        return iter(())


def cache_of(*objects: Manifest) -> LiveCache:
    cache = LiveCache(FakeKube(*objects), lambda app, key, event: None)  # type: ignore[arg-type]
    cache.ensure_watch("v1", "ConfigMap", wait_s=5)
    assert cache.is_synced("v1", "ConfigMap")
    return cache


@pytest.fixture
def stopped() -> Iterator[list[LiveCache]]:
    caches: list[LiveCache] = []
    yield caches
    for cache in caches:
        cache.stop()


def test_owner_names_the_app_whose_tracking_id_the_object_carries_whichever_app_asks(
    stopped: list[LiveCache],
) -> None:
    cache = cache_of(configmap("redis-config", KEY.tracking_id("shared-a")))
    stopped.append(cache)
    assert cache.owner(KEY) == "shared-a"
    assert cache.tracked("shared-b") == [], "the other app does not track it"


def test_owner_is_none_for_absent_untracked_and_copied_objects(stopped: list[LiveCache]) -> None:
    copied = configmap("redis-copy", KEY.tracking_id("shared-a"))  # annotation copied from redis-config
    cache = cache_of(configmap("plain"), copied)
    stopped.append(cache)
    assert cache.owner(KEY) is None
    assert cache.owner(ResourceKey("", "ConfigMap", "redis", "plain")) is None
    assert cache.owner(ResourceKey("", "ConfigMap", "redis", "redis-copy")) is None
    assert cache.owner(ResourceKey("apps", "Deployment", "redis", "redis-config")) is None, "kind not watched"
