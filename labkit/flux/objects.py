"""Flux's objects as ``flux get`` shows them and as ``flux reconcile`` pokes them: pure functions.

- :func:`row` / :func:`rows`: one :class:`Row` per GitRepository or
  Kustomization, with the columns of ``flux get sources git`` and ``flux get
  kustomizations`` (name, revision, suspended, ready, message) plus the Ready
  condition's reason. The revision is the fetched artifact's for a
  GitRepository and the last applied one for a Kustomization; no Ready
  condition yet reads ``False``, "waiting to be reconciled", as in the flux CLI.
- :func:`request_patch` and :func:`handled`: ``flux reconcile`` writes the
  time into the ``reconcile.fluxcd.io/requestedAt`` annotation; the controller
  copies it to ``status.lastHandledReconcileAt`` when it has reconciled.
- :func:`success_message`: what ``flux reconcile`` prints when it is done.

Used by :class:`labkit.flux.engine.Flux` and ``labkit flux get|reconcile``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Manifest = dict[str, Any]

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
"""The annotation ``flux reconcile`` sets (fluxcd/pkg/apis/meta ReconcileRequestAnnotation)."""

KINDS = {"gitrepository": (SOURCE_API, "GitRepository"), "kustomization": (KUSTOMIZE_API, "Kustomization")}
"""What ``get`` lists and ``reconcile`` accepts, by lower-case name."""
ALL_KINDS = (
    (KUSTOMIZE_API, "Kustomization"),
    (SOURCE_API, "GitRepository"),
    (SOURCE_API, "OCIRepository"),
    (SOURCE_API, "Bucket"),
    (SOURCE_API, "HelmChart"),
    (SOURCE_API, "HelmRepository"),
    (SOURCE_API, "ExternalArtifact"),
)
"""Every kind of the two controllers' CRDs, in the order a teardown deletes them (appliers first)."""

_HEX = re.compile(r"\b[a-f0-9]{40,128}\b")


@dataclass(frozen=True)
class Row:
    """One line of ``flux get``."""

    kind: str
    namespace: str
    name: str
    revision: str
    """GitRepository: ``status.artifact.revision``; Kustomization: ``status.lastAppliedRevision``."""
    suspended: bool
    ready: str
    """The Ready condition's status: "True", "False" or "Unknown" (reconciling)."""
    reason: str
    """The Ready condition's reason, e.g. "Succeeded", "ArtifactFailed", "GitOperationFailed"."""
    message: str


def kind_of(name: str) -> tuple[str, str]:
    """(apiVersion, kind) for "gitrepository"/"kustomization" (also "source git", "ks", "GitRepository")."""
    key = {"source git": "gitrepository", "ks": "kustomization"}.get(name.lower(), name.lower())
    if key not in KINDS:
        raise ValueError(f"unknown Flux kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[key]


def ready_condition(obj: Manifest) -> Manifest | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def revision(obj: Manifest) -> str:
    status = obj.get("status") or {}
    if obj.get("kind") == "GitRepository":
        return str((status.get("artifact") or {}).get("revision") or "")
    return str(status.get("lastAppliedRevision") or "")


def row(obj: Manifest) -> Row:
    meta = obj.get("metadata") or {}
    ready = ready_condition(obj)
    return Row(
        kind=str(obj.get("kind")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name")),
        revision=revision(obj),
        suspended=bool((obj.get("spec") or {}).get("suspend")),
        ready=str(ready.get("status")) if ready else "False",
        reason=str(ready.get("reason") or "") if ready else "",
        message=str(ready.get("message") or "") if ready else "waiting to be reconciled",
    )


def rows(objects: Iterable[Manifest]) -> list[Row]:
    """Rows sorted as ``flux get all -A`` lists them: sources first, then by namespace and name."""
    order = {"GitRepository": 0, "Kustomization": 1}
    made = [row(o) for o in objects]
    return sorted(made, key=lambda r: (order.get(r.kind, 2), r.namespace, r.name))


def truncate_hex(text: str) -> str:
    """Shorten every SHA in ``text`` to 8 characters, as the flux CLI prints revisions."""
    return _HEX.sub(lambda m: m.group(0)[:8], text)


def table(found: Iterable[Row]) -> list[list[str]]:
    """``flux get all -A``'s table: a header, then one line per row."""
    lines = [["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]]
    for r in found:
        lines.append(
            [
                r.namespace,
                f"{r.kind.lower()}/{r.name}",
                truncate_hex(r.revision),
                str(r.suspended),
                r.ready,
                truncate_hex(r.message),
            ]
        )
    return lines


def request_token(now: datetime | None = None) -> str:
    """The annotation value ``flux reconcile`` writes: the time, RFC 3339 with nanoseconds' precision."""
    return (now or datetime.now(UTC)).isoformat(timespec="microseconds").replace("+00:00", "Z")


def request_patch(token: str) -> Manifest:
    """The merge patch that asks for a reconcile now."""
    return {"metadata": {"annotations": {REQUESTED_AT: token}}}


def handled(obj: Manifest | None, token: str) -> bool:
    """True once the controller has fully reconciled the request ``token``.

    ``status.lastHandledReconcileAt`` alone is not enough: a controller's first
    pass over a new object only adds its finalizer, and it writes the token then
    too. So also wait, as ``flux reconcile`` does, for a settled Ready condition
    (True or False) about the current generation (the condition's own
    ``observedGeneration``; Flux updates ``status.observedGeneration`` only on success).
    """
    if obj is None:
        return False
    status = obj.get("status") or {}
    ready = ready_condition(obj)
    if status.get("lastHandledReconcileAt") != token or ready is None:
        return False
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    generation = (obj.get("metadata") or {}).get("generation")
    return ready.get("status") in ("True", "False") and observed == generation


def success_message(r: Row) -> str:
    """What ``flux reconcile`` prints on success."""
    verb = "fetched" if r.kind == "GitRepository" else "applied"
    return f"{verb} revision {r.revision}"
