"""The only module that talks to the Kubernetes API server.

The controller, the sync engine, the push pipeline, the drift injector, the
cluster backends and the notebooks all reach the cluster through
:class:`Kube`. It wraps the official ``kubernetes`` client (one
``ApiClient`` per kubeconfig and context, never the global default config,
and a ``DynamicClient`` for objects of any kind) and speaks plain dicts.

Two kinds of failure, kept apart on purpose (as in Argo CD's gitops-engine):
a problem with one object (invalid, immutable field, no such namespace, no
such kind, conflict) comes back as data in :class:`ApplyResult`; a broken
connection, bad credentials or an overloaded server raises
:class:`labkit.errors.KubeError` with the server URL and the next step.
"""

from __future__ import annotations

import builtins
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient, LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from labkit.errors import KubeError
from labkit.kube_watch import ApiWatchSource, Manifest, WatchError, watch_events

__all__ = ["ApplyResult", "Kube", "KubeApiError", "Manifest", "WatchError", "api_error_result"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
# Answers that mean "the server is unwell", not "this object is wrong".
_INFRA_CODES = frozenset({401, 429, 502, 503, 504})
_NEXT_STEP = "check the lab with `labkit status`; start it with `labkit up`"


@dataclass(frozen=True)
class ApplyResult:
    """What happened to one object: data, never an exception."""

    ok: bool
    obj: Manifest | None
    message: str
    code: int | None = None
    """HTTP status of a failure (422 invalid, 404 not found, 409 conflict); None on success."""
    reason: str = ""
    """The API server's reason (Invalid, NotFound, Conflict, AlreadyExists, Forbidden...)."""


class KubeApiError(KubeError):
    """The API server refused a call that has no per-object result (patch, patch_status)."""

    def __init__(self, message: str, hint: str = "", *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message, hint)
        self.code = code
        self.reason = reason


def _status_of(e: ApiException) -> tuple[int, str, str]:
    """(code, reason, message) from the API server's Status body, falling back to the HTTP line."""
    code = int(e.status or 0)
    reason, message = str(e.reason or ""), ""
    try:
        body = json.loads(e.body) if e.body else {}
    except (TypeError, ValueError):
        body = {}
    if isinstance(body, dict):
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or "")
    return code, reason, message or f"{code} {reason}".strip()


def api_error_result(e: ApiException) -> ApplyResult:
    """An API answer about one object, as data."""
    code, reason, message = _status_of(e)
    return ApplyResult(ok=False, obj=None, message=message, code=code, reason=reason)


def _with_default_timeout(request: Callable[..., Any], timeout_s: float) -> Callable[..., Any]:
    # The dynamic client's discovery calls pass no timeout, and urllib3 then
    # waits forever on a hung server; give every call without one ours.
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = timeout_s
        return request(*args, **kwargs)

    return wrapped


class _InMemoryDiscoverer(LazyDiscoverer):  # type: ignore[misc]
    # The stock discoverer shares a cache file in /tmp keyed by host:port: a
    # lab cluster recreated on the same port would inherit stale kinds, and
    # the controller and a notebook would race on the file. Keep it in memory.
    def _write_cache(self) -> None:
        pass


def _read_json(resp: Any) -> Manifest:
    data = resp.data
    return json.loads(data.decode("utf-8")) if data else {}


