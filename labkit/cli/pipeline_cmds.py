"""`labkit pipeline ...`: the CI-style push pipeline — switch it on, read its runs and logs.

Registered on the root group by ``labkit.cli``. Every command goes through
:class:`labkit.push.PushPipeline` on ``Settings().state_dir``; once enabled,
the Git server's post-receive hook runs the pipeline on every push to main.
"""

from __future__ import annotations

from pathlib import Path

import click

from labkit.cli.base import friendly_errors, main
from labkit.cli.drift_cmds import lab_credentials
from labkit.errors import LabStateError
from labkit.git import LabRepo
from labkit.push import PipelineRun, PushPipeline, Target
from labkit.settings import Settings


def _pipeline() -> PushPipeline:
    return PushPipeline(Settings().state_dir)


def format_run(run: PipelineRun) -> str:
    """One line per run: start time, short sha, outcome, duration, objects or the error."""
    when = run.started_at.astimezone().strftime("%H:%M:%S")
    if run.finished_at is None:
        return f"{when}  {run.revision[:7]}  running   -        see {run.log_path}"
    outcome = "applied" if run.ok else "FAILED"
    detail = f"{run.objects} objects" if run.ok else (run.error or "")
    return f"{when}  {run.revision[:7]}  {outcome:<8}  {run.duration_s or 0:5.2f}s  {detail}"


@main.group(help="The push pipeline: CI applies each commit with cluster credentials (the contrast to pull).")
def pipeline() -> None:
    pass


@pipeline.command("enable", help="Run the pipeline on every push to main, applying PATH to NAMESPACE.")
@click.option("--path", "paths", multiple=True, required=True, help="Directory in the repo, e.g. apps/demo.")
@click.option(
    "--namespace", "namespaces", multiple=True, required=True, help="Namespace to apply to, one per --path."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Credentials the pipeline holds (default: the lab's admin kubeconfig).",
)
@friendly_errors
def enable(paths: tuple[str, ...], namespaces: tuple[str, ...], kubeconfig: Path | None) -> None:
    if len(paths) != len(namespaces):
        raise click.UsageError("give one --namespace for each --path")
    targets = [Target(p, ns) for p, ns in zip(paths, namespaces, strict=True)]
    context = None
    if kubeconfig is None:
        kubeconfig, context = lab_credentials(Settings().state_dir)
    _pipeline().enable(targets, kubeconfig, context)
    for t in targets:
        click.echo(f"push pipeline enabled: {t.path} -> namespace {t.namespace}")
    click.echo(f"it holds the cluster credentials {kubeconfig}; the pull agent needs none from CI")
    click.echo("next: push a commit, then `labkit pipeline runs` and `labkit pipeline logs`")


@pipeline.command("disable", help="Stop running the pipeline on pushes (logs are kept).")
@friendly_errors
def disable() -> None:
    _pipeline().disable()
    click.echo("push pipeline disabled; pushes now reach the cluster only through the pull agent")


@pipeline.command("runs", help="Every run: when, which commit, applied or failed, how long.")
@friendly_errors
def runs() -> None:
    pipe = _pipeline()
    found = pipe.runs()
    if not found:
        state = (
            "enabled" if pipe.enabled else "disabled (`labkit pipeline enable --path ... --namespace ...`)"
        )
        click.echo(f"no pipeline runs yet; the pipeline is {state}", err=True)
    for run in found:
        click.echo(format_run(run))


@pipeline.command("logs", help="The log of the last run (or of the last N runs).")
@click.option("-n", "count", type=click.IntRange(min=1), default=1, show_default=True)
@friendly_errors
def logs(count: int) -> None:
    text = _pipeline().logs(count)
    if not text:
        click.echo("no pipeline runs yet", err=True)
    click.echo(text, nl=False)


@pipeline.command(
    "run", help="Run the pipeline by hand for REVISION (default HEAD), like CI's re-run button."
)
@click.argument("revision", default="HEAD")
@friendly_errors
def run_(revision: str) -> None:
    bare = Settings().state_dir / "repos" / "gitops.git"
    if not (bare / "HEAD").is_file():
        raise LabStateError(f"the lab has no Git server at {bare}", hint="run `labkit up` first")
    result = _pipeline().run(LabRepo(bare, bare).resolve(revision))
    click.echo(format_run(result))
    click.echo(f"log: {result.log_path}")
    if not result.ok:
        raise SystemExit(1)
