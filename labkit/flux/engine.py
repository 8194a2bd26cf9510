"""``lab.flux``: bring the real Flux up or down on the lab, read its objects, ask for a reconcile.

The facade over :mod:`~labkit.flux.install` (cluster side),
:mod:`~labkit.flux.processes` (what runs), :mod:`~labkit.flux.objects` (what
``flux get`` and ``flux reconcile`` do) and the lab's supervisor (who keeps
the controllers running). ``<state_dir>/flux.json`` exists while Flux is up:
it tells ``labkit status`` and the post-receive hook (:func:`labkit.forge.notify_flux`,
which asks every GitRepository of the lab's repository to reconcile after a
push) that Flux runs here. Used by :class:`labkit.Lab` (``lab.flux``, ``up
--with flux``, ``reset``), ``labkit flux up|down|status|get|reconcile`` and
the integration tests.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from labkit import supervisor
from labkit.cluster import toolchain
from labkit.errors import KubeError, LabkitError, LabStateError
from labkit.flux import install, objects, processes
from labkit.kube import Kube
from labkit.settings import Settings

Progress = Callable[[str], None]
INFO = "flux.json"
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Talks to 127.0.0.1 directly, whatever HTTP_PROXY says."""
DELETE_GRACE_S = 15.0
"""How long ``down``/``reset`` let the controllers run their finalizers before dropping them, in seconds."""


