"""Shared fixtures: one real kwok lab per test session, a namespace per test, a fake runner.

Every session runs in its own LABKIT_HOME (a temporary directory), so tests
never touch a learner's labs in ~/.labkit; the binary cache (~/.cache/labkit)
is shared, and downloads are off (LABKIT_ALLOW_DOWNLOAD=0). The ``lab``
fixture starts ONE kwok lab through :meth:`labkit.Lab.up` the first time a
test asks for it and takes it down at the end; a safety net at exit tears
down any lab a failing test left behind, so no process outlives the session.
A missing toolchain fails the cluster tests; they are skipped only when
asked to with LABKIT_SKIP_CLUSTER=1.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.errors import CommandError, LabkitError
from labkit.proc import Result
from labkit.settings import Settings

if TYPE_CHECKING:
    from labkit.lab import Lab

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
