"""Shared fixtures: one real kwok lab per test session, a namespace per test; fakes for unit tests.

Every session runs in its own LABKIT_HOME (a temporary directory), so tests
never touch a learner's labs in ~/.labkit; the binary cache (~/.cache/labkit)
is shared, and downloads are off (LABKIT_ALLOW_DOWNLOAD=0). The ``lab``
fixture starts ONE kwok lab through :meth:`labkit.Lab.up` the first time a
test asks for it and takes it down at the end; a safety net at exit tears
down any lab a failing test left behind, so no process outlives the session.
A missing toolchain fails the cluster tests; they are skipped only when
asked to with LABKIT_SKIP_CLUSTER=1.

Unit tests get two fakes: :class:`FakeRunner` (commands) and
:class:`FakeKube` (an in-memory API server with ``labkit.kube.Kube``'s
interface, watches included) for the pull agent's decisions.
"""

from __future__ import annotations

import copy
import logging
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.errors import CommandError, KubeError, LabkitError
from labkit.kube import ApplyResult
from labkit.proc import Result
from labkit.settings import Settings

if TYPE_CHECKING:
    from labkit.lab import Lab

Manifest = dict[str, Any]
log = logging.getLogger("labkit.tests")
SKIP_CLUSTER = os.environ.get("LABKIT_SKIP_CLUSTER") == "1"
SKIP_REASON = "LABKIT_SKIP_CLUSTER=1: cluster tests skipped on request"
TEST_NAMESPACE_LABEL = "labkit.dev/test"


