"""`labkit up|down|status|reset|env|jupyter`: the lab's life cycle from a terminal.

A thin layer over :class:`labkit.Lab`: progress lines with the elapsed time
(and a spinner on a terminal), a closing hint naming the next step, and
errors as one message with exit code 1. ``labkit down`` when nothing is up
prints "nothing was up" and exits 0, so ``make down`` and cleanup scripts can
always call it. ``labkit jupyter`` replaces itself with JupyterLab on
127.0.0.1, with the lab's environment exported, so ``!kubectl`` in a notebook
and JupyterLab's terminals talk to the lab with no setup.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from labkit.cli.base import friendly_errors, main
from labkit.cluster import BACKENDS
from labkit.cluster.base import venv_bin
from labkit.errors import LabStateError
from labkit.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from labkit.lab import Lab


@contextmanager
def _progress(title: str) -> Iterator[Callable[[str], None]]:
    """A progress callback: each message as a line with the elapsed time, plus a spinner on a terminal."""
    # soft_wrap: long paths stay on one line (pasteable), also when output is not a terminal.
    console = Console(highlight=False, soft_wrap=True)
    start = time.monotonic()
    with console.status(title) as status:

        def report(message: str) -> None:
            line = Text(f"{time.monotonic() - start:6.1f}s ", style="dim")
            line.append(message)
            console.print(line)
            status.update(Text(message.splitlines()[0]))

        yield report


@main.command("up")
@click.option(
    "--backend", type=click.Choice(BACKENDS), default=None, help="Skip detection (also LABKIT_BACKEND)."
)
@click.option("--context", default=None, help="Kubeconfig context to use (implies --backend kubeconfig).")
@click.option(
    "--with",
    "engines",
    multiple=True,
    type=click.Choice(["argocd", "flux"]),
    help="Also run a real engine beside labkit's agent (built on first use): argocd, flux.",
)
@click.option(
    "--nodes",
    type=click.IntRange(min=1),
    default=None,
    help="Worker nodes of a new lab (kwok nodes are cheap: try 50 for a scale run); default 3.",
)
@friendly_errors
def up_cmd(backend: str | None, context: str | None, engines: tuple[str, ...], nodes: int | None) -> None:
    """Start the lab (or reuse the running one): cluster, Git server, controller."""
    from labkit.lab import Lab

    settings = Settings()
    if nodes is not None:
        settings = replace(settings, cluster=replace(settings.cluster, nodes=nodes))
    with _progress("starting the lab…") as report:
        lab = Lab.up(settings, backend=backend, context=context, progress=report, with_=engines)
    ready = lab.status().get("nodes_ready") if nodes is not None else None
    if ready is not None and ready != nodes:
        # A running lab is reused as it is: say so rather than ignore --nodes.
        raise LabStateError(
            f"the running lab has {ready} nodes, not {nodes}",
            hint=f"run `labkit down`, then `labkit up --nodes {nodes}`",
        )
    click.echo(closing_hint(lab.kubeconfig, lab.repo.work))


def closing_hint(kubeconfig: Path, work: Path) -> str:
    return "\n".join(
        [
            "",
            "next steps:",
            f'  export KUBECONFIG={shlex.quote(str(kubeconfig))}   # or: eval "$(labkit env)"',
            "  kubectl get nodes",
            f"  cd {shlex.quote(str(work))}   # the lab's Git repository: edit, commit, git push",
            "  make lab                # JupyterLab on 127.0.0.1; start with notebook 01 in notebooks/",
        ]
    )


@main.command("down")
@friendly_errors
def down_cmd() -> None:
    """Stop everything the lab started and delete its directory (exit 0 also when nothing was up)."""
    from labkit.lab import Lab

    with _progress("stopping the lab…") as report:
        Lab.teardown(Settings(), progress=report)


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@friendly_errors
def status_cmd(as_json: bool) -> None:
    """Show the running lab: backend, kubeconfig, nodes, repository, supervised processes."""
    from labkit.lab import Lab

    lab = Lab.attach(Settings())
    status = lab.status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    for key, value in status.items():
        if key == "processes":
            click.echo(f"{'agent':<14} {_agent_line(lab)}")
            for line in process_lines(value):
                click.echo(line)
        elif isinstance(value, dict):
            for sub, subvalue in value.items():
                click.echo(f"{key + '.' + sub:<14} {subvalue}")
        else:
            click.echo(f"{key:<14} {value}")


def _agent_line(lab: Lab) -> str:
    """The pull agent as its heartbeat Lease shows it: up, or down since when and why."""
    from labkit.errors import KubeError
    from labkit.gitops import heartbeat

    try:
        with lab.kube() as kube:
            return heartbeat.read(kube).line()
    except KubeError as e:
        return f"unknown: {e.message.splitlines()[0]}"


def process_lines(programs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per supervised process (state, pid, restarts); a crashed one adds why and its log."""
    lines = []
    for name, p in sorted(programs.items()):
        pid = p.get("pid") or "-"
        lines.append(
            f"{'process ' + name:<22} {p.get('state', '?'):<9} pid {pid:<8} restarts {p.get('restarts', 0)}"
        )
        if p.get("state") != "running" and p.get("message"):
            lines.append(f"{'':<22} {p['message']}")
        if p.get("state") == "gave-up":
            lines += [f"{'':<22} | {tail}" for tail in p.get("log_tail") or []]
    return lines


