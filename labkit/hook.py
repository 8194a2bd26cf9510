"""The Git server's ``post-receive`` hook: record the push, ring the controller, start the pipeline.

:meth:`labkit.git.LabRepo.create` installs the tiny shell script
:func:`render_hook_script` returns; git runs it after every push to the bare
repository, and it runs ``python -m labkit.hook --state-dir DIR``. For each
updated ref, :func:`main`

1. appends a ``pushed`` event (actor ``git``) to ``DIR/timeline.jsonl``;
2. if a controller listens (``DIR/controller.json``), POSTs the signed webhook
   of the contract in ``docs/internals.md`` to it, on 127.0.0.1 only;
3. tells the real engines that run on the lab, as a forge would
   (:mod:`labkit.forge`): a signed GitHub ``push`` event to Argo CD
   (``DIR/argocd.json``), a reconcile request to Flux's GitRepositories of
   the lab's HTTP URL (``DIR/flux.json``); each is a ``webhook_sent`` or
   ``reconcile_requested`` event on the timeline;
4. if the push pipeline is enabled (``DIR/pipeline/enabled``) and ``main``
   moved, starts ``python -m labkit.push run`` detached, logging to
   ``DIR/pipeline/logs/<sha>.log``.

Nothing here can fail the push: problems become one warning line, which git
shows to the pusher as ``remote: labkit: ...``. The controller's webhook
server checks requests with :func:`verify`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlparse
from urllib.request import ProxyHandler, Request, build_opener

from labkit import git
from labkit.events import Event, Timeline

SIGNATURE_HEADER = "X-Labkit-Signature"
WEBHOOK_TIMEOUT_S = 2.0
MAIN_REF = "refs/heads/main"
_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    """One line git gives a post-receive hook: a ref moved from ``before`` to ``after``."""

    before: str
    after: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.after == _ZERO_SHA


@dataclass(frozen=True)
class Delivery:
    """What became of one webhook: sent or not, the HTTP status, a line for the pusher."""

    delivered: bool
    status: int | None
    message: str


def parse_updates(lines: Iterable[str]) -> list[RefUpdate]:
    """``<old> <new> <ref>`` lines -> updates (malformed lines are skipped)."""
    updates = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Labkit-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def read_secret(state_dir: Path) -> bytes | None:
    """The webhook secret of a lab, whitespace stripped; None when there is none."""
    try:
        secret = (Path(state_dir) / "webhook.secret").read_bytes().strip()
    except OSError:
        return None
    return secret or None


def render_hook_script(python: str, state_dir: Path, *, package_root: Path | None = None) -> str:
    """The ``post-receive`` script: run this labkit's hook with ``python`` for the lab at ``state_dir``.

    ``PYTHONPATH`` points at the labkit that rendered the script, so the hook
    works whether or not labkit is installed into ``python``'s environment.
    """
    root = package_root or Path(__file__).resolve().parent.parent
    return (
        "#!/bin/sh\n"
        "# Installed by labkit: tells the lab's controller and push pipeline about each push.\n"
        f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f"exec {shlex.quote(python)} -m labkit.hook --state-dir {shlex.quote(str(state_dir))}\n"
    )


def record_push(state_dir: Path, bare: Path, update: RefUpdate, ts_ns: int) -> Event:
    """Append the ``pushed`` event, with the author and subject of the new commit."""
    data: dict[str, Any] = {"ref": update.ref, "before": update.before}
    if update.deleted:
        data["deleted"] = True
    else:
        # Imported here: GitPython is only needed when there is a commit to describe.
        from labkit.errors import GitError
        from labkit.git import LabRepo

        try:
            info = LabRepo(bare, bare).commit_info(update.after)
            data.update(author=info.author, message=info.subject)
        except GitError as e:
            data["error"] = e.message
    return Timeline(Path(state_dir) / "timeline.jsonl").append(
        "git", "pushed", revision=update.after, ts_ns=ts_ns, **data
    )


def webhook_body(update: RefUpdate, repository: str, http_url: str | None = None) -> bytes:
    """The JSON body of the webhook (see the contract in docs/internals.md).

    ``repository`` is the bare repository's file URL; ``http_url`` the same
    repository over HTTP, so Applications that name either URL are refreshed.
    """
    record = {"ref": update.ref, "before": update.before, "after": update.after, "repository": repository}
    if http_url:
        record["http_url"] = http_url
    return json.dumps(record, sort_keys=True).encode()


def _webhook_url(state_dir: Path) -> str | None:
    try:
        return str(json.loads((state_dir / "controller.json").read_text())["webhook_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def deliver_webhook(
    state_dir: Path, update: RefUpdate, repository: str, *, timeout: float = WEBHOOK_TIMEOUT_S
) -> Delivery:
    """POST the signed webhook to the controller named in ``controller.json``; never raises."""
    state_dir = Path(state_dir)
    if not (state_dir / "controller.json").exists():
        return Delivery(False, None, "no controller is running; nothing to notify")
    url = _webhook_url(state_dir)
    if url is None:
        return Delivery(False, None, f"cannot read webhook_url from {state_dir / 'controller.json'}")
    parsed = urlparse(url)
    if parsed.scheme != "http" or parsed.hostname != "127.0.0.1":
        return Delivery(False, None, f"refusing to send the webhook to {url}: only 127.0.0.1 is allowed")
    secret = read_secret(state_dir)
    if secret is None:
        return Delivery(False, None, f"no webhook secret in {state_dir / 'webhook.secret'}; webhook not sent")
    body = webhook_body(update, repository, git.http_url(Path(unquote(urlparse(repository).path))))
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
    # No proxies: an http_proxy variable must not route a local webhook elsewhere.
    opener = build_opener(ProxyHandler({}))
    try:
        with opener.open(Request(url, data=body, headers=headers, method="POST"), timeout=timeout) as resp:
            status = int(resp.status)
    except HTTPError as e:
        e.close()
        return Delivery(False, e.code, f"controller at {url} refused the webhook (HTTP {e.code})")
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return Delivery(
            False, None, f"controller unreachable at {url} ({reason}); it sees the push at its next poll"
        )
    return Delivery(True, status, f"webhook delivered to the controller (HTTP {status})")


def pipeline_argv(python: str, state_dir: Path, revision: str) -> list[str]:
    """The push pipeline run the hook starts for one revision."""
    return [python, "-m", "labkit.push", "run", "--state-dir", str(state_dir), "--revision", revision]


def launch_detached(argv: Sequence[str], log: Path) -> int:
    """Start ``argv`` in its own session, output appended to ``log``; return its pid without waiting.

    A shell starts the job in the background and exits at once, so neither
    this process nor git waits for it (git waits for every process that
    holds the hook's stdout or stderr open: the job gets only the log file).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="milliseconds")
    with log.open("a") as f:
        f.write(f"# {started} labkit hook starts: {shlex.join(argv)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["LABKIT_LAUNCH_LOG"] = str(log)
    script = '"$@" </dev/null >>"$LABKIT_LAUNCH_LOG" 2>&1 & echo $!'
    done = subprocess.run(
        ["/bin/sh", "-c", script, "labkit-launch", *argv],
        env=env,
        cwd=log.parent,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=10,
        check=True,
    )
    return int(done.stdout.strip())


def notify_engines(state_dir: Path, bare: Path, update: RefUpdate) -> list[str]:
    """Tell Argo CD and Flux, when they run on the lab, about the push; return lines for the pusher."""
    # Imported here: a lab without the real engines needs neither git nor kubectl for this.
    from labkit import forge
    from labkit.git import http_url, pushed_commits

    if forge.argocd_webhook_url(state_dir) is None and not (state_dir / forge.FLUX_INFO).exists():
        return []  # neither engine runs on this lab
    url = http_url(state_dir / "repos" / bare.name)
    notices = []
    if forge.argocd_webhook_url(state_dir) is not None:
        commits = pushed_commits(bare, update.before, update.after)
        event = forge.github_push_event(update.ref, update.before, update.after, commits, url)
        notices.append(forge.notify_argocd(state_dir, event))
    notices.append(forge.notify_flux(state_dir, url))
    timeline = Timeline(state_dir / "timeline.jsonl")
    lines = []
    for notice in (n for n in notices if n is not None):
        kind = "webhook_sent" if notice.engine == "argocd" else "reconcile_requested"
        timeline.append(
            "git",
            kind,
            revision=update.after,
            engine=notice.engine,
            ref=update.ref,
            sent=notice.sent,
            status=notice.status,
            message=notice.message,
        )
        lines.append(notice.message if notice.sent else f"warning: {notice.message}")
    return lines


def handle(update: RefUpdate, state_dir: Path, bare: Path, ts_ns: int, python: str) -> list[str]:
    """Do the four jobs for one ref update; return the lines to show the pusher."""
    from labkit.git import repo_url

    lines = []
    record_push(state_dir, bare, update, ts_ns)
    delivery = deliver_webhook(state_dir, update, repo_url(bare))
    if delivery.delivered or (state_dir / "controller.json").exists():
        lines.append(delivery.message if delivery.delivered else f"warning: {delivery.message}")
    try:
        lines.extend(notify_engines(state_dir, bare, update))
    except Exception as e:  # an engine's trouble must not keep the pipeline from running
        lines.append(f"warning: could not notify Argo CD or Flux: {e}")
    if (state_dir / "pipeline" / "enabled").exists() and update.ref == MAIN_REF and not update.deleted:
        log = state_dir / "pipeline" / "logs" / f"{update.after}.log"
        pid = launch_detached(pipeline_argv(python, state_dir, update.after), log)
        lines.append(f"push pipeline started (pid {pid}), log: {log}")
    return lines


def main(argv: Sequence[str] | None = None, stdin: Iterable[str] | None = None) -> int:
    """Entry point of ``python -m labkit.hook``; always returns 0 so the push stands."""
    ts_ns = time.time_ns()
    parser = argparse.ArgumentParser(prog="python -m labkit.hook", description="the lab's post-receive hook")
    parser.add_argument("--state-dir", required=True, type=Path, help="the lab's state directory")
    parser.add_argument("--git-dir", type=Path, default=None, help="the bare repo (default: $GIT_DIR)")
    args = parser.parse_args(argv)
    bare = (args.git_dir or Path(os.environ.get("GIT_DIR", "."))).resolve()
    for update in parse_updates(stdin if stdin is not None else sys.stdin):
        try:
            lines = handle(update, args.state_dir.resolve(), bare, ts_ns, sys.executable)
        except Exception as e:  # the push already happened; say what broke and carry on
            lines = [f"warning: hook failed for {update.ref}: {e}"]
        for line in lines:
            print(f"labkit: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # git runs hooks with GIT_DIR and friends set; labkit.git passes paths explicitly,
    # and the detached pipeline must not inherit them.
    for _key in [k for k in os.environ if k.startswith("GIT_") and k != "GIT_DIR"]:
        del os.environ[_key]
    sys.exit(main())
