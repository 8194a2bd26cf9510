"""`labkit repo ...`: the lab's Git server from the terminal — audit trail, revert, scale, URL.

Registered on the root group by ``labkit.cli``. Every command goes through
:class:`labkit.git.LabRepo` on the lab's bare repository and the learner's
working clone under ``Settings().state_dir/repos``; a change reaches the
cluster only because the controller (or the push pipeline) picks up the push.
"""

from __future__ import annotations

import click

from labkit.cli.base import friendly_errors, main
from labkit.errors import LabStateError
from labkit.git import CommitInfo, LabRepo
from labkit.settings import Settings


def lab_repo(settings: Settings | None = None) -> LabRepo:
    """The lab's repositories, or LabStateError when no lab has created them."""
    repos = (settings or Settings()).state_dir / "repos"
    bare, work = repos / "gitops.git", repos / "gitops-work"
    if not (bare / "HEAD").is_file():
        raise LabStateError(f"the lab has no Git server at {bare}", hint="run `labkit up` first")
    return LabRepo(bare, work)


def format_commit(commit: CommitInfo) -> str:
    """One line of the audit trail: short sha, time, author, subject."""
    when = commit.time.strftime("%Y-%m-%d %H:%M:%S")
    return f"{commit.short}  {when}  {commit.author:<16}  {commit.subject}"


def _pushed(repo: LabRepo, sha: str) -> None:
    commit = repo.commit_info(sha)
    click.echo(f"pushed {commit.short} {commit.subject!r} to {repo.url}")
    click.echo("next: the controller applies it on its next refresh; watch with `labkit timeline --last 10`")


@main.group(help="The lab's Git repository: history, revert, edits, URL.")
def repo() -> None:
    pass


@repo.command("log", help="Show the audit trail: who changed what, when (newest first).")
@click.option("-n", "--max-count", "count", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--path", default=None, help="Only commits that touched this path, e.g. apps/demo.")
@friendly_errors
def log(count: int, path: str | None) -> None:
    commits = lab_repo().log(count, path)
    if not commits:
        click.echo("no commits" + (f" touch {path}" if path else ""))
    for commit in commits:
        click.echo(format_commit(commit))


@repo.command("revert", help="Undo one commit with a new commit (git revert) and push it.")
@click.argument("sha")
@friendly_errors
def revert(sha: str) -> None:
    lab = lab_repo()
    _pushed(lab, lab.revert(sha))


@repo.command("set-replicas", help="Set a Deployment's replicas in Git, commit and push.")
@click.argument("path")
@click.argument("name")
@click.argument("replicas", type=click.IntRange(min=0))
@friendly_errors
def set_replicas(path: str, name: str, replicas: int) -> None:
    lab = lab_repo()
    _pushed(lab, lab.set_replicas(path, name, replicas))


@repo.command("url", help="Print the URL of the lab's Git server (for spec.source.repoURL).")
@click.option("--http", "over_http", is_flag=True, help="The URL over HTTP, as Argo CD and Flux read it.")
@friendly_errors
def url(over_http: bool) -> None:
    repo = lab_repo()
    click.echo(repo.http_url if over_http else repo.url)