@main.command("reset")
@friendly_errors
def reset_cmd() -> None:
    """Back to the starter state: no Applications, no lab namespaces, the starter repository."""
    from labkit.lab import Lab

    lab = Lab.attach(Settings())
    with _progress("resetting the lab…") as report:
        seconds = lab.reset(progress=report)
    click.echo(f"lab reset in {seconds:.1f} s; next: open notebook 01 again, or labkit app create …")


@main.command("env")
@friendly_errors
def env_cmd() -> None:
    """Print `export` lines for the lab: eval "$(labkit env)"."""
    from labkit.lab import Lab

    for key, value in Lab.attach(Settings()).env().items():
        click.echo(f"export {key}={shlex.quote(value)}")


def has_display(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether a browser could open here: always on macOS/Windows, on Linux only with X11/Wayland."""
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def jupyter_argv(jupyter: Path, notebooks: Path, env: Mapping[str, str], *, root: bool = False) -> list[str]:
    """The JupyterLab command: 127.0.0.1 only, the project's notebooks, no browser in CI or headless."""
    argv = [str(jupyter), "lab", "--ip=127.0.0.1", f"--notebook-dir={notebooks}"]
    if env.get("CI", "").lower() in ("1", "true", "yes") or not has_display(env):
        argv.append("--no-browser")
    if root:
        argv.append("--allow-root")  # containers and CI run as root; JupyterLab refuses without this
    return argv


@main.command("jupyter")
@friendly_errors
def jupyter_cmd() -> None:
    """Start JupyterLab on 127.0.0.1 with the lab's environment exported."""
    from labkit.lab import Lab

    settings = Settings()
    try:
        lab_env = Lab.attach(settings).env()
    except LabStateError as e:
        click.secho(f"note: {e.message}; notebooks start one with Lab.up()", fg="yellow", err=True)
        lab_env = {"LABKIT_HOME": str(settings.home), "LABKIT_LAB": settings.lab}
        lab_env["PATH"] = os.pathsep.join([str(venv_bin()), os.environ.get("PATH", os.defpath)])
    env = {**os.environ, **lab_env}
    argv = jupyter_argv(venv_bin() / "jupyter", PROJECT_ROOT / "notebooks", env, root=os.geteuid() == 0)
    click.echo("$ " + shlex.join(argv))
    os.execve(argv[0], argv, env)
