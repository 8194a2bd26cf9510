"""Helm source: Argo CD's ``spec.source.helm`` and the ``helm template`` command it runs.

``labkit.gitops.render`` parses ``spec.source.helm`` with
:meth:`HelmSource.from_manifest` and calls :func:`template` when an
Application's path is a chart (or the Application sets ``spec.source.helm``);
``labkit.apps`` writes a :class:`HelmSource` into ``spec.source.helm`` for
``labkit app create --helm-*``.

As in Argo CD, Helm only inflates the chart: ``helm template`` with the
Application's name as release name and its destination namespace, value
files resolved from the chart's directory, ``values``/``valuesObject`` in a
temporary file after them and parameters as ``--set``/``--set-string``. The
agent then applies the objects itself, so Helm's hooks become Argo CD's
(``labkit.gitops.helm_hooks``).
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import CommandError, LabkitError
from labkit.proc import Runner, run

Manifest = dict[str, Any]

#: The ``spec.source.helm`` fields labkit's agent understands (Argo CD's names).
FIELDS = (
    "releaseName",
    "valueFiles",
    "values",
    "valuesObject",
    "parameters",
    "ignoreMissingValueFiles",
    "skipCrds",
    "skipTests",
    "namespace",
)
_PARAMETER_FIELDS = ("name", "value", "forceString")
_BOOLEANS = {
    "ignoreMissingValueFiles": "ignore_missing_value_files",
    "skipCrds": "skip_crds",
    "skipTests": "skip_tests",
}


class HelmError(LabkitError):
    """A Helm source is invalid, or ``helm template`` could not render the chart."""


@dataclass(frozen=True)
class HelmParameter:
    """One ``parameters`` entry: ``--set name=value`` (``--set-string`` when ``force_string``)."""

    name: str
    value: str
    force_string: bool = False

    @classmethod
    def parse(cls, text: str, force_string: bool = False) -> HelmParameter:
        """``"image.tag=1.27"`` as a parameter, the way ``--helm-set`` takes it."""
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise HelmError(f"helm parameter {text!r} is not NAME=VALUE", hint="write it like replicas=3")
        return cls(name.strip(), value, force_string)

    def flag(self) -> list[str]:
        # Helm splits --set on commas; Argo CD escapes them unless the value is a {a,b} list.
        value = self.value
        if not (value.startswith("{") and value.endswith("}")):
            value = re.sub(r"(?<!\\),", r"\\,", value)
        return ["--set-string" if self.force_string else "--set", f"{self.name}={value}"]


@dataclass(frozen=True)
class HelmSource:
    """``spec.source.helm`` with Argo CD's defaults (empty release name = the Application's name)."""

    release_name: str = ""
    value_files: tuple[str, ...] = ()
    values: str = ""
    """Extra values as a YAML string."""
    values_object: Mapping[str, Any] | None = None
    """Extra values as a map; when set, ``values`` is not used (Argo CD's ``ValuesYAML``)."""
    parameters: tuple[HelmParameter, ...] = ()
    ignore_missing_value_files: bool = False
    skip_crds: bool = False
    skip_tests: bool = False
    namespace: str = ""
    """Helm's ``--namespace`` (``.Release.Namespace``); empty = the destination namespace."""

    @classmethod
    def from_manifest(cls, raw: Any, where: str = "spec.source.helm") -> HelmSource:
        """Parse and check the raw ``spec.source.helm`` mapping; HelmError names the field at fault."""
        if not isinstance(raw, Mapping):
            raise HelmError(f"{where} must be a mapping, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise HelmError(
                f"{where}.{unknown[0]} is not supported by labkit's agent",
                hint=f"use only {', '.join(FIELDS)}",
            )
        values_object = raw.get("valuesObject")
        if values_object is not None and not isinstance(values_object, Mapping):
            raise HelmError(f"{where}.valuesObject must be a mapping, got {type(values_object).__name__}")
        flags = {attr: _boolean(raw, key, where) for key, attr in _BOOLEANS.items()}
        return cls(
            release_name=_string(raw, "releaseName", where),
            value_files=tuple(
                _value_file(f, f"{where}.valueFiles[{i}]") for i, f in _items(raw, "valueFiles", where)
            ),
            values=_string(raw, "values", where),
            values_object=dict(values_object) if values_object is not None else None,
            parameters=tuple(
                _parameter(p, f"{where}.parameters[{i}]") for i, p in _items(raw, "parameters", where)
            ),
            namespace=_string(raw, "namespace", where),
            **flags,
        )

    def to_manifest(self) -> Manifest:
        """The ``spec.source.helm`` mapping, with only the fields that differ from the defaults."""
        out: Manifest = {}
        if self.release_name:
            out["releaseName"] = self.release_name
        if self.value_files:
            out["valueFiles"] = list(self.value_files)
        if self.values:
            out["values"] = self.values
        if self.values_object is not None:
            out["valuesObject"] = dict(self.values_object)
        if self.parameters:
            out["parameters"] = [
                {"name": p.name, "value": p.value, **({"forceString": True} if p.force_string else {})}
                for p in self.parameters
            ]
        out.update({key: True for key, attr in _BOOLEANS.items() if getattr(self, attr)})
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def values_yaml(self) -> str:
        """The extra values file's text: ``valuesObject`` if set, else ``values`` (Argo CD's rule)."""
        if self.values_object is not None:
            return yaml.safe_dump(dict(self.values_object), sort_keys=False)
        return self.values


def source_from_flags(
    value_files: Sequence[str] = (),
    sets: Sequence[str] = (),
    set_strings: Sequence[str] = (),
    release_name: str | None = None,
) -> HelmSource | None:
    """What ``labkit app create --helm-values/--helm-set/--helm-set-string/--helm-release-name`` asks
    for, like ``argocd app create --values/--helm-set/--helm-set-string/--release-name``; None if nothing."""
    if not (value_files or sets or set_strings or release_name):
        return None
    parameters = [HelmParameter.parse(s) for s in sets] + [HelmParameter.parse(s, True) for s in set_strings]
    return HelmSource(
        release_name=release_name or "",
        value_files=tuple(_value_file(name, "--helm-values") for name in value_files),
        parameters=tuple(parameters),
    )


def _items(raw: Mapping[str, Any], key: str, where: str) -> list[tuple[int, Any]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise HelmError(f"{where}.{key} must be a list, got {type(value).__name__}")
    return list(enumerate(value))


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HelmError(f"{where}.{key} must be a string, got {value!r}", hint="quote it in YAML")
    return value


def _boolean(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise HelmError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def _value_file(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HelmError(f"{where} must be a file name, got {value!r}")
    if "://" in value:
        raise HelmError(
            f"{where} {value!r} is a URL: labkit's agent reads value files only from the Git repository",
            hint="commit the file next to the chart and name it by its path",
        )
    if any(c in value for c in "*?["):
        raise HelmError(
            f"{where} {value!r} is a glob pattern, which labkit's agent does not expand",
            hint="list the files one by one",
        )
    return value


def _parameter(value: Any, where: str) -> HelmParameter:
    if not isinstance(value, Mapping):
        raise HelmError(f"{where} must be a mapping with name and value, got {value!r}")
    unknown = sorted(set(value) - set(_PARAMETER_FIELDS))
    if unknown:
        raise HelmError(f"{where}.{unknown[0]} is not a parameter field", hint="use name, value, forceString")
    name = _string(value, "name", where)
    if not name:
        raise HelmError(f"{where} has no name", hint="e.g. name: replicas")
    return HelmParameter(name, _string(value, "value", where), _boolean(value, "forceString", where))


# -- helm template ------------------------------------------------------------------------------


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
        extra = source.values_yaml()
        values_file = None
        if extra:
            values_file = str(Path(home) / "values.yaml")
            Path(values_file).write_text(extra, encoding="utf-8")
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
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        detail = "; ".join([line for line in lines if line.startswith("Error")] or lines)
        raise HelmError(
            f"helm template failed for {shown!r}: {detail}",
            hint=f"reproduce in your clone: {_learner_command(shown, source, value_files)}",
        )
    return split_output(result.stdout)


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