def pytest_configure(config: pytest.Config) -> None:
    home = tempfile.mkdtemp(prefix="labkit-test-")
    config.stash[_HOME] = home
    os.environ["LABKIT_HOME"] = home
    os.environ["LABKIT_ALLOW_DOWNLOAD"] = "0"
    for name in ("LABKIT_LAB", "LABKIT_BACKEND", "LABKIT_APISERVER_PORT"):
        os.environ.pop(name, None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cluster_items = [i for i in items if i.get_closest_marker("cluster")]
    if SKIP_CLUSTER:
        for item in cluster_items:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    elif cluster_items:
        # Build (or verify) the binaries before any test starts, outside every per-test timeout:
        # a cold build takes minutes; a warm cache, about a second.
        from labkit.cluster import toolchain
        from labkit.cluster.components import DEFAULT_GROUPS

        reporter = config.pluginmanager.get_plugin("terminalreporter")
        say: Callable[[str], None] = reporter.write_line if reporter else print
        engines = tuple(e for e in ("argocd", "flux") if any(i.get_closest_marker(e) for i in cluster_items))
        try:
            toolchain.ensure(
                Settings(), progress=lambda m: say(f"labkit: {m}"), groups=DEFAULT_GROUPS + engines
            )
        except LabkitError as e:
            # Not a skip: every cluster test fails with this message; unit tests still run.
            config.stash[_TOOLCHAIN_ERROR] = e
            say(f"labkit: the cluster tests will fail: {e}")


def pytest_unconfigure(config: pytest.Config) -> None:
    home = Path(config.stash.get(_HOME, "") or "/nonexistent")
    if not home.is_dir():
        return
    labs = sorted((home / "labs").glob("*"))
    if labs:
        from labkit.lab import Lab
    for state_dir in labs:
        # Safety net: whatever a crashed test left running goes now.
        Lab.teardown(Settings(home=home, lab=state_dir.name), progress=log.info)
    shutil.rmtree(home, ignore_errors=True)


_HOME = pytest.StashKey[str]()
_TOOLCHAIN_ERROR = pytest.StashKey[LabkitError]()


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The session's kwok lab (3 nodes, pods Ready after 1-2 s), in the session's LABKIT_HOME."""
    if SKIP_CLUSTER:
        pytest.skip(SKIP_REASON)
    if _TOOLCHAIN_ERROR in request.config.stash:
        raise request.config.stash[_TOOLCHAIN_ERROR]
    from labkit.lab import Lab

    the_lab = Lab.up(Settings(), backend="kwok", progress=log.info)
    yield the_lab
    _wait_test_namespaces_gone(the_lab)
    the_lab.down(progress=log.info)


def _wait_test_namespaces_gone(the_lab: Lab, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    with the_lab.kube() as kube:
        while (
            kube.list("v1", "Namespace", label_selector=TEST_NAMESPACE_LABEL) and time.monotonic() < deadline
        ):
            time.sleep(0.5)


@pytest.fixture
def namespace(lab: Lab, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (pods removed at once)."""
    from labkit.cluster import kubectl

    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{secrets.token_hex(3)}"
    with lab.kube() as kube:
        kube.ensure_namespace(name, labels={TEST_NAMESPACE_LABEL: "true"})
    yield name
    with lab.kube() as kube:
        kube.delete("v1", "Namespace", name, propagation="Background")
    kubectl.force_delete_pods(lab.runner, lab.kubeconfig, lab.context, name)


# -- a fake command runner for unit tests --------------------------------------------------


@dataclass
class Rule:
    words: tuple[str, ...]
    result: Callable[[Sequence[str], Mapping[str, str]], tuple[int, str, str]]


@dataclass
class FakeRunner:
    """Records commands and answers them from rules: ``runner.on("docker", "info", rc=1, stderr=...)``.

    A rule matches when every one of its words is an element of argv (argv[0] by basename).
    The last matching rule wins; unmatched commands succeed with no output.
    """

    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    def on(
        self,
        *words: str,
        rc: int = 0,
        stdout: str = "",
        stderr: str = "",
        effect: Callable[[Sequence[str], Mapping[str, str]], Any] | None = None,
    ) -> FakeRunner:
        def answer(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str, str]:
            if effect is not None:
                effect(argv, env)
            return rc, stdout, stderr

        self.rules.append(Rule(words, answer))
        return self

    def commands(self, *words: str) -> list[list[str]]:
        return [argv for argv, _ in self.calls if _matches(argv, words)]

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Result:
        self.calls.append((list(argv), dict(env or {})))
        rc, stdout, stderr = 0, "", ""
        for rule in reversed(self.rules):
            if _matches(argv, rule.words):
                rc, stdout, stderr = rule.result(argv, env or {})
                break
        if check and rc != 0:
            raise CommandError(argv, rc, stderr or stdout)
        return Result(tuple(argv), rc, stdout, stderr)


def _matches(argv: Sequence[str], words: Sequence[str]) -> bool:
    elements = {os.path.basename(argv[0]), *argv[1:]} if argv else set()
    return all(w in elements for w in words)


@pytest.fixture
def fake_runner() -> FakeRunner:
    return FakeRunner()


# -- a fake API server for unit tests of the pull agent -----------------------------------------

KNOWN_KINDS: dict[tuple[str, str], bool] = {
    ("v1", "Namespace"): False,
    ("v1", "ConfigMap"): True,
    ("v1", "Service"): True,
    ("v1", "Pod"): True,
    ("apps/v1", "Deployment"): True,
    ("batch/v1", "Job"): True,
    ("labkit.dev/v1alpha1", "Application"): True,
}
"""(apiVersion, kind) -> namespaced, for the kinds :class:`FakeKube` serves."""


def _ident(api_version: str, kind: str, name: str, namespace: str | None) -> tuple[str, str, str, str]:
    return (api_version, kind, namespace or "", name)


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386): None deletes, maps merge, anything else replaces."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class FakeKube:
    """An in-memory API server with :class:`labkit.kube.Kube`'s interface, for unit tests.

    Server-side apply stores the object (keeping any status), bumps the
    resourceVersion and tells open watches; ``fail_apply[name] = message``
    makes applies (and dry runs) of that object fail like an invalid object;
    a name in ``immutable`` fails while an object of that name exists (a Job's template).
    ``on_apply`` may change an object as the cluster would (a Job completing).
    ``calls`` records every write as ``(verb, kind, name)``.
    """

    def __init__(self, *objects: Manifest, kinds: Mapping[tuple[str, str], bool] | None = None) -> None:
        self.kinds = dict(kinds or KNOWN_KINDS)
        self.objects: dict[tuple[str, str, str, str], Manifest] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.fail_apply: dict[str, str] = {}
        self.immutable: set[str] = set()
        self.on_apply: Callable[[Manifest], None] | None = None
        self._version = 0
        self._watches: list[tuple[tuple[str, str], queue.Queue[tuple[str, Manifest]]]] = []
        for obj in objects:
            self._store(copy.deepcopy(obj), "ADDED")

    # -- helpers for tests --------------------------------------------------------

    def find(self, kind: str, name: str) -> Manifest | None:
        return next((o for (_, k, _, n), o in self.objects.items() if (k, n) == (kind, name)), None)

    def set_status(self, kind: str, name: str, status: Manifest) -> None:
        obj = self.find(kind, name)
        assert obj is not None, f"no {kind} {name}"
        self._store({**obj, "status": status}, "MODIFIED")

    def quiet(self) -> None:
        """Wait until every open watch has handed on every event it was sent."""
        for _, events in list(self._watches):
            events.join()

    # -- Kube's interface --------------------------------------------------------

    def is_namespaced(self, api_version: str, kind: str) -> bool | None:
        return self.kinds.get((api_version, kind))

    def apply(self, obj: Manifest, *, dry_run: bool = False, **_: Any) -> ApplyResult:
        api_version, kind, meta = str(obj.get("apiVersion")), str(obj.get("kind")), obj.get("metadata") or {}
        if (api_version, kind) not in self.kinds:
            message = f'no matches for kind "{kind}" in version "{api_version}"'
            return ApplyResult(False, None, message, 404, "NotFound")
        if meta.get("name") in self.fail_apply:
            return ApplyResult(False, None, self.fail_apply[meta["name"]], 422, "Invalid")
        ident = _ident(api_version, kind, meta["name"], meta.get("namespace"))
        old = self.objects.get(ident)
        if old is not None and meta.get("name") in self.immutable:
            message = f'{kind} "{meta["name"]}" is invalid: spec.template: field is immutable'
            return ApplyResult(False, None, message, 422, "Invalid")
        new = copy.deepcopy(obj)
        new["metadata"]["resourceVersion"] = (old or {}).get("metadata", {}).get("resourceVersion", "0")
        if old is not None and "status" in old:
            new["status"] = old["status"]
        verb = "created" if old is None else "configured"
        if dry_run:
            return ApplyResult(True, new, f"{verb} (dry run)")
        self.calls.append(("apply", kind, meta["name"]))
        if self.on_apply is not None:
            self.on_apply(new)
        return ApplyResult(
            True, copy.deepcopy(self._store(new, "ADDED" if old is None else "MODIFIED")), verb
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        obj = self.objects.get(_ident(api_version, kind, name, namespace))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> list[Manifest]:
        return self.list_versioned(api_version, kind, namespace)[0]

    def list_versioned(
        self, api_version: str, kind: str, namespace: str | None = None, **_: Any
    ) -> tuple[list[Manifest], str]:
        items = [
            copy.deepcopy(o)
            for (av, k, ns, _), o in sorted(self.objects.items())
            if (av, k) == (api_version, kind) and namespace in (None, ns)
        ]
        return items, str(self._version)

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, **_: Any
    ) -> ApplyResult:
        self.calls.append(("delete", kind, name))
        obj = self.objects.pop(_ident(api_version, kind, name, namespace), None)
        if obj is None:
            return ApplyResult(True, None, "already gone", 404, "NotFound")
        self._notify("DELETED", obj)
        return ApplyResult(True, None, "deleted")

    def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: Manifest, **_: Any
    ) -> Manifest:
        from labkit.kube import KubeApiError

        self.calls.append(("patch", kind, name))
        ident = _ident(api_version, kind, name, namespace)
        if ident not in self.objects:
            raise KubeApiError(f"patch {kind} {name!r}: not found", code=404)
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != self.objects[ident]["metadata"]["resourceVersion"]:
            raise KubeApiError(f"patch {kind} {name!r}: the object has been modified", code=409)
        return copy.deepcopy(self._store(_merge(self.objects[ident], patch), "MODIFIED"))

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str, status: Manifest
    ) -> Manifest:
        return self.patch(api_version, kind, name, namespace, {"status": status})

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        if self.get("v1", "Namespace", name) is None:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        if not predicate():  # nothing here happens later: what is not true now never will be
            raise KubeError(f"timed out waiting for {what}")

    def watch(
        self, api_version: str, kind: str, namespace: str | None = None, *, stop: threading.Event, **_: Any
    ) -> Iterator[tuple[str, Manifest]]:
        events: queue.Queue[tuple[str, Manifest]] = queue.Queue()
        self._watches.append(((api_version, kind), events))
        while not stop.is_set():
            try:
                event = events.get(timeout=0.05)
            except queue.Empty:
                continue
            yield event
            events.task_done()

    def _store(self, obj: Manifest, event_type: str) -> Manifest:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        meta = obj["metadata"]
        self.objects[_ident(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))] = obj
        self._notify(event_type, obj)
        return obj

    def _notify(self, event_type: str, obj: Manifest) -> None:
        for gvk, events in list(self._watches):
            if gvk == (obj["apiVersion"], obj["kind"]):
                events.put((event_type, copy.deepcopy(obj)))


