"""Helm template: render a chart the way Argo CD's repo-server does, with ``helm template``.

``labkit.gitops.render`` calls :func:`template` when an Application's path
is a chart (or the Application sets ``spec.source.helm``). As in Argo CD,
Helm only inflates the chart: ``helm template`` with the Application's name
as release name and its destination namespace, value files resolved from the
chart's directory, ``values``/``valuesObject`` in a temporary file after
them and parameters as ``--set``/``--set-string``. The agent then applies the
objects itself, and Helm's hooks become Argo CD's (``labkit.gitops.helm_hooks``).
The helm binary is the toolchain's (``labkit.cluster.toolchain.tool_path``).
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import CommandError, LabkitError
from labkit.gitops.helm import HelmError, HelmSource
from labkit.proc import Result, Runner, run


@dataclass(frozen=True)
class RenderedTemplate:
    """One document of ``helm template`` output and the chart file it came from (``# Source:``)."""

    source: str
    text: str


def helm_binary() -> str:
    """The helm labkit builds into its toolchain cache (or ``LABKIT_HELM_BINARY``)."""
    from labkit.cluster.toolchain import tool_path  # the cluster layer: only needed when a chart renders

    return str(tool_path("helm"))


def resolve_value_files(source: HelmSource, chart_dir: Path, repo_root: Path) -> list[str]:
    """``valueFiles`` as paths relative to ``chart_dir``, in order; missing ones dropped if ignored.

    As in Argo CD a name is relative to the chart's directory, or to the
    repository's root when it starts with ``/``, and must stay inside the
    repository. A missing file is kept (unless ``ignoreMissingValueFiles``)
    so that helm itself says it is missing.
    """
    root = repo_root.resolve()
    files = []
    for name in source.value_files:
        path = (root / name.lstrip("/")) if name.startswith("/") else (chart_dir / name)
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise HelmError(
                f"value file {name!r} leads outside the repository", hint="name a file inside the repository"
            )
        if source.ignore_missing_value_files and not resolved.is_file():
            continue
        files.append(os.path.relpath(resolved, chart_dir.resolve()))
    return files


def template_argv(
    helm: str,
    source: HelmSource,
    *,
    app: str,
    dest_namespace: str,
    value_files: Sequence[str] = (),
    values_file: str | None = None,
) -> list[str]:
    """The ``helm template`` command for the chart in the current directory, flags in Argo CD's order."""
    argv = [helm, "template", ".", "--name-template", source.release_name or app]
    argv += ["--namespace", source.namespace or dest_namespace]
    for parameter in [p for p in source.parameters if not p.force_string] + [
        p for p in source.parameters if p.force_string
    ]:
        argv += parameter.flag()
    for name in value_files:
        argv += ["--values", name]
    if values_file is not None:
        argv += ["--values", values_file]
    if not source.skip_crds:
        argv.append("--include-crds")
    if source.skip_tests:
        argv.append("--skip-tests")
    return argv


def template(
    chart_dir: Path,
    source: HelmSource,
    *,
    app: str,
    dest_namespace: str,
    repo_root: Path | None = None,
    shown: str | None = None,
    helm: str | None = None,
    runner: Runner = run,
) -> list[RenderedTemplate]:
    """Run ``helm template`` on the chart at ``chart_dir``; HelmError quotes helm's own message.

    ``shown`` is the chart's path as the learner knows it (``apps/demo-helm``),
    for messages. Helm gets a home of its own in a temporary directory (as
    Argo CD's repo-server gives it), so the learner's helm settings play no part.
    """
    shown = shown or str(chart_dir)
    value_files = resolve_value_files(source, chart_dir, repo_root or chart_dir)
    try:
        binary = helm or helm_binary()
    except LabkitError as e:
        raise HelmError(f"cannot render the chart {shown!r}: {e.message}", hint=e.hint) from e
    with tempfile.TemporaryDirectory(prefix="labkit-helm-") as home:
        values_file = _write_values(source, Path(home))
        argv = template_argv(
            binary,
            source,
            app=app,
            dest_namespace=dest_namespace,
            value_files=value_files,
            values_file=values_file,
        )
        env = {f"HELM_{kind}_HOME": home for kind in ("CACHE", "CONFIG", "DATA")}
        try:
            result = runner(argv, env=env, cwd=chart_dir, check=False, timeout=60)
        except CommandError as e:
            raise HelmError(f"helm could not run for {shown!r}: {e.message}", hint=e.hint) from e
    if not result.ok:
        raise _failure(result, shown, source, value_files)
    return split_output(result.stdout)


def _write_values(source: HelmSource, home: Path) -> str | None:
    """``values``/``valuesObject`` as a file in ``home`` for ``--values``; None when there are none."""
    text = source.values_yaml()
    if not text:
        return None
    path = home / "values.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _failure(result: Result, shown: str, source: HelmSource, value_files: Sequence[str]) -> HelmError:
    """helm's own error lines (its advice about --debug left out) and the command to reproduce them."""
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    detail = "; ".join([line for line in lines if line.startswith("Error")] or lines)
    return HelmError(
        f"helm template failed for {shown!r}: {detail}",
        hint=f"reproduce in your clone: {_learner_command(shown, source, value_files)}",
    )


def _learner_command(shown: str, source: HelmSource, value_files: Sequence[str]) -> str:
    argv = ["helm", "template", shown]
    for name in value_files:
        argv += ["--values", os.path.normpath(os.path.join(shown, name))]
    for parameter in source.parameters:
        argv += parameter.flag()
    return shlex.join(argv)


def split_output(stdout: str) -> list[RenderedTemplate]:
    """``helm template`` output as one entry per document, each named by its ``# Source:`` line."""
    rendered = []
    for chunk in re.split(r"^---[ \t]*$", stdout, flags=re.MULTILINE):
        if not chunk.strip():
            continue
        found = re.search(r"^# Source: (.+)$", chunk, flags=re.MULTILINE)
        rendered.append(RenderedTemplate(found.group(1).strip() if found else "helm output", chunk))
    return rendered
