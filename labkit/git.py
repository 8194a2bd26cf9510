"""The lab's Git server and the learner's working clone: the ONLY module that runs git.

The "Git server" is a bare repository on disk whose ``post-receive`` hook
(see :mod:`labkit.hook`) tells the controller and the push pipeline about
every push; the learner works in a clone of it. ``labkit.lab`` creates and
resets both with :class:`LabRepo`; the CLI (``labkit repo ...``) and the
widgets commit through it; the notebooks' helpers (:mod:`labkit.course.gitshell`)
run the git commands they echo through :meth:`LabRepo.git`; the controller reads Git only through
:func:`export_tree`, :meth:`LabRepo.resolve` and :func:`ls_remote`; the hook
reads the pushed commit with :meth:`LabRepo.commit_info` and the files each
pushed commit changed with :func:`pushed_commits`; the Git HTTP server
(:mod:`labkit.githttp`) runs git's own ``git http-backend`` for each request
through :func:`http_backend`. The in-place YAML
edits behind :meth:`LabRepo.set_replicas` and :meth:`LabRepo.set_image` are
pure text functions in :mod:`labkit.yamledit`.

Every git command runs through GitPython with an explicit ``--git-dir`` (so a
stray ``GIT_DIR`` or a parent repository is never picked up) and without the
user's global or system git config (so a learner's ``commit.gpgsign`` cannot
break the lab). Failures become :class:`labkit.errors.GitError` whose message
holds the command as a line that can be pasted into a terminal.
"""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import git as gitpython

from labkit import ports, yamledit
from labkit.errors import GitError

BRANCH = "main"
INITIAL_MESSAGE = "Initial commit: starter GitOps repository"
DEFAULT_AUTHOR = ("labkit learner", "learner@labkit.local")
ZERO_SHA = "0" * 40
_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
_TIMEOUT_S = 60.0
_LOG_FORMAT = "%x1e%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%B%x1f"
HTTP_PORT_NAME = "git-http"
"""The name of the Git HTTP server's port in the lab's ``ports.json`` (see :mod:`labkit.ports`)."""


class PathNotFound(GitError):
    """An Application's path does not exist (as a directory) at the asked revision."""


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the audit trail."""

    sha: str
    short: str
    author: str
    email: str
    time: datetime
    message: str
    files: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


def repo_url(bare: Path) -> str:
    """The ``file://`` URL of a bare repository; the hook's webhook uses the same."""
    return Path(bare).resolve().as_uri()


def http_url(bare: Path) -> str:
    """The smart-HTTP URL :mod:`labkit.githttp` serves ``<state_dir>/repos/<bare>`` at, on 127.0.0.1.

    The port is the lab's ``git-http`` port (allocated once, see :mod:`labkit.ports`),
    so the URL stays the same across restarts of the server.
    """
    bare = Path(bare)
    return f"http://127.0.0.1:{ports.port(bare.parent.parent, HTTP_PORT_NAME)}/{bare.name}"


def _git(cwd: Path, *args: str, git_dir: Path | None = None, work_tree: bool = False, **opts: Any) -> Any:
    """Run one git command in ``cwd``; return its stdout (str, or bytes when ``binary=True``)."""
    cmd = ["git", "-C", str(cwd)]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    if work_tree:
        cmd.append("--work-tree=.")
    cmd.extend(args)
    env = {**_ENV, **opts.get("env", {})}
    binary = bool(opts.get("binary", False))
    try:
        return gitpython.Git().execute(
            cmd,
            env=env,
            stdout_as_string=not binary,
            strip_newline_in_stdout=not binary,
            kill_after_timeout=_TIMEOUT_S,
        )
    except gitpython.GitCommandError as e:
        detail = str(e.stderr or e.stdout).strip().removeprefix("stderr: '").removeprefix("stdout: '")
        message = f"git failed: {shlex.join(cmd)}"
        if detail:
            message += "\n" + detail.removesuffix("'").strip()
        raise GitError(message, hint=opts.get("hint", "")) from e


