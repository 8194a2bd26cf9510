"""The Lab facade's hands-on tools: apps, drift, the push pipeline, kubectl, the dashboard.

:class:`labkit.Lab` inherits these so a notebook needs one object:
``lab.create_app(...)``, ``lab.apps.sync(...)``, ``lab.drift.scale(...)``,
``lab.pipeline.enable(...)``, ``lab.kubectl("get", "pods", "-A")``,
``lab.dashboard()``. Each is a thin door into the module that does the work;
the widgets and plots are imported only when asked for, so ``import labkit``
stays light.
"""

from __future__ import annotations

import functools
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit import agent, supervisor
from labkit.apps import AppClient
from labkit.drift import DriftInjector
from labkit.events import Timeline
from labkit.git import LabRepo
from labkit.kube import Kube
from labkit.proc import run
from labkit.push import PushPipeline
from labkit.settings import Settings

if TYPE_CHECKING:
    from labkit.ui.widgets import Dashboard

Manifest = dict[str, Any]


class LabTools:
    """Mixed into :class:`labkit.Lab`; relies on its paths and ``kube()``."""

    settings: Settings

    # -- provided by Lab ---------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        raise NotImplementedError

    @property
    def kubeconfig(self) -> Path:
        raise NotImplementedError

    @property
    def context(self) -> str:
        raise NotImplementedError

    @property
    def timeline(self) -> Timeline:
        raise NotImplementedError

    @property
    def repo(self) -> LabRepo:
        raise NotImplementedError

    def kube(self) -> Kube:  # provided by Lab
        raise NotImplementedError

    def env(self) -> dict[str, str]:  # provided by Lab
        raise NotImplementedError

    @functools.cached_property
    def client(self) -> Kube:
        """One long-lived API client for the tools below."""
        return self.kube()

    @functools.cached_property
    def apps(self) -> AppClient:
        """Applications: create, sync, refresh, set policy, diff, rollback (writes to the Application)."""
        return AppClient(self.client)

    @functools.cached_property
    def drift(self) -> DriftInjector:
        """Change the cluster by hand with real kubectl, as a learner (or a hotfix) would."""
        return DriftInjector(self.kubeconfig, self.timeline, context=self.context or None)

    @functools.cached_property
    def pipeline(self) -> PushPipeline:
        """The push-model CI job that the Git server's hook runs when enabled."""
        return PushPipeline(self.state_dir)

    def create_app(
        self,
        name: str,
        path: str,
        namespace: str | None = None,
        *,
        auto_sync: bool = False,
        self_heal: bool = False,
        prune: bool = False,
        **options: Any,
    ) -> Manifest:
        """An Application for ``path`` of the lab's repo, deploying to ``namespace`` (default: name)."""
        options.setdefault("sync_options", ("CreateNamespace=true",))
        return self.apps.create(
            name,
            self.repo.url,
            path,
            namespace or name,
            auto_sync=auto_sync,
            self_heal=self_heal,
            prune=prune,
            **options,
        )

    def kubectl(self, *args: str, echo: bool = True, check: bool = True) -> str:
        """Run the real kubectl against the lab; print the command and its output."""
        argv = [str(Path(self.env()["PATH"].split(":")[0]) / "kubectl"), *args]
        if echo:
            print("$ kubectl " + shlex.join(args))  # pasteable as shown
        result = run(argv, env=self.env(), check=check)
        out = result.stdout + (result.stderr if not result.ok else "")
        if echo and out:
            print(out.rstrip())
        return result.stdout

    def dashboard(self) -> Dashboard:
        """The ipywidgets dashboard: status from a watch, buttons that write to Git or the Application."""
        from labkit.ui.widgets import Dashboard

        return Dashboard(self.apps, self.repo, self.timeline, kube=self.client, drift=self.drift)

    def _controller_status(self) -> dict[str, Any] | None:
        """``status()["controller"]``: where the running pull agent is, or None."""
        info = agent.read_info(self.state_dir)
        if info is None or not info.alive:
            return None
        return {"pid": info.pid, "webhook_url": info.webhook_url}

    def controller_restart(self) -> int:
        """Stop the pull agent and start a new one (used by the fault experiments); the new pid."""
        env = {"LABKIT_HOME": str(self.settings.home), "LABKIT_LAB": self.settings.lab}
        old = agent.read_info(self.state_dir)
        supervisor.register(self.state_dir, agent.program(self.state_dir, env), restart=True)
        deadline = time.monotonic() + 30
        while old is not None and old.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        return agent.wait_until_listening(self.state_dir).pid
