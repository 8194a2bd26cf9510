"""The Lab facade: one object for the lab's cluster, Git server, controller and timeline.

``Lab.up()`` is what ``labkit up``, ``make lab``, the notebooks and the test
fixture call. It reuses a running lab (in well under 3 s), recreates a stale
one (a ``lab.json`` whose cluster died), or creates one: cluster backend
(:mod:`labkit.cluster`), ``labkit`` namespace, webhook secret, bare Git repo
plus working clone with the post-receive hook (:mod:`labkit.git`), then the
Application CRD and the controller (extension points filled by the
controller's owner), and ``lab.json`` last. Every step that fails undoes what
this call created. ``up``, ``down`` and ``reset`` hold the lab's lock, so two
at once wait for each other. State layout: docs/internals.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from labkit import agent, githttp, ports, supervisor
from labkit.argocd import ArgoCD
from labkit.cluster import cleanup, detect_backend, kubectl, make_backend
from labkit.cluster.base import Backend, venv_bin, write_private
from labkit.cluster.detect import requested_backend
from labkit.cluster.labstate import LabRecord, lab_lock, read_record, write_record
from labkit.cluster.toolchain import tool_dirs, tool_versions
from labkit.errors import ClusterError, CommandError, KubeError, LabkitError, LabStateError
from labkit.events import Timeline
from labkit.flux import Flux
from labkit.git import LabRepo
from labkit.gitops.application import API_VERSION, KIND, crd_manifest
from labkit.hook import render_hook_script
from labkit.kube import Kube
from labkit.lab_tools import LabTools
from labkit.proc import Runner, run
from labkit.settings import Settings

Progress = Callable[[str], None]
ENGINE_NAMESPACES = ("argocd", "flux-system")
"""The real engines' own namespaces: part of the lab's baseline, never deleted by a reset."""
LAB_NAMESPACE = "labkit"
MANAGED_BY = cleanup.MANAGED_BY


class Lab(LabTools):
    """A running lab. Make one with :meth:`up` or :meth:`attach`, never directly."""

    def __init__(self, settings: Settings, record: LabRecord, backend: Backend, runner: Runner = run) -> None:
        self.settings = settings
        self.record = record
        self.backend = backend
        self.runner = runner

    # -- where things are -------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def kubeconfig(self) -> Path:
        return Path(self.record.kubeconfig)

    @property
    def context(self) -> str:
        return self.record.context

    @property
    def timeline(self) -> Timeline:
        return Timeline(self.state_dir / "timeline.jsonl")

    @property
    def repo(self) -> LabRepo:
        return LabRepo(self.state_dir / "repos" / "gitops.git", self.state_dir / "repos" / "gitops-work")

    def kube(self) -> Kube:
        """A new API client for the lab's cluster (close it, or use it in a ``with``)."""
        return Kube(self.kubeconfig, self.context)

    def env(self) -> dict[str, str]:
        """Environment that points kubectl, git and labkit at this lab (used by `labkit env`/`jupyter`)."""
        path = os.environ.get("PATH", os.defpath).split(os.pathsep)
        first = [str(venv_bin()), *(str(p) for p in tool_dirs(self.settings))]
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": os.pathsep.join([*first, *(p for p in path if p not in first)]),
            "LABKIT_HOME": str(self.settings.home),
            "LABKIT_LAB": self.settings.lab,
            "LABKIT_REPO": str(self.repo.work),
            **self.argocd.env(),
        }

    @property
    def argocd(self) -> ArgoCD:
        """The real Argo CD on this lab (``lab.argocd.up()``, ``.status()``, ``.run("app", "list")``)."""
        return ArgoCD(self.settings, self.kubeconfig, self.context)

    @property
    def flux(self) -> Flux:
        """The real Flux on this lab (``lab.flux.up()``, ``.get()``, ``.reconcile("kustomization", "x")``)."""
        return Flux(self.settings, self.kubeconfig, self.context)

    # -- lifecycle ----------------------------------------------------------------

    @classmethod
    def up(
        cls,
        settings: Settings | None = None,
        *,
        backend: str | None = None,
        context: str | None = None,
        progress: Progress = print,
        runner: Runner = run,
        with_: tuple[str, ...] = (),
    ) -> Lab:
        """Reuse the running lab, or recreate a stale one, or create a new one; return it.

        ``with_=("argocd",)`` also brings the real Argo CD up, ``("flux",)`` the real Flux
        (each built on first use).
        """
        unknown = set(with_) - {"argocd", "flux"}
        if unknown:
            raise LabStateError(
                f"unknown engine(s) {sorted(unknown)}", hint="labkit up --with argocd --with flux"
            )
        settings = settings or Settings()
        start = time.monotonic()
        try:
            with _locked(settings, progress, "labkit up"):
                lab = cls._up_locked(settings, backend, context, progress, runner)
        except BaseException:
            # A refused or failed first `up` leaves no lab directory behind (only the lock was in it).
            if settings.state_dir.is_dir() and {p.name for p in settings.state_dir.iterdir()} <= {".lock"}:
                shutil.rmtree(settings.state_dir, ignore_errors=True)
            raise
        progress(f"lab {settings.lab!r} ready ({lab.backend.name}) in {time.monotonic() - start:.1f} s")
        if "argocd" in with_:
            lab.argocd.up(progress)
        if "flux" in with_:
            lab.flux.up(progress)
        return lab

    @classmethod
    def _up_locked(
        cls, settings: Settings, backend: str | None, context: str | None, progress: Progress, runner: Runner
    ) -> Lab:
        lab, stale = cls._reuse(settings, backend, context, progress, runner)
        if lab is not None:
            return lab
        if stale is not None:
            # Recreate the same kind of lab that went stale, unless told otherwise.
            backend = backend or stale.backend
            context = (context or stale.context) if backend == "kubeconfig" else context
        chosen, checks = detect_backend(backend, runner, settings=settings, context=context)
        for check in checks:
            progress(check.line())
        return cls._create(settings, chosen, progress, runner)

    @classmethod
    def attach(cls, settings: Settings | None = None, *, runner: Runner = run) -> Lab:
        """The running lab, without creating anything; LabStateError when there is none."""
        settings = settings or Settings()
        record = read_record(settings.state_dir)
        if record is None:
            raise LabStateError(f"no lab is running (nothing in {settings.state_dir})", hint="labkit up")
        backend = make_backend(record.backend, settings, runner, context=record.context)
        if not backend.running():
            raise LabStateError(
                f"the {record.backend} lab in {settings.state_dir} is not running any more (stale)",
                hint="labkit up (it recreates the cluster and keeps the Git repository)",
            )
        return cls(settings, record, backend, runner)

    @classmethod
    def _reuse(
        cls, settings: Settings, backend: str | None, context: str | None, progress: Progress, runner: Runner
    ) -> tuple[Lab | None, LabRecord | None]:
        """(the running lab, None), or (None, the stale record it cleaned up), or (None, None)."""
        record = read_record(settings.state_dir)
        if record is None:
            return None, None
        wanted = requested_backend(backend, context, os.environ)
        if wanted is not None and (wanted[0], context or record.context) != (record.backend, record.context):
            raise LabStateError(
                f"a {record.backend} lab (context {record.context}) is already up in {settings.state_dir}",
                hint=f"run `labkit down` first, then `labkit up --backend {wanted[0]}`",
            )
        found = make_backend(record.backend, settings, runner, context=record.context)
        if found.running() and kubectl.api_ready(runner, Path(record.kubeconfig), record.context):
            lab = cls(settings, record, found, runner)
            lab._start_controller(progress)
            progress(f"reusing the running {record.backend} lab in {settings.state_dir}")
            return lab, None
        progress(
            f"found a stale {record.backend} lab in {settings.state_dir} (its cluster is gone); recreating it"
        )
        cls._stop_controller(settings.state_dir)
        found.delete()
        (settings.state_dir / "lab.json").unlink(missing_ok=True)
        return None, record

    @classmethod
    def _create(cls, settings: Settings, backend: Backend, progress: Progress, runner: Runner) -> Lab:
        state_dir = settings.state_dir
        before = {p.name for p in state_dir.iterdir()}
        made_namespace = False
        try:
            backend.create(progress)
            with Kube(backend.kubeconfig, backend.context) as kube:
                baseline = sorted(ns["metadata"]["name"] for ns in kube.list("v1", "Namespace"))
                made_namespace = LAB_NAMESPACE not in baseline
                kube.ensure_namespace(LAB_NAMESPACE, labels=MANAGED_BY)
                if not (state_dir / "webhook.secret").exists():
                    write_private(state_dir / "webhook.secret", secrets.token_hex(32) + "\n")
                _ensure_repo(settings, progress)
                record = LabRecord(
                    backend=backend.name,
                    kubeconfig=str(backend.kubeconfig),
                    context=backend.context,
                    cluster_name=getattr(backend, "cluster", backend.context),
                    created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    baseline_namespaces=baseline,
                )
                lab = cls(settings, record, backend, runner)
                lab._install_crds(kube, progress)
            lab._start_controller(progress)
            write_record(state_dir, record)
            lab.timeline.append("lab", "up", backend=backend.name, context=backend.context)
            return lab
        except BaseException:
            progress("labkit up did not finish; removing what it created")
            cls._undo(settings, backend, before, made_namespace)
            raise

    @classmethod
    def _undo(cls, settings: Settings, backend: Backend, keep: set[str], made_namespace: bool) -> None:
        with suppress(Exception):
            cls._stop_controller(settings.state_dir)
        if made_namespace and not backend.owns_cluster:
            with suppress(Exception), Kube(backend.kubeconfig, backend.context, timeout_s=5) as kube:
                kube.delete("v1", "Namespace", LAB_NAMESPACE, propagation="Background")
        with suppress(Exception):
            backend.delete()
        for path in settings.state_dir.iterdir():
            if path.name not in keep and path.name != ".lock":
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def down(self, progress: Progress = print) -> None:
        """Stop the controller, delete the cluster (if labkit made it) and the lab directory."""
        Lab.teardown(self.settings, progress=progress, runner=self.runner)

    @classmethod
    def teardown(
        cls, settings: Settings | None = None, *, progress: Progress = print, runner: Runner = run
    ) -> bool:
        """What `labkit down` does; works with or without a lab. True if something was up."""
        settings = settings or Settings()
        state_dir = settings.state_dir
        if not state_dir.exists():
            progress(f"nothing to do: no lab in {state_dir}")
            return False
        with _locked(settings, progress, "labkit down"):
            record = read_record(state_dir)
            borrowed = None
            if record is not None:
                backend = make_backend(record.backend, settings, runner, context=record.context)
                if not backend.owns_cluster:
                    # On a cluster labkit does not own, the engines' objects go while the engines still
                    # run: their finalizers would otherwise hold the namespaces forever.
                    borrowed = Lab(settings, record, backend, runner)
                    borrowed._delete_engine_objects(progress)
            cls._stop_controller(state_dir)
            found = bool(record) or (state_dir / "kwok").exists()
            if record is not None:
                if borrowed is not None:
                    borrowed._delete_lab_namespaces(progress, everything=True)
            else:
                # A `labkit up` killed before writing lab.json can leave kwok processes behind.
                backend = make_backend("kwok", settings, runner)
            progress(
                f"deleting the {backend.name} cluster" if backend.owns_cluster else "forgetting the context"
            )
            backend.delete()
            shutil.rmtree(state_dir, ignore_errors=True)
        progress(
            f"lab {settings.lab!r} is down; {state_dir} removed"
            if found
            else f"nothing was up in {state_dir}"
        )
        return found

    def reset(self, progress: Progress = print) -> float:
        """Back to the starter state (no Applications or lab namespaces, starter repo); returns seconds."""
        start = time.monotonic()
        with _locked(self.settings, progress, "labkit reset"):
            self._delete_applications(progress)
            if self.argocd.enabled:
                self.argocd.delete_applications(progress)
            if self.flux.enabled:
                self.flux.delete_objects(progress)
            self._delete_lab_namespaces(progress, everything=False)
            sha = self.repo.reset_to_starter(self.settings.starter_repo)
            progress(f"repository reset to the starter content ({sha[:12]})")
            self.timeline.append("lab", "reset", revision=sha)
        return time.monotonic() - start

    # -- what reset and down remove ------------------------------------------------

    def _delete_engine_objects(self, progress: Progress) -> None:
        """Argo CD's Applications and Flux's objects, if those engines run (never raises on a dead API)."""
        with suppress(LabkitError):
            if self.argocd.enabled:
                self.argocd.delete_applications(progress)
        with suppress(LabkitError):
            if self.flux.enabled:
                self.flux.delete_objects(progress)

    def _delete_applications(self, progress: Progress) -> None:
        with self.kube() as kube:
            apps = kube.list(API_VERSION, KIND, LAB_NAMESPACE)
            for app in apps:
                name = app["metadata"]["name"]
                kube.delete(API_VERSION, KIND, name, LAB_NAMESPACE, propagation="Background")
            if apps:
                progress(f"deleted {len(apps)} Application(s)")

            def gone() -> bool:
                left = kube.list(API_VERSION, KIND, LAB_NAMESPACE)
                # A finalizer nobody serves (controller stopped) would block forever: drop it after a grace.
                if left and time.monotonic() - start > 3:
                    for app in left:
                        patch = {"metadata": {"finalizers": None}}
                        kube.patch(API_VERSION, KIND, app["metadata"]["name"], LAB_NAMESPACE, patch)
                return not left

            start = time.monotonic()
            kube.wait_for(gone, 30, "the lab's Applications to be deleted")

    def _delete_lab_namespaces(self, progress: Progress, *, everything: bool) -> None:
        """Delete namespaces the lab made (plus ``labkit`` itself when ``everything``) and wait."""
        engines = set() if everything else {LAB_NAMESPACE, *ENGINE_NAMESPACES}
        keep = set(self.record.baseline_namespaces) | engines
        args = (self.runner, self.kubeconfig, self.context)
        try:
            doomed = cleanup.lab_namespaces(*args, keep=keep, owned_cluster=self.backend.owns_cluster)
            if doomed:
                progress(f"deleting namespaces {', '.join(doomed)} (Kubernetes takes ~5 s)")
            cleanup.delete_namespaces(*args, doomed)
        except (ClusterError, CommandError):
            if not everything:  # `down` of a borrowed cluster that is gone goes on regardless
                raise

    # -- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What `labkit status --json` prints."""
        nodes: int | None
        try:
            with Kube(self.kubeconfig, self.context, timeout_s=5) as kube:
                nodes = kube.nodes_ready()
        except KubeError:
            nodes = None
        repo = self.repo
        return {
            "lab": self.settings.lab,
            "backend": self.backend.name,
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "cluster_name": self.record.cluster_name,
            "running": self.backend.running(),
            "nodes_ready": nodes,
            "repo": {
                "bare": str(repo.bare),
                "work": str(repo.work),
                "url": repo.url,
                "http_url": repo.http_url,
            },
            "state_dir": str(self.state_dir),
            "created_at": self.record.created_at,
            "controller": self._controller_status(),
            "processes": supervisor.read_status(self.state_dir).get("programs", {}),
            "argocd": self.argocd.status(),
            "flux": self.flux.status(),
            "tools": tool_versions(self.settings),
            "timeline": str(self.state_dir / "timeline.jsonl"),
        }

    # -- extension points: the controller's owner fills these in ----------------------

    def _install_crds(self, kube: Kube, progress: Progress) -> None:
        """Install the Application CRD, so `kubectl get applications` works."""
        kube.ensure_crd(crd_manifest())
        progress("installed the Application CRD (applications.labkit.dev)")

    def _start_controller(self, progress: Progress) -> None:
        """Start the lab's supervisor; register the pull agent and the Git HTTP server (every ``up``)."""
        supervisor.ensure_running(self.state_dir)
        env = {"LABKIT_HOME": str(self.settings.home), "LABKIT_LAB": self.settings.lab}
        git_http = supervisor.Program(
            "git-http",
            tuple(githttp.argv(self.state_dir, ports.port(self.state_dir, "git-http"))),
            str(self.state_dir / "git-http.log"),
            env=env,
        )
        for program in (agent.program(self.state_dir, env), git_http):
            if supervisor.register(self.state_dir, program):
                progress(f"registered {program.name} with the lab's supervisor")
        info = agent.wait_until_listening(self.state_dir)
        supervisor.wait_for_pid(self.state_dir, "git-http")
        progress(f"controller running (pid {info.pid}), webhook {info.webhook_url}")

    @classmethod
    def _stop_controller(cls, state_dir: Path) -> None:
        """Stop the supervisor and with it every process the lab started."""
        supervisor.stop(state_dir)


def _ensure_repo(settings: Settings, progress: Progress) -> LabRepo:
    """Keep a lab's existing repository (a stale lab's history survives), or create it from the starter."""
    bare, work = settings.state_dir / "repos" / "gitops.git", settings.state_dir / "repos" / "gitops-work"
    hook = render_hook_script(sys.executable, settings.state_dir)
    if (bare / "HEAD").is_file() and (work / ".git").exists():
        repo = LabRepo(bare, work)
        repo.install_hook(hook)
        progress(f"keeping the lab's Git repository ({bare})")
        return repo
    shutil.rmtree(settings.state_dir / "repos", ignore_errors=True)
    progress(f"creating the Git server {bare} and the working clone {work}")
    return LabRepo.create(bare, work, settings.starter_repo, hook=hook)


@contextmanager
def _locked(settings: Settings, progress: Progress, what: str) -> Iterator[None]:
    with lab_lock(
        settings.state_dir, timeout_s=settings.cluster.lock_timeout_s, progress=progress, what=what
    ):
        yield
