"""Git -> desired objects: read an Application's path at a revision and render it.

Argo CD's repo-server, in process. ``labkit.gitops.refresh`` calls
:meth:`SourceCache.resolve`; ``labkit.gitops.comparer``,
``labkit.gitops.operations`` (when a sync starts) and ``labkit.apps``
(``labkit app diff``) call :meth:`SourceCache.desired` whenever they need the
state Git declares. Rendering is cached by (commit sha, path, Helm
parameters), the newest :data:`RENDERS_KEPT` commits per app: a commit never
changes, so the same revision is rendered once however often the app is
compared (Argo CD's repo-server keeps the same kind of cache). A hard refresh
(``labkit.dev/refresh: hard``) clears it. The commit itself is exported once
(:class:`Checkouts`) and shared by every app that renders it: one push to a
repository of 1,000 apps is one export, not 1,000 (Argo CD's repo-server
likewise keeps one checkout per repository and renders many apps from it).

Local repositories (``file://`` URLs or plain paths: the lab's bare
repository on disk) are read in place; http(s) repositories (the lab's Git
server over HTTP, as Argo CD and Flux read it) through a local mirror that a
refresh fetches, as Argo CD's repo-server keeps a clone per repository.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from labkit import git
from labkit.errors import GitError
from labkit.events import Timeline
from labkit.gitops.render import RenderError, render

Manifest = dict[str, Any]


RENDERS_KEPT = 3
"""Rendered commits kept per app (1,000 apps x every commit would grow without end)."""


class SourceError(GitError):
    """The Application's source cannot be read (repo, revision or path)."""


@dataclass(frozen=True)
class Desired:
    """What Git declares for one app at one commit."""

    revision: str
    objects: tuple[Manifest, ...]


def repo_path(repo_url: str) -> Path:
    """The bare repository on disk that a ``file://`` URL (or plain path) names."""
    parsed = urlparse(repo_url)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    raise SourceError(
        f"repoURL {repo_url!r} is neither a local repository nor http(s)",
        hint="use the lab's Git server: `labkit repo url` (file) or repo.http_url in `labkit status --json`",
    )


def is_remote(repo_url: str) -> bool:
    return urlparse(repo_url).scheme in ("http", "https")


@dataclass
class _Checkout:
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    sha: str = ""
    """Set once the export is complete."""
    users: int = 0
    last_used: int = 0


class Checkouts:
    """Commits exported to disk, each once, shared by every app that renders it.

    The whole tree is exported, as a Kustomize overlay may refer to
    ``../../base`` outside its app's folder; renders only read it. The
    ``keep`` most recently used commits stay on disk (fewer while in use);
    older ones are deleted when nobody renders from them. Each export is one
    ``checkout_exported`` event on the ``timeline`` (when given): every app's
    first render of a new commit waits for it, which the what-if model
    (``labkit.sim.fit``) fits.
    """

    def __init__(self, root: Path, keep: int = 4, timeline: Timeline | None = None) -> None:
        self.root, self.keep, self.timeline = root, keep, timeline
        shutil.rmtree(root, ignore_errors=True)  # an earlier agent's checkouts: nobody uses them now
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Checkout] = {}
        self._uses = 0

    @contextmanager
    def checkout(self, bare: Path, revision_sha: str) -> Iterator[tuple[Path, str]]:
        """(the exported tree's root, its full sha), held for the duration of the block."""
        key = (str(bare), revision_sha)
        with self._lock:
            self._uses += 1
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Checkout(self.root / f"tree-{self._uses}")
            entry.users, entry.last_used = entry.users + 1, self._uses
        try:
            with entry.lock:
                if not entry.sha:
                    shutil.rmtree(entry.path, ignore_errors=True)  # a failed export's leftovers
                    started = time.monotonic()
                    entry.sha = git.export_tree(bare, revision_sha, ".", entry.path)
                    self._exported(entry, time.monotonic() - started)
            yield entry.path, entry.sha
        finally:
            with self._lock:
                entry.users -= 1
                self._evict()

    def _exported(self, entry: _Checkout, took_s: float) -> None:
        if self.timeline is not None:
            files = sum(len(names) for _, _, names in os.walk(entry.path))
            self.timeline.append(
                "controller",
                "checkout_exported",
                revision=entry.sha,
                duration_s=round(took_s, 4),
                files=files,
            )

    def _evict(self) -> None:
        idle = sorted((e.last_used, k) for k, e in self._entries.items() if e.users == 0)
        for _, key in idle[: max(len(self._entries) - self.keep, 0)]:
            shutil.rmtree(self._entries.pop(key).path, ignore_errors=True)