def _check_bare(bare: Path) -> None:
    if not (bare / "HEAD").is_file() or not (bare / "objects").is_dir():
        raise GitError(
            f"repository {repo_url(bare)} does not exist or is not a bare git repository",
            hint="run `labkit up` to create the lab's Git server, or check the repo URL",
        )


def _clean_relpath(relpath: str) -> str:
    """A repository-relative POSIX path; refuse paths that escape the repository."""
    parts = [p for p in PurePosixPath(relpath.strip()).parts if p not in ("", ".")]
    if relpath.startswith("/") or ".." in parts or (parts and parts[0] == ".git"):
        raise GitError(f"path {relpath!r} is not inside the repository", hint="use a path like 'apps/demo'")
    return "/".join(parts)


def _author_env(author: tuple[str, str] | None) -> dict[str, str]:
    if author is None:
        return {}
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _parse_log(out: str) -> list[CommitInfo]:
    commits = []
    for record in out.split("\x1e"):
        fields = record.split("\x1f")
        if len(fields) != 7:
            continue
        sha, short, author, email, when, message, files = fields
        names = tuple(line for line in files.splitlines() if line.strip())
        commits.append(
            CommitInfo(sha, short, author, email, datetime.fromisoformat(when), message.strip(), names)
        )
    return commits


