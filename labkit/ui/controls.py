"""The dashboard's "change Git" controls, and the helpers every panel control shares.

:class:`labkit.ui.panel.AppPanel` embeds one :class:`GitControls` per
Application: a replicas slider and an image dropdown that COMMIT AND PUSH
through :class:`labkit.git.LabRepo` (``set_replicas`` / ``set_image``) and
never patch the cluster, which is the whole point of GitOps: the agent then
makes the cluster follow. :class:`Quiet` and :func:`act` are shared with the
panel's Application controls.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from labkit.errors import LabkitError
from labkit.ui.views import GitDeployment, git_deployment

if TYPE_CHECKING:
    from labkit.git import LabRepo

MAX_REPLICAS = 10


class Quiet:
    """A per-thread flag: set while code (not the learner) assigns widget values.

    Observers fire on every assignment; the watch thread's updates must not
    look like clicks, while a click on the main thread at the same moment
    must still count, hence thread-local.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self._local.on = True
        try:
            yield
        finally:
            self._local.on = False

    def __bool__(self) -> bool:
        return bool(getattr(self._local, "on", False))


def act(message: w.HTML, action: Callable[[], str]) -> bool:
    """Run one action; show what happened, or the error with its next step, in ``message``."""
    try:
        done = action()
    except LabkitError as e:
        hint = f"<br><small>next step: {html.escape(e.hint)}</small>" if e.hint else ""
        message.value = f'<span style="color:#c62828">{html.escape(e.message)}</span>{hint}'
        return False
    message.value = f'<span style="color:#2e7d32">{html.escape(done)}</span>'
    return True


class GitControls:
    """Replicas slider and image dropdown for one Deployment of an app; each change is a commit."""

    def __init__(self, repo: LabRepo, deployment: str, images: Sequence[str], message: w.HTML) -> None:
        self.repo, self.deployment, self.message = repo, deployment, message
        self.path = ""
        self.git: GitDeployment | None = None
        """What Git declares now (read in the learner's clone); None: no such Deployment under the path."""
        self.quiet = Quiet()
        self.replicas = w.IntSlider(description="replicas", min=0, max=MAX_REPLICAS, continuous_update=False)
        self.replicas.observe(self.on_replicas_changed, names="value")
        self.image = w.Dropdown(description="image", options=list(images))
        self.image.observe(self.on_image_changed, names="value")
        self.widget = w.HBox([w.HTML("<b>Change Git</b> (commit + push):"), self.replicas, self.image])

    def load(self, path: str) -> None:
        """Point the controls at what Git declares under ``path`` now."""
        self.path = path
        work = getattr(self.repo, "work", None)
        self.git = git_deployment(Path(work), path, self.deployment) if work is not None and path else None
        with self.quiet():
            self.replicas.disabled = self.image.disabled = self.git is None
            if self.git is None:
                why = f"no Deployment {self.deployment!r} in the YAML under {path!r}: edit the files in Git"
                self.replicas.tooltip = self.image.tooltip = why
                return
            self.replicas.tooltip = self.image.tooltip = "commits and pushes to Git"
            self.replicas.max = max(MAX_REPLICAS, self.git.replicas)
            self.replicas.value = self.git.replicas
            current = self.git.images[0] if self.git.images else None
            if current is not None and current not in self.image.options:
                self.image.options = [current, *self.image.options]
            self.image.value = current

    def on_replicas_changed(self, change: dict[str, Any]) -> None:
        replicas = int(change["new"])
        if self.quiet or (self.git is not None and self.git.replicas == replicas):
            return

        def go() -> str:
            sha = self.repo.set_replicas(self.path, self.deployment, replicas)
            return f"committed and pushed {sha[:7]}: {self.deployment} wants {replicas} replicas in Git"

        act(self.message, go)
        self.load(self.path)  # on failure this also puts the slider back where Git is

    def on_image_changed(self, change: dict[str, Any]) -> None:
        image = change["new"]
        if self.quiet or image is None or (self.git is not None and image in self.git.images[:1]):
            return

        def go() -> str:
            sha = self.repo.set_image(self.path, self.deployment, str(image))
            return f"committed and pushed {sha[:7]}: {self.deployment} runs {image} in Git"

        act(self.message, go)
        self.load(self.path)


__all__ = ["MAX_REPLICAS", "GitControls", "Quiet", "act"]