class SourceCache:
    """Resolve revisions and render app paths, remembering rendered commits."""

    def __init__(
        self,
        is_namespaced: Callable[[str, str], bool | None] | None = None,
        mirrors: Path | None = None,
        timeline: Timeline | None = None,  # None: exports are not recorded (``labkit app diff``)
    ) -> None:
        self.is_namespaced = is_namespaced
        # (app, path, namespace, helm) -> sha -> objects, the newest RENDERS_KEPT commits per app:
        # the one deployed and the one a refresh found are what the controller asks for.
        self._rendered: dict[tuple[str, str, str, str], dict[str, tuple[Manifest, ...]]] = {}
        self._lock = threading.Lock()
        # Local clones of http(s) repositories; a private temporary folder when none is given.
        if mirrors is None:
            # A private folder, deleted with this cache (quietly: a SourceCache is often short-lived).
            mirrors = Path(tempfile.mkdtemp(prefix="labkit-mirrors-"))
            weakref.finalize(self, shutil.rmtree, mirrors, True)
        self.mirrors = mirrors
        self._fetches: dict[str, tuple[threading.Lock, float]] = {}
        self.checkouts = Checkouts(self.mirrors / "checkouts", timeline=timeline)

    def _fetched(self, repo_url: str) -> Path:
        """The mirror of a remote repository, fetched at or after the moment this call began.

        Many apps on one repository refresh together after one push: the first
        fetches, the others find a fetch that finished after they asked and reuse it.
        """
        asked = time.monotonic()
        with self._lock:
            lock, _ = self._fetches.setdefault(repo_url, (threading.Lock(), 0.0))
        with lock:
            if self._fetches[repo_url][1] >= asked:
                return git.mirror_path(repo_url, self.mirrors)
            try:
                path = git.mirror(repo_url, self.mirrors)
            except GitError as e:
                raise SourceError(e.message, hint=e.hint) from e
            self._fetches[repo_url] = (lock, time.monotonic())
            return path

    def _bare(self, repo_url: str, sha: str | None = None) -> Path:
        if not is_remote(repo_url):
            return repo_path(repo_url)
        path = git.mirror_path(repo_url, self.mirrors)
        if sha is None or not git.has_commit(path, sha):
            path = self._fetched(repo_url)
        return path

    def resolve(self, repo_url: str, revision: str) -> str:
        """The full commit sha that ``revision`` (HEAD, branch, tag, sha) names now."""
        bare = self._fetched(repo_url) if is_remote(repo_url) else repo_path(repo_url)
        if not bare.exists():
            raise SourceError(
                f"repository {repo_url} does not exist or is unreadable",
                hint="check spec.source.repoURL, or run `labkit up` to recreate the lab's Git server",
            )
        return git.LabRepo(bare, bare).resolve(revision)

    def desired(
        self,
        app: str,
        repo_url: str,
        path: str,
        revision_sha: str,
        dest_namespace: str,
        helm: Manifest | None = None,
    ) -> Desired:
        """Render ``path`` at ``revision_sha`` for ``app`` (cached per commit and ``spec.source.helm``)."""
        key = (app, path, dest_namespace, json.dumps(helm, sort_keys=True))
        with self._lock:
            cached = self._rendered.get(key, {}).get(revision_sha)
        if cached is not None:
            return Desired(revision_sha, cached)
        bare = self._bare(repo_url, revision_sha)
        with self.checkouts.checkout(bare, revision_sha) as (root, sha):
            source_dir = root / path
            if not source_dir.is_dir():
                raise git.PathNotFound(
                    f"path {path!r} does not exist at revision {sha[:7]}",
                    hint="check spec.source.path against `git ls-tree` of that revision",
                )
            kwargs: dict[str, Any] = {}
            if self.is_namespaced is not None:
                kwargs["is_namespaced"] = self.is_namespaced
            objects = tuple(
                render(
                    source_dir,
                    app=app,
                    dest_namespace=dest_namespace,
                    display_path=path,
                    revision=sha,
                    helm=helm,
                    repo_root=root,
                    **kwargs,
                )
            )
        with self._lock:
            kept = self._rendered.setdefault(key, {})
            kept[revision_sha] = objects
            for old in list(kept)[:-RENDERS_KEPT]:  # dicts keep insertion order: oldest first
                del kept[old]
        return Desired(sha, objects)

    def clear(self) -> None:
        with self._lock:
            self._rendered.clear()


__all__ = ["Desired", "RenderError", "SourceCache", "SourceError", "repo_path"]
