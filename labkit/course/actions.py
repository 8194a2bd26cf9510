"""Acting the way a learner would: try an action and print a refusal, commit and push files.

Notebooks call :func:`attempt` around a lab action that may be refused, and the
commit helpers to change the app through Git. Commits go through
:class:`labkit.git.LabRepo` (or ``lab.repo``), never through git directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from labkit.course.timeline import wait_for_event
from labkit.errors import LabkitError

if TYPE_CHECKING:
    from labkit.git import LabRepo


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``action`` and return its result; if labkit refuses, print why (and the hint) and return None."""
    try:
        return action(*args, **kwargs)
    except LabkitError as e:
        print(f"refused: {e.message}")
        if e.hint:
            print(f"hint: {e.hint}")
        return None


def replace_in_file(
    repo: LabRepo,
    relpath: str,
    old: str,
    new: str,
    message: str,
    *,
    author: tuple[str, str] | None = None,
) -> str:
    """Edit one file of the working clone (``old`` -> ``new``, exactly once), commit and push."""
    text = (repo.work / relpath).read_text()
    if text.count(old) != 1:
        raise LabkitError(
            f"{relpath} contains {old!r} {text.count(old)} times, not once",
            hint="pick a longer piece of text that appears exactly once",
        )
    return repo.commit_and_push(message, {relpath: text.replace(old, new)}, author=author)


def commit_files(repo: LabRepo, message: str, files: Mapping[str, str | None], **kw: Any) -> str:
    """Commit several files (path -> YAML text, None deletes) in one commit; return the sha."""
    return repo.commit_and_push(message, dict(files), **kw)


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
    (and for the push pipeline's run, with ``pipeline``). Returns the commit shas."""
    shas = []
    for n in counts:
        sha = lab.repo.set_replicas(path, deployment, n)
        for app in apps:
            lab.apps.wait(app, revision=sha, timeout_s=timeout_s)
        if pipeline:
            kinds = ("pipeline_applied", "pipeline_failed")
            wait_for_event(lab.timeline, kinds, revision=sha, timeout_s=timeout_s)
        print(f"{sha[:7]}  replicas: {n}  -> done")
        shas.append(sha)
    return shas