class LabRepo:
    """The bare "Git server" repository plus the learner's working clone of it."""

    branch = BRANCH

    def __init__(self, bare: Path, work: Path) -> None:
        self.bare = Path(bare)
        self.work = Path(work)

    @classmethod
    def create(
        cls,
        bare: Path,
        work: Path,
        starter: Path,
        *,
        hook: str | None = None,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> LabRepo:
        """Make the bare repo, seed it with ``starter`` as its first commit, clone it, install ``hook``."""
        bare, work, starter = Path(bare), Path(work), Path(starter)
        for target in (bare, work):
            if target.exists() and any(target.iterdir()):
                raise GitError(
                    f"{target} already exists", hint="open it with LabRepo(bare, work) or remove it"
                )
        if not starter.is_dir():
            raise GitError(
                f"starter content {starter} is not a directory", hint="pass the repos/starter folder"
            )
        bare.mkdir(parents=True, exist_ok=True)
        _git(bare, "init", "--bare", "--quiet", f"--initial-branch={BRANCH}")
        # Absolute hooks path: a learner's global core.hooksPath must not hide our hook.
        _git(bare, "config", "core.hooksPath", str((bare / "hooks").resolve()), git_dir=bare.resolve())
        work.parent.mkdir(parents=True, exist_ok=True)
        _git(work.parent, "clone", "--quiet", str(bare.resolve()), str(work.resolve()))
        repo = cls(bare, work)
        for key, value in (("user.name", author[0]), ("user.email", author[1]), ("commit.gpgsign", "false")):
            repo._work_git("config", key, value)
        repo._work_git("symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
        _copy_tree(starter, work)
        repo._work_git("add", "--all")
        repo._work_git("commit", "--quiet", "-m", INITIAL_MESSAGE)
        repo._work_git("push", "--quiet", "--set-upstream", "origin", BRANCH)
        if hook is not None:
            repo.install_hook(hook)
        return repo

    @property
    def url(self) -> str:
        return repo_url(self.bare)

    @property
    def http_url(self) -> str:
        """The URL engines and learners clone over HTTP (see :func:`http_url`)."""
        return http_url(self.bare)

    def install_hook(self, text: str) -> Path:
        """Install ``text`` as the bare repo's ``post-receive`` hook (mode 0755)."""
        path = self.bare / "hooks" / "post-receive"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
        return path

    def _bare_git(self, *args: str, **opts: Any) -> Any:
        _check_bare(self.bare)
        return _git(self.bare, *args, git_dir=self.bare.resolve(), **opts)

    def _work_git(self, *args: str, **opts: Any) -> Any:
        if not (self.work / ".git").is_dir():
            raise GitError(
                f"working clone {self.work} is missing", hint="run `labkit up` to recreate the lab"
            )
        return _git(self.work, *args, git_dir=Path(".git"), work_tree=True, **opts)

    def git(self, *args: str) -> str:
        """Run one git command in the working clone, as a learner types it there; return its output.

        :mod:`labkit.course.gitshell` calls this for the commands it echoes
        (``git diff``, ``git add``, ``git commit``, ``git push``...).
        """
        return str(self._work_git(*args))

    def head(self, ref: str = BRANCH) -> str:
        """The sha ``ref`` points at in the bare repo."""
        return self.resolve(ref)

    def resolve(self, revision: str) -> str:
        """HEAD, a branch, a tag or a (short) sha in the bare repo -> the full commit sha."""
        _check_bare(self.bare)
        if not revision or revision.startswith("-"):
            raise GitError(f"revision {revision!r} is not valid", hint="use HEAD, a branch, a tag or a sha")
        try:
            return str(self._bare_git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"))
        except GitError as e:
            raise GitError(
                f"revision {revision!r} not found in {self.url}",
                hint="check the branch, tag or sha; `labkit repo log` lists the commits",
            ) from e

    def commit_info(self, revision: str) -> CommitInfo:
        """Author, time, message and changed files of one commit in the bare repo."""
        sha = self.resolve(revision)
        return _parse_log(self._bare_git("log", "-n1", f"--format={_LOG_FORMAT}", "--name-only", sha))[0]

    def write(self, relpath: str, text: str | None) -> None:
        """Write (or, with ``None``, delete) one file in the working clone."""
        path = self.work / _clean_relpath(relpath)
        if text is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit_and_push(
        self,
        message: str,
        changes: Mapping[str, str | None] | None = None,
        *,
        author: tuple[str, str] | None = None,
    ) -> str:
        """Apply ``changes`` (path -> text or None), commit, push to the bare repo; return the sha.

        With ``changes`` only those paths are committed (other edits in the clone
        stay uncommitted); without, everything in the clone is.
        """
        paths = [_clean_relpath(p) for p in (changes or {})]
        for relpath, text in (changes or {}).items():
            self.write(relpath, text)
        spec = ["--", *paths] if paths else []
        self._work_git("add", "--all", *spec)
        if not self._work_git("status", "--porcelain", *spec):
            raise GitError(
                f"nothing to commit in {self.work}" + (f" for {', '.join(paths)}" if paths else ""),
                hint="change a file first; the cluster already matches what is committed",
            )
        self._work_git("commit", "--quiet", "-m", message, *spec, env=_author_env(author))
        self._push(BRANCH)
        return str(self._work_git("rev-parse", "HEAD"))

    def _push(self, refspec: str, *, force: bool = False) -> None:
        self._work_git(
            "push",
            "--quiet",
            *(["--force"] if force else []),
            "origin",
            refspec,
            hint=f"someone else pushed to the Git server: run `git -C {self.work} pull --rebase`, then retry",
        )

    def _find_deployment(self, path: str, name: str) -> tuple[str, str]:
        """(repo-relative file, its text) of the Deployment ``name`` under ``path``."""
        root = self.work / _clean_relpath(path)
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
        for file in files:
            text = file.read_text()
            if yamledit.find_deployment(text, name) is not None:
                return file.relative_to(self.work).as_posix(), text
        raise GitError(
            f"no Deployment named {name!r} in the YAML files under {path!r}",
            hint="check the path and name; for a Kustomize overlay edit its kustomization.yaml instead",
        )

    def set_replicas(self, path: str, name: str, replicas: int) -> str:
        """Set ``spec.replicas`` of Deployment ``name`` under ``path``, commit and push; return the sha."""
        if replicas < 0:
            raise GitError(f"replicas must be 0 or more, not {replicas}", hint="pick a number like 3")
        relpath, text = self._find_deployment(path, name)
        with _edit_errors_as_git_errors():
            new = yamledit.with_replicas(text, name, replicas)
        if new == text:
            raise GitError(f"{name} already has {replicas} replicas in {relpath}", hint="pick another number")
        return self.commit_and_push(f"Scale {name} to {replicas} replicas", {relpath: new})

    def set_image(self, path: str, name: str, image: str, container: str | None = None) -> str:
        """Set a container image of Deployment ``name`` under ``path``, commit and push; return the sha."""
        relpath, text = self._find_deployment(path, name)
        with _edit_errors_as_git_errors():
            new = yamledit.with_image(text, name, image, container)
        if new == text:
            raise GitError(f"{name} already runs {image} in {relpath}", hint="pick another image tag")
        return self.commit_and_push(f"Set {name} image to {image}", {relpath: new})

    def log(self, n: int = 20, path: str | None = None) -> list[CommitInfo]:
        """The newest ``n`` commits on the bare repo's main (touching ``path``, if given)."""
        spec = ["--", _clean_relpath(path) or "."] if path else []
        out = self._bare_git("log", f"-n{max(n, 1)}", f"--format={_LOG_FORMAT}", "--name-only", BRANCH, *spec)
        return _parse_log(out)

    def show_diff(self, sha: str) -> str:
        """The unified diff one commit made."""
        full = self.resolve(sha)
        return str(self._bare_git("show", "--format=", "--patch", "--no-color", "--no-ext-diff", full))

    def revert(self, sha: str) -> str:
        """Commit the inverse of ``sha`` (``git revert --no-edit``), push; return the new sha."""
        full = self.resolve(sha)
        try:
            self._work_git("revert", "--no-edit", full)
        except GitError as e:
            self._work_git("revert", "--abort")
            raise GitError(
                f"cannot revert {full[:7]} cleanly: later commits changed the same lines",
                hint="revert the later commits first, or edit the files by hand and commit",
            ) from e
        self._push(BRANCH)
        return str(self._work_git("rev-parse", "HEAD"))

    def force_push(self, sha: str) -> None:
        """Move main back to ``sha`` with a force push (a fault experiment); the clone follows."""
        full = self.resolve(sha)
        self._work_git("fetch", "--quiet", "origin")
        self._push(f"{full}:refs/heads/{BRANCH}", force=True)
        self._work_git("reset", "--hard", "--quiet", full)

    def reset_to_starter(self, starter: Path) -> str:
        """Make main one fresh commit of ``starter`` again (force push), reset the clone; return the sha."""
        for child in self.work.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        _copy_tree(Path(starter), self.work)
        self._work_git("add", "--all")
        tree = str(self._work_git("write-tree"))
        sha = str(self._work_git("commit-tree", tree, "-m", INITIAL_MESSAGE))
        self._work_git("reset", "--hard", "--quiet", sha)
        self._push(BRANCH, force=True)
        return sha


@contextmanager
def _edit_errors_as_git_errors() -> Iterator[None]:
    """Callers of set_replicas/set_image catch GitError, so a failed YAML edit must arrive as one."""
    try:
        yield
    except yamledit.YamlEditError as e:
        raise GitError(e.message, hint=e.hint) from e


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git", "__pycache__"))


def export_tree(bare: Path, revision: str, path: str, dest: Path) -> str:
    """Write the files under ``path`` at ``revision`` into ``dest`` (created, must be empty); return the sha.

    ``path`` "" or "." exports the whole repository: Kustomize overlays that
    refer to ``../../base`` need that, so export the root and render ``dest/path``.
    """
    repo = LabRepo(bare, bare)
    sha = repo.resolve(revision)
    rel = _clean_relpath(path)
    treeish = f"{sha}:{rel}"  # "<sha>:" alone names the root tree
    try:
        kind = str(repo._bare_git("cat-file", "-t", treeish))
    except GitError as e:
        raise PathNotFound(
            f"path {path!r} does not exist at revision {sha[:7]} of {repo.url}",
            hint=f"check spec.source.path; list the files: git --git-dir={bare} ls-tree -r --name-only {sha}",
        ) from e
    if kind != "tree":
        raise PathNotFound(
            f"path {path!r} is a file, not a directory, at revision {sha[:7]} of {repo.url}",
            hint="point spec.source.path at the folder that holds the manifests",
        )
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise GitError(f"export destination {dest} is not empty", hint="pass a new or empty directory")
    data = repo._bare_git("archive", "--format=tar", treeish, binary=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise GitError(f"cannot unpack {path!r} at {sha[:7]} into {dest}: {e}", hint="check the disk") from e
    return sha


def mirror_path(url: str, root: Path) -> Path:
    """Where :func:`mirror` keeps the clone of ``url`` under ``root``."""
    return Path(root) / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")


def has_commit(bare: Path, sha: str) -> bool:
    """Whether the bare repository holds commit ``sha`` (False when it does not exist)."""
    if not (Path(bare) / "HEAD").is_file():
        return False
    try:
        _git(bare, "cat-file", "-e", f"{sha}^{{commit}}", git_dir=Path(bare).resolve())
    except GitError:
        return False
    return True


def mirror(url: str, root: Path) -> Path:
    """A bare mirror of the remote repository at ``url`` under ``root``, fetched now; its path.

    What Argo CD's repo-server does for a repository it reads over HTTP: one
    local clone per URL, fetched when a refresh asks what a branch points to,
    so rendering reads from disk. ``--prune`` keeps deleted branches deleted.
    """
    path = mirror_path(url, root)
    hint = f"check that {url} answers: git ls-remote {url}"
    if not (path / "HEAD").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _git(path.parent, "clone", "--quiet", "--mirror", url, str(tmp), hint=hint)
        tmp.rename(path)
    else:
        _git(path, "fetch", "--quiet", "--prune", "origin", hint=hint)
    return path


def ls_remote(bare: Path) -> dict[str, str]:
    """Ref name -> sha for every ref of the bare repo (HEAD included): a cheap poll."""
    _check_bare(bare)
    out = str(_git(bare, "ls-remote", ".", git_dir=Path(bare).resolve()))
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            refs[ref] = sha
    return refs


@dataclass(frozen=True)
class PushedCommit:
    """One commit of a push with the files it added, modified and removed (a GitHub push event's commit)."""

    sha: str
    message: str
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def pushed_commits(bare: Path, before: str, after: str, *, limit: int = 20) -> list[PushedCommit]:
    """The commits a push brought (``before..after``, oldest first; a new ref: just ``after``).

    Renames count as a removal plus an addition, as in GitHub's push events; a
    deleted ref brought no commits.
    """
    if after == ZERO_SHA:
        return []
    span = [after, "-n1"] if before == ZERO_SHA else [f"{before}..{after}", f"-n{limit}"]
    out = str(
        _git(
            bare,
            "log",
            *span,
            "--no-renames",
            "--name-status",
            "--format=%x1e%H%x1f%B%x1f",
            git_dir=Path(bare).resolve(),
        )
    )
    return list(reversed([_parse_pushed(record) for record in out.split("\x1e") if record.strip()]))


def _parse_pushed(record: str) -> PushedCommit:
    sha, message, status = record.split("\x1f")
    files: dict[str, list[str]] = {"A": [], "M": [], "D": []}
    for line in status.splitlines():
        code, _, path = line.partition("\t")
        if path:
            files["D" if code == "D" else "A" if code == "A" else "M"].append(path)
    return PushedCommit(sha, message.strip(), tuple(files["A"]), tuple(files["M"]), tuple(files["D"]))


def http_backend(project_root: Path, cgi_env: Mapping[str, str], stdin: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start git's smart-HTTP CGI program, ``git http-backend``, for one request; read its stdout.

    It serves every repository under ``project_root`` (``GIT_HTTP_EXPORT_ALL``);
    ``cgi_env`` holds the request (``REQUEST_METHOD``, ``PATH_INFO``, ``QUERY_STRING``,
    ``CONTENT_TYPE``, ``REMOTE_USER`` ...). git allows a push only when
    ``REMOTE_USER`` is set, and runs the repository's hooks as for any push.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env = {**inherited, **_ENV, "GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1", **cgi_env}
    return subprocess.Popen(["git", "http-backend"], env=env, stdin=stdin, stdout=subprocess.PIPE)


__all__: Sequence[str] = [
    "BRANCH",
    "CommitInfo",
    "DEFAULT_AUTHOR",
    "HTTP_PORT_NAME",
    "INITIAL_MESSAGE",
    "LabRepo",
    "PathNotFound",
    "PushedCommit",
    "ZERO_SHA",
    "export_tree",
    "http_backend",
    "http_url",
    "ls_remote",
    "pushed_commits",
    "repo_url",
]
