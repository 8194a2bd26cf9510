"""`labkit drift ...`: change the lab cluster behind Git's back, with the real kubectl.

Registered on the root group by ``labkit.cli``. Each command runs one
:class:`labkit.drift.DriftInjector` method against the lab's cluster (the
kubeconfig and context in ``lab.json``, else ``Settings().state_dir/kubeconfig``),
echoes the kubectl command it ran and records a ``drift_injected`` event in
``timeline.jsonl``; then it says what the pull agent should do about it.
"""

from __future__ import annotations

from pathlib import Path

import click

from labkit.cli.base import friendly_errors, main
from labkit.cluster.labstate import read_record
from labkit.drift import DEFAULTS, KINDS, Drift, DriftInjector
from labkit.errors import LabStateError
from labkit.events import Timeline
from labkit.settings import Settings

_APP = click.option("--app", default=None, help="The Application that owns the object (for the timeline).")


def lab_credentials(state_dir: Path) -> tuple[Path, str | None]:
    """The lab's kubeconfig and context: from ``lab.json`` if there is one, else ``state_dir/kubeconfig``."""
    record = read_record(state_dir)
    kubeconfig = Path(record.kubeconfig) if record else state_dir / "kubeconfig"
    if not kubeconfig.exists():
        raise LabStateError(f"no lab kubeconfig at {kubeconfig}", hint="run `labkit up` first")
    return kubeconfig, (record.context or None) if record else None


def _injector() -> DriftInjector:
    state_dir = Settings().state_dir
    kubeconfig, context = lab_credentials(state_dir)
    timeline = Timeline(state_dir / "timeline.jsonl")
    return DriftInjector(kubeconfig, timeline, echo=click.echo, context=context)


def _done(drift: Drift) -> None:
    watch = f"`labkit app get {drift.app or 'APP'}`"
    if drift.declared:
        click.echo(
            f"next: Git declares this, so the app turns OutOfSync (self-heal puts it back); see {watch}"
        )
    else:
        click.echo(
            f"next: Git does not declare this, so the app stays Synced and nothing undoes it; see {watch}"
        )


@main.group(help="Make drift: change the cluster by hand with kubectl, as in an incident.")
def drift() -> None:
    pass


@drift.command("kinds", help="List the kinds of drift and the arguments the dashboard uses for the demo app.")
def kinds() -> None:
    for kind in KINDS:
        args = " ".join(f"{k}={v}" for k, v in DEFAULTS[kind].items())
        click.echo(f"{kind:<20}  {args}")


@drift.command("scale", help="kubectl scale: change replicas, a field Git declares.")
@click.argument("namespace")
@click.argument("deployment")
@click.argument("replicas", type=click.IntRange(min=0))
@_APP
@friendly_errors
def scale(namespace: str, deployment: str, replicas: int, app: str | None) -> None:
    _done(_injector().scale(namespace, deployment, replicas, app=app))


@drift.command("edit", help="kubectl edit, run for you: set FIELD (e.g. spec.replicas, data.KEY) to VALUE.")
@click.argument("namespace")
@click.argument("kind")
@click.argument("name")
@click.argument("field")
@click.argument("value")
@_APP
@friendly_errors
def edit(namespace: str, kind: str, name: str, field: str, value: str, app: str | None) -> None:
    _done(_injector().edit(namespace, kind, name, field, value, app=app))


@drift.command("set-image", help="kubectl set image: hotfix a container image in the cluster.")
@click.argument("namespace")
@click.argument("deployment")
@click.argument("container")
@click.argument("image")
@_APP
@friendly_errors
def set_image(namespace: str, deployment: str, container: str, image: str, app: str | None) -> None:
    _done(_injector().set_image(namespace, deployment, container, image, app=app))


@drift.command("label", help="kubectl label: add a label Git does not declare.")
@click.argument("namespace")
@click.argument("kind")
@click.argument("name")
@click.argument("key")
@click.argument("value")
@_APP
@friendly_errors
def label(namespace: str, kind: str, name: str, key: str, value: str, app: str | None) -> None:
    _done(_injector().add_label(namespace, kind, name, key, value, app=app))


@drift.command("set-env", help="kubectl set env: add an environment variable Git does not declare.")
@click.argument("namespace")
@click.argument("deployment")
@click.argument("container")
@click.argument("name")
@click.argument("value")
@_APP
@friendly_errors
def set_env(namespace: str, deployment: str, container: str, name: str, value: str, app: str | None) -> None:
    _done(_injector().set_env(namespace, deployment, container, name, value, app=app))


@drift.command("service-type", help="kubectl patch: change a Service type Git leaves at its default.")
@click.argument("namespace")
@click.argument("name")
@click.argument("type_", metavar="TYPE", type=click.Choice(["ClusterIP", "NodePort", "LoadBalancer"]))
@_APP
@friendly_errors
def service_type(namespace: str, name: str, type_: str, app: str | None) -> None:
    _done(_injector().patch_service_type(namespace, name, type_, app=app))


@drift.command("delete", help="kubectl delete: remove an object Git declares.")
@click.argument("namespace")
@click.argument("kind")
@click.argument("name")
@_APP
@friendly_errors
def delete(namespace: str, kind: str, name: str, app: str | None) -> None:
    _done(_injector().delete(namespace, kind, name, app=app))


@drift.command("untracked", help="kubectl create: add an object Git knows nothing about (never pruned).")
@click.argument("namespace")
@click.option("--kind", default="ConfigMap", show_default=True, help="ConfigMap, Secret or Deployment.")
@click.option("--name", default="hand-made", show_default=True)
@_APP
@friendly_errors
def untracked(namespace: str, kind: str, name: str, app: str | None) -> None:
    _injector().add_untracked(namespace, kind, name, app=app)
    click.echo(
        "next: no Application tracks it, so no sync or prune ever touches it; "
        "`git log` has no record of it either"
    )
