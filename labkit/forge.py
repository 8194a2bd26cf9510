"""What a forge tells the real engines after a push: a GitHub push event to Argo CD, a reconcile to Flux.

GitHub notifies Argo CD of a push with a signed ``push`` event on Argo CD's
``/api/webhook``; Flux is told with the ``reconcile.fluxcd.io/requestedAt``
annotation on a GitRepository (what ``flux reconcile source git`` writes). The
lab's ``post-receive`` hook (:func:`labkit.hook.handle`) does both after every
push, so a commit refreshes each engine at once, as it would with GitHub:

- :func:`notify_argocd` when the Argo CD runtime has written
  ``<state_dir>/argocd.json`` (``{"server": "127.0.0.1:PORT", ...}``): a body
  from :func:`github_push_event`, signed with ``<state_dir>/argocd-webhook.secret``
  (the secret ``argocd-secret`` holds as ``webhook.github.secret``) in
  ``X-Hub-Signature-256``, the only signature Argo CD v3 checks;
- :func:`notify_flux` when ``<state_dir>/flux.json`` exists: annotate, with
  the venv's kubectl and the lab's kubeconfig, every GitRepository whose
  ``spec.url`` is the lab's HTTP URL.

Each is bounded by ``timeout`` seconds and never raises: the push has happened,
so an engine that is down becomes one :class:`Notice` line for the pusher.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import ProxyHandler, Request, build_opener

from labkit.git import BRANCH, ZERO_SHA, PushedCommit
from labkit.proc import Runner, run

ARGOCD_INFO = "argocd.json"
ARGOCD_SECRET = "argocd-webhook.secret"
FLUX_INFO = "flux.json"
EVENT_HEADER = "X-GitHub-Event"
SIGNATURE_HEADER = "X-Hub-Signature-256"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
GITREPOSITORY = "gitrepositories.source.toolkit.fluxcd.io"
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Notice:
    """What became of telling one engine about a push: sent or not, a status, a line for the pusher."""

    engine: str
    sent: bool
    status: int | None
    message: str


def github_push_event(
    ref: str, before: str, after: str, commits: Sequence[PushedCommit], http_url: str
) -> dict[str, Any]:
    """The fields of GitHub's ``push`` event that Argo CD reads, for a push to the lab's repository.

    Argo CD matches Applications by ``repository.html_url`` (GitHub's form has no
    ``.git``; Argo CD's pattern accepts a repoURL with or without it), decides
    "the default branch moved" from ``default_branch``, and reads the changed
    files of ``commits`` for the ``argocd.argoproj.io/manifest-generate-paths``
    annotation.
    """
    name = http_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    entries = [
        {
            "id": c.sha,
            "message": c.message,
            "added": list(c.added),
            "modified": list(c.modified),
            "removed": list(c.removed),
        }
        for c in commits
    ]
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": after == ZERO_SHA,
        "commits": entries,
        "head_commit": entries[-1] if entries else None,
        "repository": {
            "name": name,
            "full_name": f"labkit/{name}",
            "html_url": http_url.removesuffix(".git"),
            "clone_url": http_url,
            "default_branch": BRANCH,
        },
        "pusher": {"name": "labkit", "email": "learner@labkit.local"},
    }


def github_signature(secret: bytes, body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def argocd_webhook_url(state_dir: Path) -> str | None:
    """``http://<server>/api/webhook`` from ``argocd.json``; None when Argo CD is not on the lab."""
    try:
        server = str(json.loads((Path(state_dir) / ARGOCD_INFO).read_text())["server"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"http://{server}/api/webhook"  # the lab runs argocd-server --insecure on 127.0.0.1


def notify_argocd(state_dir: Path, event: dict[str, Any], *, timeout: float = TIMEOUT_S) -> Notice | None:
    """POST ``event`` signed to Argo CD's webhook; None (nothing to say) when Argo CD is not on the lab."""
    state_dir = Path(state_dir)
    url = argocd_webhook_url(state_dir)
    if url is None:
        return None
    if not url.startswith("http://127.0.0.1:"):
        return Notice("argocd", False, None, f"refusing to send the push event to {url}: only 127.0.0.1")
    try:
        secret = (state_dir / ARGOCD_SECRET).read_bytes().strip()
    except OSError:
        secret = b""
    if not secret:
        return Notice("argocd", False, None, f"no secret in {state_dir / ARGOCD_SECRET}; Argo CD not told")
    body = json.dumps(event, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: "push",
        SIGNATURE_HEADER: github_signature(secret, body),
    }
    opener = build_opener(ProxyHandler({}))  # an http_proxy variable must not reroute a loopback call
    try:
        with opener.open(Request(url, data=body, headers=headers, method="POST"), timeout=timeout) as resp:
            status = int(resp.status)
    except HTTPError as e:
        e.close()
        return Notice("argocd", False, e.code, f"Argo CD at {url} refused the push event (HTTP {e.code})")
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return Notice("argocd", False, None, f"Argo CD unreachable at {url} ({reason}); it polls Git later")
    return Notice("argocd", True, status, f"push event delivered to Argo CD (HTTP {status})")


def flux_targets(gitrepositories: dict[str, Any], http_url: str) -> list[tuple[str, str]]:
    """(namespace, name) of the GitRepositories in a ``kubectl get -o json`` list that read ``http_url``."""
    wanted = _same_repo_key(http_url)
    return [
        (item["metadata"]["namespace"], item["metadata"]["name"])
        for item in gitrepositories.get("items", [])
        if _same_repo_key(str((item.get("spec") or {}).get("url", ""))) == wanted
    ]


def _same_repo_key(url: str) -> str:
    return url.strip().rstrip("/").removesuffix(".git")


def notify_flux(
    state_dir: Path,
    http_url: str,
    *,
    runner: Runner = run,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    timeout: float = TIMEOUT_S,
) -> Notice | None:
    """Ask Flux to reconcile the GitRepositories of the lab's repository; None when Flux is not on the lab."""
    state_dir = Path(state_dir)
    if not (state_dir / FLUX_INFO).exists():
        return None
    # Imported here: only a lab with Flux needs the cluster helpers.
    from labkit.cluster.labstate import read_record
    from labkit.errors import LabkitError

    record = read_record(state_dir)
    if record is None:
        return Notice("flux", False, None, f"no lab record in {state_dir}; Flux not told")
    try:
        targets = _annotate_gitrepositories(record.kubeconfig, record.context, http_url, runner, now, timeout)
    except (LabkitError, ValueError, KeyError, TypeError) as e:
        return Notice("flux", False, None, f"could not ask Flux to reconcile: {str(e).splitlines()[0]}")
    if not targets:
        return Notice("flux", False, None, f"no Flux GitRepository reads {http_url}; nothing to reconcile")
    names = ", ".join(f"{ns}/{name}" for ns, name in targets)
    return Notice("flux", True, None, f"asked Flux to reconcile GitRepository {names}")


def _annotate_gitrepositories(
    kubeconfig: str,
    context: str,
    http_url: str,
    runner: Runner,
    now: Callable[[], datetime],
    timeout: float,
) -> list[tuple[str, str]]:
    """``kubectl get`` the GitRepositories, ``kubectl annotate`` those of ``http_url``, within ``timeout``."""
    from labkit.cluster.kubectl import kubectl_argv

    deadline = time.monotonic() + timeout

    def kubectl(*args: str) -> str:
        left = max(deadline - time.monotonic(), 0.2)
        argv = [*kubectl_argv(Path(kubeconfig), context, *args), f"--request-timeout={left:.1f}s"]
        return runner(argv, timeout=left + 0.5, check=True).stdout

    targets = flux_targets(json.loads(kubectl("get", GITREPOSITORY, "-A", "-o", "json")), http_url)
    stamp = now().isoformat().replace("+00:00", "Z")
    for namespace, name in targets:
        kubectl("annotate", "--overwrite", "-n", namespace, GITREPOSITORY, name, f"{REQUESTED_AT}={stamp}")
    return targets


__all__ = [
    "ARGOCD_INFO",
    "ARGOCD_SECRET",
    "FLUX_INFO",
    "Notice",
    "argocd_webhook_url",
    "flux_targets",
    "github_push_event",
    "github_signature",
    "notify_argocd",
    "notify_flux",
]
