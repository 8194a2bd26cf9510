"""Argo CD's ``spec.ignoreDifferences``: fields of chosen objects the diff leaves out.

An Application lists rules (Argo CD's ``ResourceIgnoreDifferences``):
``group`` and ``kind`` are glob patterns (``apps``, ``*``), ``name`` and
``namespace`` are exact and optional, and ``jsonPointers`` name fields by
RFC 6901 pointers (``/spec/replicas``, ``/metadata/annotations/a~1b`` for the
key ``a/b``). For every object a rule matches, ``labkit.gitops.diff`` removes
those fields from both sides before comparing, as Argo CD's ignore normalizer
does: a field another actor owns (the replicas an HPA sets) no longer makes
the app OutOfSync, so self-heal leaves it alone. A pointer to a field that is
not there is no error.

A sync still applies Git's value of an ignored field, unless the sync option
``RespectIgnoreDifferences=true`` is set: then :func:`respect` gives the object
to apply the live object's value of each ignored field (or leaves it out when
the live object has none), as Argo CD's ``normalizeTargetResources`` does;
``status`` is never copied. ``labkit.gitops.operations`` calls
:func:`respect_pairs` when a sync starts; a new object is applied as Git has it.

``jqPathExpressions`` would need a jq engine, which labkit does not ship, and
``managedFieldsManagers`` is not carried out: :func:`parse_rules` refuses both
(``labkit.gitops.application`` shows it as InvalidSpecError), never ignores them.
Pure functions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from labkit.errors import LabkitError
from labkit.gitops.reconcile import Pair
from labkit.gitops.types import Manifest, ResourceKey

RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences=true"
REFUSED_FIELDS = {
    "jqPathExpressions": "labkit has no jq engine; write the field as jsonPointers (/spec/replicas)",
    "managedFieldsManagers": "labkit does not carry it out; name the fields with jsonPointers instead",
}
"""Fields of a rule labkit's agent refuses, each with what to do instead."""
_KNOWN_FIELDS = {"group", "kind", "name", "namespace", "jsonPointers", *REFUSED_FIELDS}


class IgnoreDifferencesError(LabkitError):
    """A ``spec.ignoreDifferences`` rule labkit cannot carry out."""


@dataclass(frozen=True)
class IgnoreRule:
    """One entry of ``spec.ignoreDifferences``."""

    kind: str
    """Glob pattern of the kind (``Deployment``, ``*``)."""
    group: str = ""
    """Glob pattern of the API group: "" is the core group (Service, ConfigMap), ``apps`` for Deployment."""
    name: str = ""
    """Only the object of this name; "" = any."""
    namespace: str = ""
    """Only objects in this namespace; "" = any."""
    json_pointers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        return (
            fnmatchcase(key.group, self.group)
            and fnmatchcase(key.kind, self.kind)
            and self.name in ("", key.name)
            and self.namespace in ("", key.namespace)
        )