class Kube:
    """A connection to one API server, from one kubeconfig and context."""

    def __init__(
        self,
        kubeconfig: Path,
        context: str | None = None,
        timeout_s: float = 10.0,
        *,
        poll_s: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        try:
            self._api = k8s_config.new_client_from_config(
                config_file=str(kubeconfig), context=context, persist_config=False
            )
        except (k8s_config.ConfigException, OSError, ValueError) as e:
            raise KubeError(
                f"cannot load kubeconfig {kubeconfig} (context {context or 'current'}): {e}",
                hint="run `labkit up` to (re)write the lab's kubeconfig, or pass the right --context",
            ) from e
        self.kubeconfig, self.context, self.timeout_s = Path(kubeconfig), context, timeout_s
        self.poll_s, self._clock, self._sleep = poll_s, clock, sleep
        rest = self._api.rest_client
        rest.request = _with_default_timeout(rest.request, timeout_s)
        self._lock = threading.RLock()  # guards the dynamic client's discovery, which is not thread-safe
        self._dyn: DynamicClient | None = None
        self._resources: dict[tuple[str, str], Any] = {}

    # -- plumbing -----------------------------------------------------------

    def server_url(self) -> str:
        """The API server's URL, e.g. ``https://127.0.0.1:32766``."""
        return str(self._api.configuration.host)

    def close(self) -> None:
        """Release the connection pool (the controller and tests call this on exit)."""
        self._api.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn connection failures and infrastructure answers into KubeError."""
        url = self.server_url()
        try:
            yield
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise KubeError(f"API server at {url} is not reachable: {e}", hint=_NEXT_STEP) from e
        except ApiException as e:
            code, _, message = _status_of(e)
            if code not in _INFRA_CODES:
                raise
            what = "rejected labkit's credentials" if code == 401 else "is not ready"
            raise KubeError(f"API server at {url} {what}: {message}", hint=_NEXT_STEP) from e

    def _dynamic(self) -> DynamicClient:
        # Created on first use: building it already talks to the server, and
        # ping() must be able to say "not reachable" on its own terms.
        with self._lock:
            if self._dyn is None:
                never_written = Path(tempfile.gettempdir()) / f"labkit-discovery-{uuid.uuid4().hex}.json"
                with self._errors():
                    self._dyn = DynamicClient(
                        self._api, cache_file=str(never_written), discoverer=_InMemoryDiscoverer
                    )
            return self._dyn

    def ping(self) -> str:
        """The server's gitVersion; KubeError with the URL and next step if it does not answer."""
        with self._errors():
            try:
                info = k8s_client.VersionApi(self._api).get_code(_request_timeout=self.timeout_s)
            except ApiException as e:
                raise KubeError(f"API server at {self.server_url()} answered {e.status}", _NEXT_STEP) from e
        return str(info.git_version)

    # -- discovery ------------------------------------------------------------

    def is_namespaced(self, api_version: str, kind: str) -> bool | None:
        """Whether objects of this kind live in a namespace; None when the server has no such kind."""
        resource = self._resource(api_version, kind)
        return None if resource is None else bool(resource.namespaced)

    def refresh_discovery(self) -> None:
        """Forget what discovery learned (after CRDs were added or removed)."""
        with self._lock:
            self._resources.clear()
            if self._dyn is not None:
                with self._errors():
                    self._dyn.resources.invalidate_cache()

    def _resource(self, api_version: str, kind: str) -> Any | None:
        """The dynamic client's Resource for a kind, or None; a miss re-reads discovery once."""
        key = (api_version, kind)
        group, _, version = api_version.rpartition("/")
        # Naming the group avoids fetching every group's resource list for "v1".
        where = {"prefix": "apis", "group": group} if group else {"prefix": "api"}
        with self._lock:
            if key not in self._resources:
                dyn = self._dynamic()
                with self._errors():
                    try:
                        self._resources[key] = dyn.resources.get(api_version=version, kind=kind, **where)
                    except (ResourceNotFoundError, ResourceNotUniqueError):
                        return None
            return self._resources[key]

    def _forget(self, api_version: str, kind: str) -> None:
        # A 404 on a kind discovery vouched for: its CRD may be gone.
        with self._lock:
            self._resources.pop((api_version, kind), None)

    def _path(self, api_version: str, kind: str, name: str | None, namespace: str | None) -> str | None:
        resource = self._resource(api_version, kind)
        if resource is None:
            return None
        if resource.namespaced and name and not namespace:
            raise KubeError(f"{kind} is namespaced: give a namespace to find {kind} {name!r}")
        return str(resource.path(name=name, namespace=namespace if resource.namespaced else None))

    def _request(self, method: str, path: str, **params: Any) -> Any:
        """One call through the dynamic client; returns the raw urllib3 response."""
        with self._errors():
            return self._dynamic().request(method, path, serialize=False, **params)

    # -- objects --------------------------------------------------------------

    def apply(
        self, obj: Manifest, *, dry_run: bool = False, field_manager: str = "labkit", force: bool = True
    ) -> ApplyResult:
        """Server-side apply one object (``dry_run`` asks the server to validate without saving)."""
        meta = obj.get("metadata") or {}
        api_version, kind, name = obj.get("apiVersion"), obj.get("kind"), meta.get("name")
        if not (api_version and kind and name):
            return ApplyResult(
                False, None, "object needs apiVersion, kind and metadata.name", 400, "BadRequest"
            )
        resource = self._resource(api_version, kind)
        if resource is None:
            message = f'no matches for kind "{kind}" in version "{api_version}"'
            return ApplyResult(False, None, message, 404, "NotFound")
        namespace = meta.get("namespace") if resource.namespaced else None
        if resource.namespaced and not namespace:
            return ApplyResult(False, None, f'{kind} "{name}" needs metadata.namespace', 400, "BadRequest")
        with self._errors():
            try:
                resp = self._dynamic().server_side_apply(
                    resource,
                    body=obj,
                    name=name,
                    namespace=namespace,
                    field_manager=field_manager,
                    force_conflicts=force,
                    dry_run="All" if dry_run else None,
                    serialize=False,
                )
            except ApiException as e:
                if e.status == 404:
                    self._forget(api_version, kind)
                return api_error_result(e)
        verb = "created" if resp.status == 201 else "configured"
        return ApplyResult(True, _read_json(resp), verb + (" (dry run)" if dry_run else ""))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """The object, or None when it (or its kind) does not exist."""
        path = self._path(api_version, kind, name, namespace)
        if path is None:
            return None
        try:
            return _read_json(self._request("get", path))
        except ApiException as e:
            if e.status == 404:
                return None
            raise self._api_error(e, f"get {kind} {name!r}") from e

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> builtins.list[Manifest]:
        """Objects of a kind (all namespaces when ``namespace`` is None); [] when the kind is unknown."""
        return self.list_versioned(api_version, kind, namespace, label_selector=label_selector)[0]

    def list_versioned(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[builtins.list[Manifest], str]:
        """Objects plus the list's resourceVersion, to start a watch exactly where the list ended."""
        path = self._path(api_version, kind, None, namespace)
        if path is None:
            return [], ""
        items: builtins.list[Manifest] = []
        token: str | None = None
        while True:
            try:
                page = _read_json(
                    self._request("get", path, label_selector=label_selector, limit=500, _continue=token)
                )
            except ApiException as e:
                if e.status == 404:
                    self._forget(api_version, kind)
                    return [], ""
                raise self._api_error(e, f"list {kind}") from e
            # List items come without apiVersion/kind; callers pair objects by them.
            items += [{"apiVersion": api_version, "kind": kind, **item} for item in page.get("items") or []]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, str((page.get("metadata") or {}).get("resourceVersion") or "")

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Foreground",
    ) -> ApplyResult:
        """Delete one object. Already gone (or no such kind) counts as ok, with reason NotFound."""
        path = self._path(api_version, kind, name, namespace)
        if path is None:
            return ApplyResult(
                True, None, f'already gone: no kind "{kind}" in "{api_version}"', 404, "NotFound"
            )
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            resp = self._request("delete", path, body=body)
        except ApiException as e:
            result = api_error_result(e)
            if result.code == 404:
                return ApplyResult(True, None, "already gone", 404, "NotFound")
            return result
        return ApplyResult(True, _read_json(resp), "deleted")

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Manifest | builtins.list[Manifest],
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> Manifest:
        """Patch one object (``merge``, ``strategic`` or ``json``); KubeApiError when refused."""
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_TYPES)}, not {patch_type!r}")
        path = self._path(api_version, kind, name, namespace)
        if path is None:
            raise KubeApiError(f'no kind "{kind}" in "{api_version}"', code=404, reason="NotFound")
        if subresource:
            path += "/" + subresource
        try:
            resp = self._request("patch", path, body=patch, content_type=PATCH_TYPES[patch_type])
        except ApiException as e:
            raise self._api_error(e, f"patch {kind} {name!r}") from e
        return _read_json(resp)

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str, status: Manifest
    ) -> Manifest:
        """Merge ``status`` into the object's status subresource."""
        return self.patch(api_version, kind, name, namespace, {"status": status}, subresource="status")

    def _api_error(self, e: ApiException, what: str) -> KubeApiError:
        code, reason, message = _status_of(e)
        return KubeApiError(f"{what}: {message}", code=code, reason=reason)

    # -- built on the above -----------------------------------------------------

    def list_tracked(
        self, kinds: Iterable[tuple[str, str]], namespace: str | None, annotation: str, app: str
    ) -> builtins.list[Manifest]:
        """Objects of these kinds whose ``annotation`` starts with ``"<app>:"`` (kinds the server lacks are skipped)."""
        prefix = f"{app}:"
        found: builtins.list[Manifest] = []
        for api_version, kind in dict.fromkeys(kinds):
            for obj in self.list(api_version, kind, namespace):
                value = ((obj.get("metadata") or {}).get("annotations") or {}).get(annotation, "")
                if value.startswith(prefix):
                    found.append(obj)
        return found

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Create the namespace (or add labels); waits out an earlier one that is still terminating."""
        current = self.get("v1", "Namespace", name)
        if current and (current.get("status") or {}).get("phase") == "Terminating":
            self.wait_for(
                lambda: self.get("v1", "Namespace", name) is None, 120, f"namespace {name} to go away"
            )
        meta: Manifest = {"name": name, **({"labels": dict(labels)} if labels else {})}
        result = self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        if not result.ok:
            raise KubeApiError(f"cannot create namespace {name}: {result.message}", code=result.code)

    def ensure_crd(self, crd: Manifest, timeout_s: float = 30.0) -> None:
        """Apply a CustomResourceDefinition and wait until it is Established and discoverable."""
        name = (crd.get("metadata") or {}).get("name", "?")
        result = self.apply(crd)
        if not result.ok:
            raise KubeApiError(
                f"cannot install CustomResourceDefinition {name}: {result.message}",
                hint="this is a labkit bug if the CRD ships with labkit; report it",
                code=result.code,
                reason=result.reason,
            )

        def established() -> bool:
            live = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
            conditions = (live.get("status") or {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        self.wait_for(established, timeout_s, f"CustomResourceDefinition {name} to be Established")
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        served = [
            f"{spec.get('group')}/{v['name']}" for v in spec.get("versions") or [] if v.get("served", True)
        ]
        # Discovery lags Established by a moment; callers apply objects of the kind next.
        self.wait_for(
            lambda: all(self.is_namespaced(av, kind) is not None for av in served),
            timeout_s,
            f"kind {kind} to appear in discovery",
        )

    def nodes_ready(self) -> int:
        """How many nodes report condition Ready=True."""
        return sum(
            any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
            for n in self.list("v1", "Node")
        )

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``predicate`` until true; a KubeError from it counts as "not yet" (a restarting server)."""
        deadline, delay, last = self._clock() + timeout_s, 0.05, ""
        while True:
            try:
                if predicate():
                    return
            except KubeError as e:
                last = f" (last error: {str(e).splitlines()[0]})"
            if self._clock() >= deadline:
                raise KubeError(f"timed out after {timeout_s:g} s waiting for {what}{last}", hint=_NEXT_STEP)
            self._sleep(delay)
            delay = min(delay * 2, 0.5)

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_s: int = 300,
        stop: threading.Event | None = None,
        label_selector: str | None = None,
        bookmarks: bool = False,
    ) -> Iterator[tuple[str, Manifest]]:
        """``(type, object)`` events for a kind; see :func:`labkit.kube_watch.watch_events`."""
        path = self._path(api_version, kind, None, namespace)
        if path is None:
            raise KubeError(
                f'cannot watch: no kind "{kind}" in "{api_version}"', hint="install its CRD first"
            )
        source = ApiWatchSource(
            lambda: self.list_versioned(api_version, kind, namespace, label_selector=label_selector),
            lambda method, p, **params: self._request(method, p, **params),
            path,
            label_selector,
            self.timeout_s,
        )
        return watch_events(
            source,
            resource_version=resource_version,
            timeout_s=timeout_s,
            poll_s=self.poll_s,
            stop=stop,
            bookmarks=bookmarks,
            clock=self._clock,
        )
