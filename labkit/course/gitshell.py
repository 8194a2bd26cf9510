"""Changing the lab's repository the way a person does it, with every ``$ git …`` command echoed.

Notebooks call these instead of committing silently: each helper edits files
in the learner's working clone (``$LABKIT_REPO``), then prints and runs the
commands an engineer would type there — ``git diff``, ``git add``,
``git commit``, ``git push`` or ``git revert`` — with git's own output under
each one, as :mod:`labkit.drift` echoes ``kubectl``. The commands run through
:meth:`labkit.git.LabRepo.git`, so git is still run by :mod:`labkit.git` only.
Every helper returns the sha of the commit it pushed.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from labkit import yamledit
from labkit.course.timeline import wait_for_event
from labkit.errors import GitError

if TYPE_CHECKING:
    from labkit.git import LabRepo

Echo = Callable[[str], None]


def git(repo: LabRepo, *args: str, echo: Echo = print) -> str:
    """Echo ``$ git ARGS``, run it in the working clone, echo git's output; return the output."""
    echo(f"$ {shlex.join(['git', *args])}")
    out = repo.git(*args)
    for line in out.splitlines():
        echo(line)
    return out


def commit_and_push(
    repo: LabRepo,
    message: str,
    paths: Iterable[str],
    *,
    author: tuple[str, str] | None = None,
    echo: Echo = print,
) -> str:
    """``git add``, ``git status``, ``git commit -m MESSAGE [--author …]``, ``git push``; the new sha."""
    paths = list(paths)
    git(repo, "add", "--all", "--", *paths, echo=echo)
    if not git(repo, "status", "--short", "--", *paths, echo=echo):
        raise GitError(
            f"nothing to commit for {', '.join(paths)}",
            hint="change a file first; the cluster already matches what is committed",
        )
    who = [f"--author={author[0]} <{author[1]}>"] if author else []
    git(repo, "commit", "-m", message, *who, "--", *paths, echo=echo)
    git(repo, "push", "--quiet", "origin", repo.branch, echo=echo)
    return repo.git("rev-parse", "HEAD")


def _edit_and_commit(
    repo: LabRepo, relpath: str, new_text: str, message: str, author: tuple[str, str] | None, echo: Echo
) -> str:
    """Write one edited file, show ``git diff`` of it, commit and push it."""
    echo(f"$ cd $LABKIT_REPO   # the working clone: {repo.work}")
    repo.write(relpath, new_text)
    git(repo, "diff", "--", relpath, echo=echo)
    return commit_and_push(repo, message, [relpath], author=author, echo=echo)


def replace_in_file(
    repo: LabRepo,
    relpath: str,
    old: str,
    new: str,
    message: str,
    *,
    author: tuple[str, str] | None = None,
    echo: Echo = print,
) -> str:
    """Edit one file of the working clone (``old`` -> ``new``, exactly once), then diff, commit, push."""
    text = (repo.work / relpath).read_text()
    if text.count(old) != 1:
        raise GitError(
            f"{relpath} contains {old!r} {text.count(old)} times, not once",
            hint="pick a longer piece of text that appears exactly once",
        )
    return _edit_and_commit(repo, relpath, text.replace(old, new), message, author, echo)


def _deployment_file(repo: LabRepo, path: str, name: str) -> tuple[str, str]:
    """(repo-relative file, its text) of the Deployment ``name`` in the YAML files under ``path``."""
    root = repo.work / path
    files = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
    for file in files:
        text = file.read_text()
        if yamledit.find_deployment(text, name) is not None:
            return file.relative_to(repo.work).as_posix(), text
    raise GitError(f"no Deployment named {name!r} in the YAML files under {path!r}", hint="check the path")


def set_replicas(repo: LabRepo, path: str, name: str, replicas: int, *, echo: Echo = print) -> str:
    """Set ``spec.replicas`` of Deployment ``name`` under ``path``; diff, commit, push."""
    relpath, text = _deployment_file(repo, path, name)
    new = yamledit.with_replicas(text, name, replicas)
    return _edit_and_commit(repo, relpath, new, f"Scale {name} to {replicas} replicas", None, echo)


def set_image(repo: LabRepo, path: str, name: str, image: str, *, echo: Echo = print) -> str:
    """Set the image of Deployment ``name`` under ``path``; diff, commit, push."""
    relpath, text = _deployment_file(repo, path, name)
    new = yamledit.with_image(text, name, image)
    return _edit_and_commit(repo, relpath, new, f"Set {name} image to {image}", None, echo)


def commit_files(repo: LabRepo, message: str, files: Mapping[str, str | None], *, echo: Echo = print) -> str:
    """Write several files (path -> text; None deletes), then add, commit and push them as one commit."""
    echo(f"$ cd $LABKIT_REPO   # the working clone: {repo.work}")
    for relpath, text in files.items():
        repo.write(relpath, text)
    return commit_and_push(repo, message, list(files), echo=echo)


def revert(repo: LabRepo, sha: str, *, echo: Echo = print) -> str:
    """``git revert --no-edit SHA`` and ``git push``: a new commit that undoes ``sha``."""
    echo(f"$ cd $LABKIT_REPO   # the working clone: {repo.work}")
    try:
        git(repo, "revert", "--no-edit", sha[:7], echo=echo)
    except GitError as e:
        repo.git("revert", "--abort")
        raise GitError(
            f"cannot revert {sha[:7]} cleanly: later commits changed the same lines",
            hint="revert the later commits first, or edit the files by hand and commit",
        ) from e
    git(repo, "push", "--quiet", "origin", repo.branch, echo=echo)
    return repo.git("rev-parse", "HEAD")


def commit_replicas(
    lab: Any,
    path: str,
    deployment: str,
    counts: Iterable[int],
    *,
    apps: Iterable[str] = (),
    pipeline: bool = False,
    timeout_s: float = 30.0,
) -> list[str]:
    """Commit ``replicas: n`` for each n in turn; after each, wait for ``apps`` to sync it
    (and for the push pipeline's run, with ``pipeline``). Git's commands are echoed only
    for the first commit; the rest print one line each. Returns the commit shas."""
    shas = []
    for i, n in enumerate(counts):
        sha = set_replicas(lab.repo, path, deployment, n, echo=print if i == 0 else _quiet)
        for app in apps:
            lab.apps.wait(app, revision=sha, timeout_s=timeout_s)
        if pipeline:
            kinds = ("pipeline_applied", "pipeline_failed")
            wait_for_event(lab.timeline, kinds, revision=sha, timeout_s=timeout_s)
        print(f"{sha[:7]}  replicas: {n}  -> done")
        shas.append(sha)
    return shas


def _quiet(line: str) -> None:
    """An echo that prints nothing (the same commands again, for a loop of commits)."""
