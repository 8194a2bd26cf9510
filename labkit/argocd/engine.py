"""``lab.argocd``: bring the real Argo CD up or down on the lab, read its status, run ``argocd``.

The facade over :mod:`~labkit.argocd.install` (cluster side),
:mod:`~labkit.argocd.processes` (what runs) and the lab's supervisor (who
keeps it running). ``up`` also logs the learner's ``argocd`` CLI in: its
config lives in ``<state_dir>/argocd/cli-config`` (0600) and ``labkit env``
exports ``ARGOCD_OPTS=--config …``, so ``argocd app list`` just works in a
shell or a notebook. ``<state_dir>/argocd.json`` tells the post-receive hook
where to send its GitHub-format push event. Used by :class:`labkit.Lab`,
``labkit argocd up|down|status`` and ``labkit up --with argocd``.
"""

from __future__ import annotations

import json
import shlex
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from labkit import supervisor
from labkit.argocd import install, processes
from labkit.cluster import toolchain
from labkit.errors import CommandError, KubeError
from labkit.kube import Kube
from labkit.proc import run
from labkit.settings import Settings

Progress = Callable[[str], None]
INFO = "argocd.json"
APP_API = "argoproj.io/v1alpha1"


class ArgoCD:
    """The real Argo CD of one lab."""

    def __init__(self, settings: Settings, kubeconfig: Path, context: str) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self.kubeconfig = kubeconfig
        self.context = context

    # -- lifecycle ------------------------------------------------------------------------------

    def up(self, progress: Progress = print) -> dict[str, Any] | None:
        """Build on first use, install, start the four processes, log the CLI in; returns status()."""
        start = time.monotonic()
        tools = toolchain.ensure(self.settings, progress=progress, groups=("tools", "argocd"))
        argocd = tools.path("argocd")
        processes.write_kubeconfig(self.state_dir, self.kubeconfig, self.context)
        with Kube(self.kubeconfig, self.context) as kube:
            install.install(kube, self.settings, argocd, self.state_dir, progress)
        supervisor.ensure_running(self.state_dir)
        tool_dirs = [tools.path("helm").parent, tools.path("kustomize").parent]
        for program in processes.programs(self.state_dir, self.settings, argocd, tool_dirs):
            supervisor.register(self.state_dir, program)
        for name in processes.NAMES:
            supervisor.wait_for_pid(self.state_dir, name, timeout_s=30)
        self._wait_for_server(timeout_s=90)
        self.login()
        info = {
            "server": self.server,
            "version": self.version(),
            "webhook": f"http://{self.server}/api/webhook",
        }
        (self.state_dir / INFO).write_text(json.dumps(info))
        progress(
            f"Argo CD {info['version']} up in {time.monotonic() - start:.1f} s: API on http://{self.server}"
        )
        return self.status()

    def down(self, progress: Progress = print) -> None:
        """Delete Argo CD's Applications (their resources stay), stop its processes."""
        with suppress(KubeError):
            self.delete_applications(progress)
        (self.state_dir / INFO).unlink(missing_ok=True)
        for name in reversed(processes.NAMES):
            supervisor.unregister(self.state_dir, name)
        progress("Argo CD stopped (its namespace, CRDs and settings stay for the next `labkit argocd up`)")

    def delete_applications(self, progress: Progress = print) -> None:
        """Delete every argoproj.io Application (a reset); finalizers dropped, resources left to the reset."""
        with Kube(self.kubeconfig, self.context, timeout_s=10) as kube:
            if kube.is_namespaced(APP_API, "Application") is None:
                return
            apps = kube.list(APP_API, "Application", install.NAMESPACE)
            for app in apps:
                name = app["metadata"]["name"]
                no_finalizers = {"metadata": {"finalizers": None}}
                kube.patch(APP_API, "Application", name, install.NAMESPACE, no_finalizers)
                kube.delete(APP_API, "Application", name, install.NAMESPACE)
            if apps:
                progress(f"deleted {len(apps)} Argo CD Application(s)")

            def gone() -> bool:
                left = kube.list(APP_API, "Application", install.NAMESPACE)
                for app in left:  # Argo CD may add its finalizer back while the delete is in flight
                    no_finalizers = {"metadata": {"finalizers": None}}
                    kube.patch(
                        APP_API, "Application", app["metadata"]["name"], install.NAMESPACE, no_finalizers
                    )
                return not left

            kube.wait_for(gone, 30, "Argo CD's Applications to be deleted")

    # -- what it is doing -----------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"127.0.0.1:{processes.server_port(self.state_dir)}"

    @property
    def enabled(self) -> bool:
        return (self.state_dir / INFO).exists()

    def status(self) -> dict[str, Any] | None:
        """``labkit status --json``'s ``argocd``: version, server, pids and process states; None when off."""
        if not self.enabled:
            return None
        info = json.loads((self.state_dir / INFO).read_text())
        programs = supervisor.read_status(self.state_dir).get("programs", {})
        pids = {n: programs.get(n, {}).get("pid") for n in processes.NAMES}
        states = {n: programs.get(n, {}).get("state", "not registered") for n in processes.NAMES}
        return {
            "version": info.get("version"),
            "server": f"http://{self.server}",
            "pids": pids,
            "states": states,
        }

    def version(self) -> str:
        path = toolchain.tool_path("argocd", self.settings)
        return run([str(path), "version", "--client", "--short"], timeout=30).stdout.strip()

    # -- the learner's argocd CLI ----------------------------------------------------------------

    @property
    def cli_config(self) -> Path:
        return processes.home(self.state_dir) / "cli-config"

    def env(self) -> dict[str, str]:
        """What ``labkit env`` exports so a plain ``argocd`` finds this lab's logged-in config."""
        return {"ARGOCD_OPTS": f"--config {shlex.quote(str(self.cli_config))}"}

    def login(self) -> None:
        password = install.admin_password(self.state_dir)
        self.run(
            "login",
            self.server,
            "--plaintext",
            "--username",
            "admin",
            "--password",
            password,
            "--name",
            f"labkit-{self.settings.lab}",
            echo=False,
        )
        self.cli_config.chmod(0o600)

    def run(self, *args: str, echo: bool = True, check: bool = True, timeout: float = 120) -> str:
        """Run ``argocd ARGS`` as the learner would (echoed as ``$ argocd …``); its output."""
        if echo:
            print("$ argocd " + shlex.join(args))
        path = toolchain.tool_path("argocd", self.settings)
        result = run([str(path), *args], env=self.env(), timeout=timeout, check=check)
        output = result.stdout + (result.stderr if not result.ok else "")
        if echo and output:
            print(output.rstrip())
        return output

    def _wait_for_server(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.server}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            state = supervisor.read_status(self.state_dir).get("programs", {}).get("argocd-server", {})
            if state.get("state") == "gave-up":
                break
            time.sleep(0.3)
        log = processes.home(self.state_dir) / "logs" / "argocd-server.log"
        raise CommandError(["argocd-server"], 1, "\n".join(_tail(log, 15)), hint=f"read {log}")


def _tail(path: Path, n: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []
