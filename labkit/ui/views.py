"""What the dashboard shows about one Application, as data and as HTML: pure functions, no widgets.

:class:`labkit.ui.panel.AppPanel` calls these on every watch event, so they
are cheap and thread-agnostic; tests check them without ipywidgets.
:class:`AppView` reads an Application the way ``argocd app get`` prints it
(sync, health, revision, resources, last operation, conditions, history);
:func:`diff_text` formats ``AppClient.diff``; :func:`git_deployment` reads
what Git (the learner's clone) declares for the Deployment the sliders edit.
While labkit's agent is down (its heartbeat Lease, :class:`AgentState`),
:func:`header_html` shows sync and health as of ``status.reconciledAt`` and
:func:`agent_html` says since when — the dashboard never shows a bare "Synced"
that nobody keeps true.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from labkit.gitops.compare import Comparison
    from labkit.gitops.heartbeat import AgentState

Manifest = dict[str, Any]

COLORS = {
    "Synced": "#2e7d32",
    "OutOfSync": "#ef6c00",
    "Healthy": "#2e7d32",
    "Progressing": "#1565c0",
    "Suspended": "#6a1b9a",
    "Degraded": "#c62828",
    "Missing": "#757575",
    "Unknown": "#757575",
    "Succeeded": "#2e7d32",
    "Running": "#1565c0",
    "Failed": "#c62828",
    "Error": "#c62828",
}


@dataclass(frozen=True)
class ResourceRow:
    """One entry of ``status.resources``."""

    kind: str
    namespace: str
    name: str
    sync: str
    health: str
    message: str


@dataclass(frozen=True)
class HistoryRow:
    """One entry of ``status.history``: a successful sync that a rollback can go back to."""

    id: int
    revision: str
    deployed_at: str


@dataclass(frozen=True)
class AppView:
    """An Application as the dashboard shows it."""

    name: str
    sync: str
    health: str
    health_message: str
    revision: str
    path: str
    dest_namespace: str
    auto_sync: bool
    self_heal: bool
    prune: bool
    operation_requested: bool
    operation: Manifest
    conditions: tuple[tuple[str, str], ...]
    resources: tuple[ResourceRow, ...]
    history: tuple[HistoryRow, ...]
    reconciled_at: str = ""
    """When the controller last wrote this status (``status.reconciledAt``)."""

    @classmethod
    def from_manifest(cls, obj: Manifest) -> AppView:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        automated = (spec.get("syncPolicy") or {}).get("automated")
        auto = automated or {}
        health = status.get("health") or {}
        return cls(
            name=str((obj.get("metadata") or {}).get("name", "")),
            sync=str((status.get("sync") or {}).get("status", "Unknown")),
            health=str(health.get("status", "Unknown")),
            health_message=str(health.get("message", "")),
            revision=str((status.get("sync") or {}).get("revision", "")),
            path=str((spec.get("source") or {}).get("path", "")),
            dest_namespace=str((spec.get("destination") or {}).get("namespace", "default")),
            # As AppSpec reads it: an `automated` block means on, unless it says `enabled: false`.
            auto_sync=automated is not None and auto.get("enabled", True) is not False,
            self_heal=bool(auto.get("selfHeal")),
            prune=bool(auto.get("prune")),
            operation_requested=obj.get("operation") is not None,
            operation=dict(status.get("operationState") or {}),
            conditions=tuple(
                (str(c.get("type")), str(c.get("message"))) for c in status.get("conditions") or []
            ),
            resources=tuple(_resource_row(r) for r in status.get("resources") or []),
            history=tuple(
                HistoryRow(int(h.get("id", 0)), str(h.get("revision", "")), str(h.get("deployedAt", "")))
                for h in status.get("history") or []
            ),
            reconciled_at=str(status.get("reconciledAt") or ""),
        )


def _resource_row(r: Manifest) -> ResourceRow:
    health = r.get("health") or {}
    message = str(r.get("message") or health.get("message") or "")
    if r.get("requiresPruning"):
        message = ("not in Git any more: prune to delete. " + message).strip()
    return ResourceRow(
        str(r.get("kind", "")),
        str(r.get("namespace", "")),
        str(r.get("name", "")),
        str(r.get("status", "Unknown")),
        str(health.get("status", "")),
        message,
    )


def _badge(value: str) -> str:
    color = COLORS.get(value, "#424242")
    return f'<b style="color:{color}">{html.escape(value or "-")}</b>'


def header_html(view: AppView, agent: AgentState | None = None) -> str:
    """Name, sync, health, revision and where the app comes from and goes to.

    With ``agent`` down, sync and health read "as of" ``status.reconciledAt``.
    """
    rev = html.escape(view.revision[:7] or "not compared yet")
    stale = ""
    if agent is not None and not agent.up:
        when = html.escape(view.reconciled_at or "never")
        stale = f' <small style="color:#c62828">(as of {when}: the agent is down)</small>'
    return (
        f'<span style="font-size:1.15em"><b>{html.escape(view.name)}</b></span> &nbsp; '
        f"sync {_badge(view.sync)} &middot; health {_badge(view.health)}{stale}"
        f" &middot; revision <code>{rev}</code>"
        f" &middot; <code>{html.escape(view.path)}</code> &rarr; namespace "
        f"<code>{html.escape(view.dest_namespace)}</code>"
    )


def agent_html(agent: AgentState) -> str:
    """A red line while labkit's agent is down (since when, why); empty while it is up."""
    if agent.up:
        return ""
    return (
        f'<div style="color:#c62828"><b>labkit\'s agent is {html.escape(agent.line())}</b>: nobody '
        "reconciles now; each app's sync and health are as of its status.reconciledAt. "
        "<code>labkit status</code> shows why; <code>labkit up</code> restarts it.</div>"
    )