class Flux:
    """The real Flux of one lab."""

    def __init__(self, settings: Settings, kubeconfig: Path, context: str) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self.kubeconfig = kubeconfig
        self.context = context

    def kube(self, timeout_s: float = 30) -> Kube:
        return Kube(self.kubeconfig, self.context, timeout_s=timeout_s)

    # -- lifecycle ------------------------------------------------------------------------------

    def up(self, progress: Progress = print) -> dict[str, Any] | None:
        """Build on first use, install the CRDs, start both controllers, wait until ready; status()."""
        start = time.monotonic()
        tools = toolchain.ensure(self.settings, progress=progress, groups=("flux",))
        binaries = {name: tools.path(name) for name in processes.NAMES}
        processes.write_kubeconfig(self.state_dir, self.kubeconfig, self.context)
        with self.kube() as kube:
            install.install(kube, self.settings, progress)
        supervisor.ensure_running(self.state_dir)
        for program in processes.programs(self.state_dir, binaries):
            if supervisor.register(self.state_dir, program):
                progress(f"registered {program.name} with the lab's supervisor")
        for name in processes.NAMES:
            supervisor.wait_for_pid(self.state_dir, name, timeout_s=30)
        self._wait_ready(timeout_s=60)
        info = {
            "version": self.settings.versions.flux,
            "namespace": install.NAMESPACE,
            "storage": f"http://{processes.storage_address(self.state_dir)}",
            "health": processes.health_addresses(self.state_dir),
        }
        (self.state_dir / INFO).write_text(json.dumps(info))
        progress(
            f"Flux (source-controller, kustomize-controller {info['version']}) ready in "
            f"{time.monotonic() - start:.1f} s; try: labkit flux get"
        )
        return self.status()

    def down(self, progress: Progress = print) -> None:
        """Delete every Flux object first (the controllers serve their finalizers), then stop them."""
        with suppress(KubeError):
            self.delete_objects(progress)
        (self.state_dir / INFO).unlink(missing_ok=True)
        for name in reversed(processes.NAMES):
            supervisor.unregister(self.state_dir, name)
        progress("Flux stopped (namespace flux-system and the CRDs stay for the next `labkit flux up`)")

    def delete_objects(self, progress: Progress = print) -> None:
        """Delete every Kustomization, then every source, in all namespaces, and wait until they are gone.

        A Kustomization with ``prune: true`` takes the objects it applied with it.
        Finalizers left after :data:`DELETE_GRACE_S` (controllers not running) are dropped.
        """
        with self.kube() as kube:
            doomed = [o for api, kind in objects.ALL_KINDS for o in kube.list(api, kind)]
            for obj in doomed:
                meta = obj["metadata"]
                kube.delete(
                    obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"], propagation="Background"
                )
            if not doomed:
                return
            progress(f"deleting {len(doomed)} Flux object(s); the controllers run their finalizers")
            start = time.monotonic()

            def gone() -> bool:
                left = [o for api, kind in objects.ALL_KINDS for o in kube.list(api, kind)]
                if left and time.monotonic() - start > DELETE_GRACE_S:
                    for obj in left:
                        meta = obj["metadata"]
                        no_finalizers = {"metadata": {"finalizers": None}}
                        kube.patch(
                            obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"], no_finalizers
                        )
                return not left

            kube.wait_for(gone, DELETE_GRACE_S + 15, "Flux's objects to be deleted")

    # -- what it is doing -----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return (self.state_dir / INFO).exists()

    def status(self) -> dict[str, Any] | None:
        """``labkit status --json``'s ``flux``: version, pids and process states; None when off."""
        if not self.enabled:
            return None
        info = json.loads((self.state_dir / INFO).read_text())
        programs = supervisor.read_status(self.state_dir).get("programs", {})
        return {
            "version": info.get("version"),
            "namespace": info.get("namespace"),
            "pids": {n: programs.get(n, {}).get("pid") for n in processes.NAMES},
            "states": {n: programs.get(n, {}).get("state", "not registered") for n in processes.NAMES},
        }

    def get(self, kind: str | None = None, namespace: str | None = None) -> list[objects.Row]:
        """GitRepositories and Kustomizations (or only ``kind``), all namespaces unless one is given."""
        kinds = [objects.kind_of(kind)] if kind else list(objects.KINDS.values())
        with self.kube() as kube:
            found = [o for api, k in kinds for o in kube.list(api, k, namespace)]
        return objects.rows(found)

    def reconcile(
        self,
        kind: str,
        name: str,
        namespace: str = install.NAMESPACE,
        *,
        with_source: bool = False,
        timeout_s: float = 60,
        progress: Progress = print,
    ) -> objects.Row:
        """What ``flux reconcile`` does: annotate, wait until the controller handled it; its row after.

        ``with_source`` reconciles a Kustomization's source first, as ``--with-source`` does.
        """
        api, k = objects.kind_of(kind)
        with self.kube() as kube:
            if with_source and k == "Kustomization":
                ref = _existing(kube, api, k, name, namespace)["spec"]["sourceRef"]
                self._request(
                    kube,
                    objects.SOURCE_API,
                    ref["kind"],
                    ref["name"],
                    ref.get("namespace") or namespace,
                    timeout_s,
                    progress,
                )
            return self._request(kube, api, k, name, namespace, timeout_s, progress)

    def _request(
        self, kube: Kube, api: str, kind: str, name: str, namespace: str, timeout_s: float, progress: Progress
    ) -> objects.Row:
        obj = _existing(kube, api, kind, name, namespace)
        if (obj.get("spec") or {}).get("suspend"):
            raise LabkitError(
                f"{kind} {namespace}/{name} is suspended",
                hint=f"kubectl edit {kind.lower()} -n {namespace} {name} (spec.suspend: false)",
            )
        token = objects.request_token()
        target = f"-n {namespace} {kind.lower()}/{name}"
        progress(f"$ kubectl annotate --overwrite {target} {objects.REQUESTED_AT}={token}")
        kube.patch(api, kind, name, namespace, objects.request_patch(token))
        progress(f"waiting for {kind} {namespace}/{name} to be reconciled (status.lastHandledReconcileAt)")
        latest: dict[str, Any] = {}

        def done() -> bool:
            latest["obj"] = kube.get(api, kind, name, namespace)
            return objects.handled(latest["obj"], token)

        kube.wait_for(done, timeout_s, f"{kind} {namespace}/{name} to handle the reconcile request")
        return objects.row(latest["obj"])

    def _wait_ready(self, timeout_s: float) -> None:
        """Both controllers answer ``/readyz`` on their health listener."""
        deadline = time.monotonic() + timeout_s
        waiting = dict(processes.health_addresses(self.state_dir))
        while waiting and time.monotonic() < deadline:
            for name, addr in list(waiting.items()):
                with suppress(OSError), _LOCAL.open(f"http://{addr}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        del waiting[name]
            state = supervisor.read_status(self.state_dir).get("programs", {})
            if any(state.get(n, {}).get("state") == "gave-up" for n in waiting):
                break
            time.sleep(0.2)
        if waiting:
            logs = " ".join(str(processes.home(self.state_dir) / "logs" / f"{n}.log") for n in waiting)
            raise LabStateError(
                f"Flux's {', '.join(waiting)} did not get ready within {timeout_s:.0f} s",
                hint=f"tail -n 30 {logs}",
            )


def _existing(kube: Kube, api: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
    obj = kube.get(api, kind, name, namespace)
    if obj is None:
        raise LabStateError(f"no {kind} {namespace}/{name}", hint="labkit flux get (lists what there is)")
    return obj
