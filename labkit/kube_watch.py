"""The watch loop behind :meth:`labkit.kube.Kube.watch`: short watches, resume, re-list on 410.

``labkit.kube`` is the only caller; it hands :func:`watch_events` a
:class:`WatchSource` bound to one (apiVersion, kind, namespace), and unit
tests hand it a fake. Kept apart from ``kube.py`` because this is the one
piece with real state (the resource version to resume from, and what the
caller has been told exists).

Why short watches: the controller runs one watch thread per kind and must be
able to stop them. A read blocked on a socket cannot see a
``threading.Event``, so each request asks the API server to end the stream
after ``poll_s`` seconds; between requests the loop checks ``stop`` and
resumes from the last resource version it saw, so no event is lost.

Why re-list on 410 Gone: the API server keeps a bounded window of history.
Resuming from a version older than that window fails with 410, and the only
way back is a fresh list. The loop then tells the caller what changed while
it was blind: ``ADDED``/``MODIFIED`` for objects that are new or changed,
``DELETED`` for objects it had reported before that are gone.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from labkit.errors import KubeError

Manifest = dict[str, Any]

GONE = 410


class WatchError(KubeError):
    """A watch stream broke. Resume with ``resource_version`` (``None``: start with a fresh list)."""

    def __init__(
        self, message: str, hint: str = "", *, resource_version: str | None, code: int | None = None
    ) -> None:
        super().__init__(message, hint)
        self.resource_version = resource_version
        self.code = code


class WatchSource(Protocol):
    """What the loop needs from the API server for one kind (and namespace)."""

    def list(self) -> tuple[list[Manifest], str]:
        """All current objects and the list's resourceVersion."""
        ...

    def open(self, resource_version: str, timeout_s: int) -> Iterator[Manifest]:
        """Raw watch events (``{"type", "object"}``) from ``resource_version``, ending after ``timeout_s``.

        A 410 answer to the request itself comes back as an ``ERROR`` event
        with ``code`` 410, the same way a 410 in the stream does. Connection
        problems raise :class:`KubeError`.
        """
        ...


class ApiWatchSource:
    """A :class:`WatchSource` over the real API server, built by ``Kube.watch``."""

    def __init__(
        self,
        list_fn: Callable[[], tuple[list[Manifest], str]],
        request: Callable[..., Any],
        path: str,
        label_selector: str | None,
        connect_timeout_s: float,
    ) -> None:
        self._list_fn, self._request, self.path = list_fn, request, path
        self.label_selector, self.connect_timeout_s = label_selector, connect_timeout_s

    def list(self) -> tuple[list[Manifest], str]:
        return self._list_fn()

    def open(self, resource_version: str, timeout_s: int) -> Iterator[Manifest]:
        try:
            resp = self._request(
                "get",
                self.path,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_s,
                label_selector=self.label_selector,
                # The server ends the stream after timeout_s; a read that
                # waits much longer than that means the connection is dead.
                _request_timeout=(self.connect_timeout_s, timeout_s + 10),
            )
        except ApiException as e:
            yield {"type": "ERROR", "object": _status_body(e)}
            return
        try:
            for line in iter_resp_lines(resp):
                if line.strip():
                    yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise KubeError(
                f"watch {self.path} broke: {e}", hint="reconnect; the API server may be restarting"
            ) from e
        finally:
            resp.close()
            resp.release_conn()


def _status_body(e: ApiException) -> Manifest:
    try:
        body = json.loads(e.body) if e.body else {}
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    return {"code": e.status, "message": body.get("message") or f"{e.status} {e.reason}", **body}


def _key(obj: Manifest) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _rv(obj: Manifest) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv else None


@dataclass
class _State:
    rv: str | None
    known: dict[tuple[str, str], str | None] = field(default_factory=dict)
    """resourceVersion of every object the caller has been told exists."""


def _resync(source: WatchSource, state: _State) -> Iterator[tuple[str, Manifest]]:
    items, list_rv = source.list()
    seen: dict[tuple[str, str], Manifest] = {_key(o): o for o in items}
    for key, obj in seen.items():
        if key not in state.known:
            yield "ADDED", obj
        elif state.known[key] != _rv(obj):
            yield "MODIFIED", obj
    for key in [k for k in state.known if k not in seen]:
        namespace, name = key
        gone: Manifest = {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}
        yield "DELETED", gone
    state.known = {k: _rv(o) for k, o in seen.items()}
    state.rv = list_rv


def _stream_once(
    source: WatchSource, state: _State, window: int, stop: threading.Event | None, bookmarks: bool
) -> Iterator[tuple[str, Manifest]]:
    """One watch request; returns early after a re-list or when ``stop`` is set."""
    assert state.rv is not None
    for event in source.open(state.rv, window):
        kind, obj = str(event.get("type", "")), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == GONE:
                yield from _resync(source, state)
                return
            raise WatchError(
                f"watch failed: {obj.get('message') or obj}",
                resource_version=state.rv,
                code=obj.get("code"),
            )
        state.rv = _rv(obj) or state.rv
        if kind == "DELETED":
            state.known.pop(_key(obj), None)
        elif kind != "BOOKMARK":
            state.known[_key(obj)] = _rv(obj)
        if kind != "BOOKMARK" or bookmarks:
            yield kind, obj
        if stop is not None and stop.is_set():
            return


def watch_events(
    source: WatchSource,
    *,
    resource_version: str | None = None,
    timeout_s: float = 300,
    poll_s: int = 3,
    stop: threading.Event | None = None,
    bookmarks: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[str, Manifest]]:
    """Yield ``(event type, object)`` until ``timeout_s`` passes or ``stop`` is set.

    Without ``resource_version`` the loop lists first and reports every
    object as ``ADDED`` (what an informer's first sync does). Raises
    :class:`WatchError` carrying the last resource version on connection loss.
    """
    state = _State(rv=resource_version)
    deadline = clock() + timeout_s
    try:
        if state.rv is None:
            yield from _resync(source, state)
        while not (stop is not None and stop.is_set()):
            left = deadline - clock()
            if left <= 0:
                return
            window = max(1, min(poll_s, math.ceil(left)))
            yield from _stream_once(source, state, window, stop, bookmarks)
    except WatchError:
        raise
    except KubeError as e:
        raise WatchError(e.message, e.hint, resource_version=state.rv) from e
