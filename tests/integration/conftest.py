"""Helpers for integration tests: scratch labs, the labkit CLI as a subprocess, listening sockets,
and GitApps (an Application with its own directory in the lab repo).

Tests that break a lab on purpose (kill it, reset it, take it down, race two
`labkit up`) get a ``scratch`` lab of their own in a temporary LABKIT_HOME,
torn down afterwards whatever happened, so the session's shared ``lab`` is
never disturbed. Tests that drive the controller through Git take ``gitapp``
(one app) or ``make_app`` (several); see ``apphelpers.py``. Tests of the real
Argo CD take ``argocd`` and ``argo_app``; see ``argohelpers.py``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from labkit.drift import DriftInjector
from labkit.kube import Kube
from labkit.settings import Settings
from tests.integration.apphelpers import GitApp, MakeApp, gitapps, new_name
from tests.integration.argohelpers import API, NS

if TYPE_CHECKING:
    from labkit.argocd import ArgoCD
    from labkit.lab import Lab

log = logging.getLogger("labkit.tests")


@dataclass(frozen=True)
class Scratch:
    """A lab of one test's own: its settings and the environment that selects it."""

    settings: Settings

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "LABKIT_HOME": str(self.settings.home), "LABKIT_LAB": self.settings.lab}

    def labkit(
        self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the labkit CLI for this lab, as a learner would in a terminal."""
        return subprocess.run(
            [sys.executable, "-m", "labkit", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    from labkit.lab import Lab

    settings = Settings(home=tmp_path / "home", lab="scratch")
    yield Scratch(settings)
    Lab.teardown(settings, progress=lambda m: None)


@pytest.fixture
def make_app(lab: Lab) -> Iterator[MakeApp]:
    """Make GitApps (``make_app("heal")``); all are deleted with their objects afterwards."""
    with gitapps(lab) as make:
        yield make


@pytest.fixture
def drift(lab: Lab) -> DriftInjector:
    """Drift made with the real kubectl, each change written to the timeline as ``drift_injected``."""
    return DriftInjector(lab.kubeconfig, lab.timeline, echo=log.info, context=lab.context)


@pytest.fixture(scope="module")
def argocd(lab: Lab) -> Iterator[ArgoCD]:
    """The real Argo CD on the session lab, for the tests of one module; stopped after them."""
    lab.argocd.up(progress=print)
    yield lab.argocd
    lab.argocd.down(progress=print)


@pytest.fixture
def argo_app(lab: Lab) -> Iterator[tuple[str, Kube]]:
    """A name for an Argo CD app and its namespace, deleted afterwards, and a kube client."""
    name = new_name("argo")
    with lab.kube() as kube:
        yield name, kube
        if kube.get(API, "Application", name, NS):
            kube.patch(API, "Application", name, NS, {"metadata": {"finalizers": None}})
            kube.delete(API, "Application", name, NS)
        kube.delete("v1", "Namespace", name, None)


@pytest.fixture
def gitapp(make_app: MakeApp, request: pytest.FixtureRequest) -> GitApp:
    """One GitApp, named after the test module's ``GITAPP_PREFIX`` ("t" when it sets none)."""
    return make_app(getattr(request.module, "GITAPP_PREFIX", "t"))


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on, read from /proc (like `ss -ltnp`)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found: list[tuple[str, int]] = []
    for table, decode in (("tcp", _ipv4), ("tcp6", _ipv6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                address, port = local.split(":")
                found.append((decode(address), int(port, 16)))
    return found


def _ipv4(hex_address: str) -> str:
    return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))


def _ipv6(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    import ipaddress

    return str(ipaddress.IPv6Address(b"".join(words)))