def parse_rules(raw: Any) -> tuple[IgnoreRule, ...]:
    """The rules of ``spec.ignoreDifferences`` (None = none); IgnoreDifferencesError names a bad one."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise IgnoreDifferencesError("spec.ignoreDifferences must be a list of rules")
    return tuple(_rule(i, entry) for i, entry in enumerate(raw))


def _rule(i: int, entry: Any) -> IgnoreRule:
    where = f"spec.ignoreDifferences[{i}]"
    if not isinstance(entry, dict):
        raise IgnoreDifferencesError(f"{where} must be a mapping")
    for name, instead in REFUSED_FIELDS.items():
        if entry.get(name):
            raise IgnoreDifferencesError(f"{where}.{name}: labkit's agent does not support it", hint=instead)
    if unknown := sorted(set(entry) - _KNOWN_FIELDS):
        raise IgnoreDifferencesError(
            f"{where}: unknown field(s) {unknown}", hint="see Argo CD's ignoreDifferences"
        )
    if not entry.get("kind"):
        raise IgnoreDifferencesError(f"{where}.kind is missing", hint='name the kind, or "*" for every kind')
    pointers = entry.get("jsonPointers") or []
    if not isinstance(pointers, list) or not pointers:
        raise IgnoreDifferencesError(
            f"{where}.jsonPointers must list at least one pointer, e.g. /spec/replicas"
        )
    for pointer in pointers:
        tokens(str(pointer), where)
    return IgnoreRule(
        kind=str(entry["kind"]),
        group=str(entry.get("group") or ""),
        name=str(entry.get("name") or ""),
        namespace=str(entry.get("namespace") or ""),
        json_pointers=tuple(str(p) for p in pointers),
    )


def tokens(pointer: str, where: str = "jsonPointers") -> list[str]:
    """The reference tokens of an RFC 6901 pointer: ``/a~1b/0`` -> ``["a/b", "0"]``."""
    if not pointer.startswith("/"):
        raise IgnoreDifferencesError(
            f"{where}: {pointer!r} is not a JSON pointer", hint="start it with a slash: /spec/replicas"
        )
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def pointers_for(rules: Sequence[IgnoreRule], key: ResourceKey) -> tuple[str, ...]:
    """The pointers of every rule that matches the object ``key``, in rule order."""
    return tuple(p for rule in rules if rule.matches(key) for p in rule.json_pointers)


def _child(node: Any, token: str) -> tuple[bool, Any]:
    if isinstance(node, dict):
        return token in node, node.get(token)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return True, node[int(token)]
    return False, None


def lookup(obj: Any, pointer: str) -> tuple[bool, Any]:
    """(found, value) of the field at ``pointer``."""
    node = obj
    for token in tokens(pointer):
        found, node = _child(node, token)
        if not found:
            return False, None
    return True, node


def _remove(obj: Any, pointer: str) -> None:
    *parents, last = tokens(pointer)
    node = obj
    for token in parents:
        found, node = _child(node, token)
        if not found:
            return
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node.pop(int(last))


def without(obj: Manifest | None, pointers: Sequence[str]) -> Manifest | None:
    """A deep copy of ``obj`` without the fields at ``pointers`` (``obj`` itself when there are none)."""
    if obj is None or not pointers:
        return obj
    out = copy.deepcopy(obj)
    for pointer in pointers:
        _remove(out, pointer)
    return out


def respect(desired: Manifest, live: Manifest | None, pointers: Sequence[str]) -> Manifest:
    """``desired`` with the live value of each ignored field (left out where live has none).

    A new object (``live`` None) is applied as Git has it. Pointers into
    ``status`` are skipped: status belongs to the object's own controller.
    """
    if live is None or not pointers:
        return desired
    out = copy.deepcopy(desired)
    for pointer in pointers:
        path = tokens(pointer)
        if path[0] == "status":
            continue
        found, value = lookup(live, pointer)
        if not (found and _put(out, path, copy.deepcopy(value))):
            _remove(out, pointer)
    return out


def _put(obj: Any, path: list[str], value: Any) -> bool:
    """Set ``value`` at ``path``, making missing maps on the way; False where a list item is missing."""
    node = obj
    for token in path[:-1]:
        found, child = _child(node, token)
        if not found and isinstance(node, dict):
            child = node[token] = {}
        elif not found:
            return False
        node = child
    if isinstance(node, dict):
        node[path[-1]] = value
        return True
    if isinstance(node, list) and path[-1].isdigit() and int(path[-1]) < len(node):
        node[int(path[-1])] = value
        return True
    return False


def respect_pairs(pairs: Sequence[Pair], rules: Sequence[IgnoreRule]) -> list[Pair]:
    """The sync's pairs with :func:`respect` applied to each desired object the rules match."""
    return [
        replace(p, desired=respect(p.desired, p.live, pointers_for(rules, p.key)))
        if p.desired is not None
        else p
        for p in pairs
    ]
