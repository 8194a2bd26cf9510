"""Diff: is a live object equal to what Git wants? Two modes, as in Argo CD.

``labkit.gitops.compare`` calls one of these per resource (the mode is the
Application's ``spec.diffMode``, a :class:`DiffMode`); the controller stores
the result in ``status.resources`` and the widgets and ``labkit app diff``
show ``text``.

* :func:`server_side_diff` (default) compares the live object with the result
  of a server-side-apply dry run of the desired object (``predicted``, fetched
  by the caller through ``labkit.kube``). The API server has already applied
  defaults, normalised values (``cpu: 0.5`` -> ``500m``) and kept every field
  owned by another field manager, so only fields labkit declares can differ.
* :func:`three_way_diff` is Argo CD's legacy mode: the fields Git declares,
  plus the fields removed from Git since the last apply (read from the live
  object's ``kubectl.kubernetes.io/last-applied-configuration``), merged onto
  the live object. Fields nobody declared are never compared.

Both take the JSON pointers of the Application's ``spec.ignoreDifferences``
rules that match the object (``labkit.gitops.ignore``) and compare without
those fields.

Neither mode sees an edit of a field that Git does not declare — a ``kubectl
label`` or a Service ``type`` left at its default and changed by hand. That
blind spot is real in Argo CD and a lesson in the notebooks.

Lists in the three-way merge are merged element by element by index: a list
item's fields that only the live object has (``protocol: TCP`` defaulted onto
a ``containerPort``, ``imagePullPolicy`` on a container) are kept, as kubectl's
strategic merge keeps them for containers and ports, so a defaulted field in a
list item is never a difference. A list of a different length is a difference.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from labkit.gitops.ignore import without
from labkit.gitops.types import DiffMode, Manifest, ResourceKey, SyncStatus

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
VOLATILE_METADATA = ("managedFields", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink")
IGNORED_ANNOTATIONS = ("deployment.kubernetes.io/revision", LAST_APPLIED_ANNOTATION)

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ResourceDiff:
    """How one resource compares; ``text`` is a unified YAML diff (``--- live`` / ``+++ desired``)."""

    key: ResourceKey
    status: SyncStatus
    mode: DiffMode
    changed_paths: tuple[str, ...]
    text: str
    reason: str = ""
    """"" when Synced; "changed", "missing" (not in the cluster) or "extra" (tracked, gone from Git)."""

    @property
    def synced(self) -> bool:
        return self.status is SyncStatus.Synced


def normalize(obj: Manifest) -> Manifest:
    """A deep copy without status and the metadata the API server writes on its own."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for name in VOLATILE_METADATA:
            meta.pop(name, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for name in IGNORED_ANNOTATIONS:
                annotations.pop(name, None)
        for name in ("annotations", "labels"):
            if meta.get(name) in ({}, None):
                meta.pop(name, None)
    return out


def server_side_diff(
    key: ResourceKey, predicted: Manifest | None, live: Manifest | None, ignore: Sequence[str] = ()
) -> ResourceDiff:
    """Compare ``live`` with ``predicted``, the server-side-apply dry run of the desired object.

    ``ignore``: JSON pointers of fields left out of the comparison (``spec.ignoreDifferences``).
    """
    return _diff(key, DiffMode.ServerSide, predicted, live, ignore)


def three_way_diff(
    key: ResourceKey, desired: Manifest | None, live: Manifest | None, ignore: Sequence[str] = ()
) -> ResourceDiff:
    """Compare only what Git declares now or declared at the last apply (Argo CD's legacy diff)."""
    if desired is None or live is None:
        return _diff(key, DiffMode.ThreeWay, desired, live, ignore)
    merged = merge_three_way(last_applied(live), desired, live)
    return _diff(key, DiffMode.ThreeWay, merged, live, ignore)


def last_applied(live: Manifest) -> Manifest:
    """The object as last applied, from the annotation; {} when absent or unreadable."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}  # a hand-edited annotation must not break the diff; it only loses removals
    return parsed if isinstance(parsed, dict) else {}


def merge_three_way(last: Any, desired: Any, live: Any) -> Any:
    """What ``live`` would become if ``desired`` were applied over it, kubectl-style.

    Maps: keys Git removed since ``last`` are dropped, keys Git declares are
    merged, the rest of ``live`` is kept. Lists: merged item by item by index
    (see the module docstring). Anything else: Git's value wins.
    """
    if isinstance(desired, dict) and isinstance(live, dict):
        last_map = last if isinstance(last, dict) else {}
        out = dict(live)
        for removed in last_map.keys() - desired.keys():
            out.pop(removed, None)
        for name, value in desired.items():
            if value is None:  # an explicit null deletes the field, as in a merge patch
                out.pop(name, None)
            elif name in live:
                out[name] = merge_three_way(last_map.get(name), value, live[name])
            else:
                out[name] = copy.deepcopy(value)
        return out
    if isinstance(desired, list) and isinstance(live, list):
        last_list = last if isinstance(last, list) else []
        return [
            merge_three_way(last_list[i] if i < len(last_list) else None, item, live[i])
            if i < len(live)
            else copy.deepcopy(item)
            for i, item in enumerate(desired)
        ]
    return copy.deepcopy(desired)


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths (``spec.template.spec.containers[0].image``) where ``old`` and ``new`` differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for name in sorted(old.keys() | new.keys(), key=str):
            child = _join(prefix, str(name))
            if name not in old or name not in new:
                paths.append(child)
            else:
                paths.extend(changed_paths(old[name], new[name], child))
        return paths
    if isinstance(old, list) and isinstance(new, list):
        paths = []
        for i in range(max(len(old), len(new))):
            if i >= len(old) or i >= len(new):
                paths.append(f"{prefix}[{i}]")
            else:
                paths.extend(changed_paths(old[i], new[i], f"{prefix}[{i}]"))
        return paths
    return [] if old == new else [prefix]


def _join(prefix: str, name: str) -> str:
    # Label and annotation keys hold dots and slashes; quote them so the path stays unambiguous.
    part = name if _PLAIN_KEY.match(name) else f'["{name}"]'
    if not prefix:
        return part
    return prefix + part if part.startswith("[") else f"{prefix}.{part}"


def _diff(
    key: ResourceKey, mode: DiffMode, target: Manifest | None, live: Manifest | None, ignore: Sequence[str]
) -> ResourceDiff:
    if target is None and live is None:
        return ResourceDiff(key, SyncStatus.Synced, mode, (), "")
    new = without(normalize(target), ignore) if target is not None else None
    old = without(normalize(live), ignore) if live is not None else None
    if old is None or new is None:
        reason = "missing" if old is None else "extra"
        return ResourceDiff(key, SyncStatus.OutOfSync, mode, (), unified_diff(old, new), reason)
    paths = tuple(changed_paths(old, new))
    if not paths:
        return ResourceDiff(key, SyncStatus.Synced, mode, (), "")
    return ResourceDiff(key, SyncStatus.OutOfSync, mode, paths, unified_diff(old, new), "changed")


def unified_diff(live: Manifest | None, desired: Manifest | None) -> str:
    """A unified diff of two objects as sorted YAML; an absent side is empty."""
    a = yaml.safe_dump(live, sort_keys=True) if live is not None else ""
    b = yaml.safe_dump(desired, sort_keys=True) if desired is not None else ""
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), "live", "desired")
    return "".join(lines)