def resources_html(view: AppView) -> str:
    """The per-resource table: kind, namespace/name, sync, health, message."""
    if not view.resources:
        return "<i>no resources yet</i>"
    head = "".join(
        f"<th style='text-align:left;padding:0 8px'>{h}</th>"
        for h in ("kind", "object", "sync", "health", "message")
    )
    rows = "".join(
        "<tr>"
        f"<td style='padding:0 8px'>{html.escape(r.kind)}</td>"
        f"<td style='padding:0 8px'>{html.escape('/'.join(p for p in (r.namespace, r.name) if p))}</td>"
        f"<td style='padding:0 8px'>{_badge(r.sync)}</td>"
        f"<td style='padding:0 8px'>{_badge(r.health) if r.health else ''}</td>"
        f"<td style='padding:0 8px'>{html.escape(r.message)}</td>"
        "</tr>"
        for r in view.resources
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def operation_html(view: AppView) -> str:
    """The last sync operation: phase, message, when and who; or that one is waiting."""
    op = view.operation
    if not op:
        waiting = view.operation_requested
        return "<i>sync requested: waiting for the controller</i>" if waiting else "<i>no sync yet</i>"
    by = (op.get("operation") or {}).get("initiatedBy") or {}
    who = "automated policy" if by.get("automated") else str(by.get("username") or "someone")
    when = " → ".join(str(op[k]) for k in ("startedAt", "finishedAt") if op.get(k))
    return (
        f"last operation {_badge(str(op.get('phase', '')))}: {html.escape(str(op.get('message', '')))}"
        f" <small>({html.escape(when)}, by {html.escape(who)})</small>"
    )


def conditions_html(view: AppView) -> str:
    """Conditions (errors the controller reports), one per line; empty when all is well."""
    if not view.conditions:
        return ""
    lines = "".join(
        f"<li><b>{html.escape(kind)}</b>: {html.escape(message)}</li>" for kind, message in view.conditions
    )
    return f'<ul style="color:#c62828;margin:0">{lines}</ul>'


def history_options(view: AppView) -> list[tuple[str, int]]:
    """(label, id) for the rollback dropdown, newest first."""
    return [(f"#{h.id}  {h.revision[:7]}  deployed {h.deployed_at}", h.id) for h in reversed(view.history)]


def diff_text(comparison: Comparison) -> str:
    """``argocd app diff``-style text: one unified diff per resource that differs."""
    parts = []
    for r in comparison.resources:
        if r.diff.text or not r.diff.synced:
            reason = f" ({r.diff.reason})" if r.diff.reason else ""
            parts.append(f"===== {r.key}{reason} =====\n{r.diff.text or r.message}".rstrip())
    if not parts:
        return f"no differences: the cluster equals Git at {comparison.revision[:7]}"
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class GitDeployment:
    """What Git declares for one Deployment: its replicas and container images."""

    file: str
    replicas: int
    images: tuple[str, ...]


def git_deployment(work: Path, path: str, name: str) -> GitDeployment | None:
    """Deployment ``name`` in the YAML under ``work/path`` (the learner's clone); None when there is none."""
    root = Path(work) / path
    files = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
    for file in files:
        try:
            docs = list(yaml.safe_load_all(file.read_text()))
        except (OSError, yaml.YAMLError):
            continue  # a broken file is the controller's condition to report, not the dashboard's
        for doc in docs:
            meta = (doc or {}).get("metadata") if isinstance(doc, dict) else None
            if doc and doc.get("kind") == "Deployment" and (meta or {}).get("name") == name:
                spec = doc.get("spec") or {}
                containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
                images = tuple(str(c.get("image", "")) for c in containers)
                return GitDeployment(str(file.relative_to(work)), int(spec.get("replicas", 1)), images)
    return None


__all__ = [
    "AppView",
    "agent_html",
    "GitDeployment",
    "HistoryRow",
    "ResourceRow",
    "conditions_html",
    "diff_text",
    "git_deployment",
    "header_html",
    "history_options",
    "operation_html",
    "resources_html",
]
