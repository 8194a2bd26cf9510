"""Server-side dry runs, remembered while neither side changes (Argo CD caches them too).

A comparison asks the API server what each desired object would look like
after a server-side apply (``labkit.gitops.comparer``), and a sync starts
with a dry run of every object it will apply (``labkit.gitops.sync``): for
one commit the same request goes out several times, against an object that
has not changed in between. :class:`DryRuns` answers a repeat from memory
when the desired manifest and the live object's ``resourceVersion`` (from the
watch cache, ``labkit.gitops.livecache``) are both the ones of the answer it
keeps; any change on either side asks the server again. Argo CD's
Server-Side Diff keeps such a cache for the same reason (argoproj/argo-cd
issue 11574: "cache the SSA response to avoid hitting kube-api too often").

Only answers that succeeded and that describe that very ``resourceVersion``
are kept, one per object; objects not yet created are always asked.
:class:`labkit.gitops.controller.Controller` makes one and hands it to the
comparer and the operations.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import replace
from typing import Any

from labkit.gitops.livecache import LiveCache
from labkit.gitops.types import ResourceKey
from labkit.kube import ApplyResult, Kube

Manifest = dict[str, Any]


def _version(obj: Manifest | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


class DryRuns:
    """``apply(obj)``: a server-side apply dry run, answered from memory when nothing changed."""

    def __init__(self, kube: Kube, live: LiveCache) -> None:
        self.kube, self.live = kube, live
        self._lock = threading.Lock()
        self._answers: dict[ResourceKey, tuple[str, str, ApplyResult]] = {}
        self.asked = self.remembered = 0

    def apply(self, obj: Manifest) -> ApplyResult:
        key = ResourceKey.from_manifest(obj)
        version = _version(self.live.find(key))
        text = json.dumps(obj, sort_keys=True)
        with self._lock:
            kept = self._answers.get(key)
            if version and kept is not None and kept[:2] == (version, text):
                self.remembered += 1
                answer = kept[2]
                return replace(answer, obj=copy.deepcopy(answer.obj))  # callers may change theirs
            self.asked += 1
        result = self.kube.apply(obj, dry_run=True)
        if version and result.ok and _version(result.obj) == version:
            with self._lock:
                self._answers[key] = (version, text, replace(result, obj=copy.deepcopy(result.obj)))
        return result
