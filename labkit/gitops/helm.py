"""Helm source: Argo CD's ``spec.source.helm``, parsed and checked, with Argo CD's defaults.

``labkit.gitops.render`` parses an Application's raw ``spec.source.helm`` with
:meth:`HelmSource.from_manifest` before it renders a chart
(``labkit.gitops.helm_template``); ``labkit.apps`` writes one with
:meth:`HelmSource.to_manifest`, built by :func:`source_from_flags` for
``labkit app create --helm-*``. A field labkit's agent does not understand is
refused with a :class:`HelmError` naming it, never ignored. Pure data, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from labkit.errors import LabkitError

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