@pytest.fixture
def fake_kube() -> FakeKube:
    return FakeKube()


class FakeSource:
    """The source cache's interface over a dict: revision -> the objects Git declares at it.

    ``head`` is what every targetRevision resolves to; objects get the app's
    tracking annotation and the destination namespace, as rendering does.
    """

    def __init__(self, revisions: Mapping[str, list[Manifest]], head: str) -> None:
        self.revisions, self.head, self.cleared = dict(revisions), head, 0

    def resolve(self, repo_url: str, revision: str) -> str:
        return self.head if revision in ("HEAD", "main") else revision

    def desired(
        self, app: str, repo_url: str, path: str, sha: str, dest_namespace: str, helm: Any = None
    ) -> Any:
        from labkit.gitops.source import Desired, SourceError
        from labkit.gitops.types import TRACKING_ANNOTATION, ResourceKey

        if sha not in self.revisions:
            raise SourceError(f"no revision {sha[:7]}", hint="push it first")
        objects = []
        for obj in copy.deepcopy(self.revisions[sha]):
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", dest_namespace)
            annotations = meta.setdefault("annotations", {})
            annotations[TRACKING_ANNOTATION] = ResourceKey.from_manifest(obj).tracking_id(app)
            objects.append(obj)
        return Desired(sha, tuple(objects))

    def clear(self) -> None:
        self.cleared += 1
