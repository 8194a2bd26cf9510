"""`labkit app ...` and `labkit controller run`: Argo CD's `argocd app` verbs, for the lab.

Every command writes to the Application resource (spec, refresh annotation,
``operation``) and lets the controller act, exactly as the widgets do.
``get`` and ``list`` also read the agent's heartbeat Lease: while the agent is
down they say so, since when, and that sync and health are as of
``status.reconciledAt`` — never a bare "Synced".
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from labkit.apps import AppClient, AppSummary
from labkit.cli.base import friendly_errors, main
from labkit.errors import LabStateError
from labkit.gitops.heartbeat import AgentState, parse_time
from labkit.gitops.helm import source_from_flags
from labkit.kube import Kube
from labkit.settings import Settings


def _client() -> AppClient:
    kubeconfig = Settings().state_dir / "kubeconfig"
    if not kubeconfig.exists():
        raise LabStateError("no lab is running", hint="run `labkit up` first")
    return AppClient(Kube(kubeconfig))


def _repo_url() -> str:
    from labkit.git import repo_url

    return repo_url(Settings().state_dir / "repos" / "gitops.git")


@main.group(help="Create, inspect and sync Applications (like `argocd app`).")
def app() -> None:
    pass


@app.command("create", help="Create (or update) an Application for a path of the lab's Git repository.")
@click.argument("name")
@click.option("--path", "path", required=True, help="Directory in the repo, e.g. apps/demo.")
@click.option("--namespace", "dest_namespace", default=None, help="Destination namespace (default: NAME).")
@click.option("--revision", default="HEAD", show_default=True, help="Branch, tag or commit to follow.")
@click.option("--auto-sync/--no-auto-sync", default=False, help="Sync automatically when Git changes.")
@click.option("--prune/--no-prune", default=False, help="Let auto-sync delete objects removed from Git.")
@click.option(
    "--self-heal/--no-self-heal", default=False, help="Let auto-sync undo changes made in the cluster."
)
@click.option(
    "--create-namespace/--no-create-namespace", default=True, help="Sync option CreateNamespace=true."
)
@click.option("--repo", "repo", default=None, help="Repository URL (default: the lab's Git server).")
@click.option(
    "--helm-values",
    multiple=True,
    metavar="FILE",
    help="Helm value file, relative to the chart (repeatable).",
)
@click.option("--helm-set", multiple=True, metavar="K=V", help="Helm parameter, like --set (repeatable).")
@click.option(
    "--helm-set-string", multiple=True, metavar="K=V", help="Helm parameter kept a string (repeatable)."
)
@click.option("--helm-release-name", default=None, help="Helm release name (default: NAME).")
@friendly_errors
def create(
    name: str,
    path: str,
    dest_namespace: str | None,
    revision: str,
    auto_sync: bool,
    prune: bool,
    self_heal: bool,
    create_namespace: bool,
    repo: str | None,
    helm_values: tuple[str, ...],
    helm_set: tuple[str, ...],
    helm_set_string: tuple[str, ...],
    helm_release_name: str | None,
) -> None:
    options = ("CreateNamespace=true",) if create_namespace else ()
    _client().create(
        name,
        repo or _repo_url(),
        path,
        dest_namespace or name,
        helm=source_from_flags(helm_values, helm_set, helm_set_string, helm_release_name),
        target_revision=revision,
        auto_sync=auto_sync,
        prune=prune,
        self_heal=self_heal,
        sync_options=options,
    )
    click.echo(f"application '{name}' created")
    click.echo(f"next: labkit app get {name}   (or: kubectl get applications.labkit.dev -n labkit)")


@app.command("list", help="All Applications with their sync and health status.")
@friendly_errors
def list_apps() -> None:
    client = _client()
    agent, summaries = client.agent(), client.list()
    stale = "" if agent.up else " (stale)"
    rows = [
        [
            s.name,
            s.sync + stale,
            s.health + stale,
            s.revision,
            _age(s.reconciled_at, agent.checked_at),
            _yn(s.auto_sync),
            _yn(s.self_heal),
            s.path,
        ]
        for s in summaries
    ]
    if not agent.up:
        click.secho(_down_warning(agent, "SYNC and HEALTH are as of AS OF (status.reconciledAt)"), fg="red")
    click.echo(_table(["NAME", "SYNC", "HEALTH", "REV", "AS OF", "AUTO", "HEAL", "PATH"], rows))


@app.command("get", help="One Application: status, resources, last operation, conditions.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the whole object as JSON.")
@friendly_errors
def get(name: str, as_json: bool) -> None:
    client = _client()
    obj = client.get(name)
    if as_json:
        click.echo(json.dumps(obj, indent=2, sort_keys=True))
        return
    s, status = AppSummary.from_manifest(obj), obj.get("status") or {}
    agent = client.agent()
    as_of = "" if agent.up else f"  (as of {s.reconciled_at or 'never'}, status.reconciledAt)"
    if not agent.up:
        click.secho(_down_warning(agent, "sync and health below are as of status.reconciledAt"), fg="red")
    click.echo(f"Name:      {s.name}\nPath:      {s.path}\nAgent:     {agent.line()}")
    click.echo(f"Sync:      {s.sync} @ {s.revision}{as_of}")
    health = "  ".join(filter(None, [s.health, (status.get("health") or {}).get("message", "")]))
    click.echo(f"Health:    {health}{as_of}")
    click.echo(f"Auto-sync: {_yn(s.auto_sync)}   self-heal: {_yn(s.self_heal)}")
    for c in status.get("conditions") or []:
        click.secho(f"Condition: {c['type']}: {c['message']}", fg="yellow")
    op = status.get("operationState") or {}
    if op:
        click.echo(f"Operation: {op.get('phase')}: {op.get('message', '')}")
    rows = [
        [r["kind"], r.get("namespace", ""), r["name"], r["status"], (r.get("health") or {}).get("status", "")]
        for r in status.get("resources") or []
    ]
    click.echo("\n" + _table(["KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"], rows))


@app.command("diff", help="What differs between Git and the cluster, per resource.")
@click.argument("name")
@click.option(
    "--mode",
    type=click.Choice(["server-side", "three-way"]),
    default=None,
    help="Diff mode (default: the Application's spec.diffMode).",
)
@friendly_errors
def diff(name: str, mode: str | None) -> None:
    comparison = _client().diff(name, mode)
    changed = [r for r in comparison.resources if r.diff.text]
    for r in changed:
        click.secho(f"===== {r.key} ({r.status.value})", bold=True)
        click.echo(r.diff.text)
    if not changed:
        click.echo(f"no differences: the cluster equals Git at {comparison.revision[:7]}")


@app.command("sync", help="Ask the controller to sync now (writes an operation to the Application).")
@click.argument("name")
@click.option("--revision", default=None, help="Sync to this revision instead of the target.")
@click.option("--prune", is_flag=True, help="Also delete tracked objects that are no longer in Git.")
@click.option("--dry-run", is_flag=True, help="Validate everything on the server; change nothing.")
@click.option("--wait", is_flag=True, help="Wait until the app is Synced.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait with --wait.")
@friendly_errors
def sync(name: str, revision: str | None, prune: bool, dry_run: bool, wait: bool, timeout: float) -> None:
    client = _client()
    client.sync(name, revision=revision, prune=prune, dry_run=dry_run)
    click.echo(f"sync of '{name}' requested")
    if wait:
        obj = client.wait(name, sync=None if revision else "Synced", timeout_s=timeout)
        op = (obj.get("status") or {}).get("operationState") or {}
        click.echo(f"{op.get('phase', '?')}: {op.get('message', '')}")


@app.command("refresh", help="Ask the controller to look at Git now (annotation labkit.dev/refresh).")
@click.argument("name")
@click.option("--hard", is_flag=True, help="Also forget rendered manifests cached for this commit.")
@friendly_errors
def refresh(name: str, hard: bool) -> None:
    _client().refresh(name, hard)
    click.echo(f"refresh of '{name}' requested")


@app.command("set", help="Change the sync policy.")
@click.argument("name")
@click.option("--auto-sync/--no-auto-sync", default=None)
@click.option("--self-heal/--no-self-heal", default=None)
@click.option("--prune/--no-prune", default=None)
@friendly_errors
def set_policy(name: str, auto_sync: bool | None, self_heal: bool | None, prune: bool | None) -> None:
    _client().set_policy(name, auto_sync=auto_sync, self_heal=self_heal, prune=prune)
    click.echo(f"application '{name}' updated")


@app.command("history", help="Deployed revisions, newest last (ids for rollback).")
@click.argument("name")
@friendly_errors
def history(name: str) -> None:
    status = _client().get(name).get("status") or {}
    click.echo(f"{'ID':<4} {'DEPLOYED AT':<22} {'REVISION':<10} BY")
    for h in status.get("history") or []:
        by = (h.get("initiatedBy") or {}).get("username", "")
        click.echo(f"{h['id']:<4} {h.get('deployedAt', ''):<22} {str(h['revision'])[:7]:<10} {by}")


@app.command("rollback", help="Sync to the revision of a history entry (auto-sync must be off).")
@click.argument("name")
@click.argument("history_id", type=int)
@click.option("--disable-auto-sync", is_flag=True, help="Turn auto-sync off first, as Argo CD requires.")
@click.option("--wait", is_flag=True, help="Wait until the rollback sync finished.")
@friendly_errors
def rollback(name: str, history_id: int, disable_auto_sync: bool, wait: bool) -> None:
    client = _client()
    revision = client.rollback(name, history_id, disable_auto_sync=disable_auto_sync)
    click.echo(f"rollback of '{name}' to {revision[:7]} requested (auto-sync is now off)")
    if wait:
        obj = client.wait(name, sync=None, timeout_s=60)
        op = (obj.get("status") or {}).get("operationState") or {}
        click.echo(f"{op.get('phase', '?')}: {op.get('message', '')}")
    click.echo(f"next: the app is OutOfSync against HEAD; see `labkit app get {name}`")


@app.command("delete", help="Delete an Application (with --cascade, its resources too).")
@click.argument("name")
@click.option("--cascade", is_flag=True, help="Let the controller delete the app's resources first.")
@friendly_errors
def delete(name: str, cascade: bool) -> None:
    _client().delete(name, cascade)
    click.echo(f"application '{name}' deleted" + (" (resources are being pruned)" if cascade else ""))


@main.group(help="The pull agent (normally started by `labkit up`).")
def controller() -> None:
    pass


@controller.command("run", help="Run the controller in the foreground.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
@friendly_errors
def controller_run(state_dir: Path | None) -> None:
    from labkit import agent

    agent.run(state_dir or Settings().state_dir)


def _down_warning(agent: AgentState, what: str) -> str:
    return (
        f"labkit's agent is {agent.line()}: nobody reconciles now; {what}, not now. "
        "See `labkit status`; `labkit up` restarts it."
    )


def _age(stamp: str, now: float | None = None) -> str:
    """How long ago a Kubernetes timestamp was, as kubectl prints ages (12s, 3m, 2h, 4d); "-" if none."""
    at = parse_time(stamp)
    if at is None:
        return "-"
    seconds = max(0, int((now if now is not None else time.time()) - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns as wide as their longest cell, two spaces apart, like kubectl's tables (rich lays them out)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="", show_edge=False)
    for row in rows:
        table.add_row(*row)
    console = Console(width=100_000, no_color=True, highlight=False, markup=False, emoji=False)
    with console.capture() as out:
        console.print(table, crop=False, overflow="ignore")
    return "\n".join(line.rstrip() for line in out.get().splitlines())
