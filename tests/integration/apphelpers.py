"""Helpers for tests that drive the real controller through Git and Applications.

Each test gets its own directory in the lab's Git repository
(``apps/<prefix>-<id>``) and its own destination namespace, so tests share one
lab without seeing each other. :func:`gitapps` makes them and deletes them
afterwards; the ``make_app`` and ``gitapp`` fixtures in ``conftest.py`` wrap it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from labkit.apps import AppClient
from labkit.events import Timeline
from labkit.git import LabRepo
from labkit.kube import Kube

if TYPE_CHECKING:
    from labkit.lab import Lab

Manifest = dict[str, Any]


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.27", **extra: Any) -> Manifest:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": extra.pop("selector", labels)},
            "template": {
                "metadata": {"labels": extra.pop("pod_labels", labels)},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def configmap(name: str = "web-config", **data: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


def service(name: str = "web") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}]},
    }


def dump(*objects: Manifest) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)


@dataclass
class GitApp:
    """One Application backed by its own directory in the lab repo."""

    name: str
    path: str
    namespace: str
    repo: LabRepo
    apps: AppClient
    kube: Kube
    timeline: Timeline
    files: dict[str, str | None] = field(default_factory=dict)

    def commit(self, message: str, **files: str | None) -> str:
        """Write files (name -> text, None deletes) under the app's path, commit and push."""
        changes = {f"{self.path}/{name}": text for name, text in files.items()}
        return self.repo.commit_and_push(message, changes)

    def create(self, **options: Any) -> None:
        options.setdefault("sync_options", ("CreateNamespace=true",))
        self.apps.create(self.name, self.repo.url, self.path, self.namespace, **options)

    def wait(self, **kw: Any) -> Manifest:
        return self.apps.wait(self.name, **kw)

    def status(self) -> Manifest:
        return self.apps.get(self.name).get("status") or {}

    def conditions(self) -> list[str]:
        return [f"{c['type']}: {c['message']}" for c in self.status().get("conditions") or []]

    def live(self, kind: str, name: str, api_version: str = "v1") -> Manifest | None:
        return self.kube.get(api_version, kind, name, self.namespace)

    def events(self, kind: str | None = None) -> list[Any]:
        return self.timeline.read(app=self.name, kind=kind)


def new_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


MakeApp = Callable[..., GitApp]
"""``make(prefix="t")``: a new GitApp named ``<prefix>-<id>``, in ``apps/<name>`` and namespace ``<name>``
(``path=`` and ``namespace=`` put it on another app's, to make two apps share objects)."""


@contextmanager
def gitapps(lab: Lab) -> Iterator[MakeApp]:
    """Make GitApps on the lab; on exit every one is deleted with its objects, then its namespace.

    The prefix only names the app, so that an app left in a lab or on the
    timeline tells which test module made it.
    """
    kube = Kube(lab.kubeconfig)
    made: list[GitApp] = []

    def make(prefix: str = "t", *, path: str | None = None, namespace: str | None = None) -> GitApp:
        name = new_name(prefix)
        path, namespace = path or f"apps/{name}", namespace or name
        app = GitApp(name, path, namespace, lab.repo, AppClient(kube), kube, lab.timeline)
        made.append(app)
        return app

    try:
        yield make
    finally:
        errors = []
        for app in made:
            try:
                remove(app)
            except Exception as e:  # the other apps still go; the first failure is raised below
                errors.append(e)
        kube.close()
        if errors:
            raise errors[0]


def remove(app: GitApp) -> None:
    """Delete the app with its objects (cascade), then its namespace."""
    try:
        if any(a.name == app.name for a in app.apps.list()):
            app.apps.delete(app.name, cascade=True)
            eventually(lambda: not [a for a in app.apps.list() if a.name == app.name], 30, "app deleted")
    finally:
        app.kube.delete("v1", "Namespace", app.namespace, None)


def eventually(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")
