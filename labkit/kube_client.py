"""Connection plumbing under :mod:`labkit.kube`: client, error translation, discovery.

Only ``labkit.kube`` imports this. It loads one kubeconfig context into its
own ``ApiClient`` (never the global default config), creates the
``DynamicClient`` on first use, remembers which (apiVersion, kind) maps to
which API resource, and turns connection failures and "server unwell"
answers into :class:`labkit.errors.KubeError` with the server URL and the
next step. Answers about one object (404, 409, 422...) pass through as
``ApiException`` so ``kube.py`` can turn them into data.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient, LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from labkit.errors import KubeError

Manifest = dict[str, Any]

NEXT_STEP = "check the lab with `labkit status`; start it with `labkit up`"
# Answers that mean "the server is unwell or we are not let in", not "this object is wrong".
_INFRA_CODES = frozenset({401, 429, 502, 503, 504})


class KubeApiError(KubeError):
    """The API server refused a call that has no per-object result (patch, get of a broken kind...)."""

    def __init__(self, message: str, hint: str = "", *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message, hint)
        self.code = code
        self.reason = reason


def api_status(e: ApiException) -> tuple[int, str, str]:
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


def api_error(e: ApiException, what: str) -> KubeApiError:
    """A refused call as an exception that names what was attempted."""
    code, reason, message = api_status(e)
    return KubeApiError(f"{what}: {message}", code=code, reason=reason)


def read_json(resp: Any) -> Manifest:
    """The body of a raw (urllib3) response as a dict."""
    data = resp.data
    return json.loads(data.decode("utf-8")) if data else {}


def _why(e: Exception) -> str:
    # urllib3 nests the cause ("...Max retries exceeded... (Caused by NewConnectionError(...)))");
    # a learner needs only its last words, e.g. "[Errno 111] Connection refused".
    text = str(getattr(e, "reason", None) or e)
    return text.rsplit("): ", 1)[-1]


def _with_default_timeout(request: Callable[..., Any], timeout_s: float) -> Callable[..., Any]:
    # The dynamic client's discovery calls pass no timeout, and urllib3 then
    # waits forever on a hung server; give every call without one ours.
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = timeout_s
        return request(*args, **kwargs)

    return wrapped


class _InMemoryDiscoverer(LazyDiscoverer):
    # The stock discoverer shares a cache file in /tmp keyed by host:port: a
    # lab cluster recreated on the same port would inherit stale kinds, and
    # the controller and a notebook would race on the file. Keep it in memory.
    def _write_cache(self) -> None:
        pass


class Connection:
    """One kubeconfig context: an ApiClient, a lazily built DynamicClient and a discovery cache."""

    def __init__(self, kubeconfig: Path, context: str | None, timeout_s: float) -> None:
        try:
            cfg = k8s_client.Configuration()
            k8s_config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=cfg, persist_config=False
            )
            # Every watch holds a connection, and the controller's workers need
            # theirs: the default pool (5 per core) would churn connections.
            cfg.connection_pool_maxsize = 32
            self.api = k8s_client.ApiClient(cfg)
        except (k8s_config.ConfigException, OSError, ValueError) as e:
            raise KubeError(
                f"cannot load kubeconfig {kubeconfig} (context {context or 'current'}): {e}",
                hint="run `labkit up` to (re)write the lab's kubeconfig, or pass the right context",
            ) from e
        self.timeout_s = timeout_s
        # The API server names the field manager of plain patches after the
        # user agent; "labkit" reads better in managedFields than "OpenAPI-Generator".
        self.api.user_agent = "labkit"
        rest = self.api.rest_client
        rest.request = _with_default_timeout(rest.request, timeout_s)  # type: ignore[method-assign]
        # Discovery in the dynamic client is not thread-safe; watch threads share it.
        self._lock = threading.RLock()
        self._dyn: DynamicClient | None = None
        self._resources: dict[tuple[str, str], Any] = {}

    @property
    def url(self) -> str:
        return str(self.api.configuration.host)

    def close(self) -> None:
        self.api.close()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn connection failures and infrastructure answers into KubeError."""
        try:
            yield
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise KubeError(f"API server at {self.url} is not reachable: {_why(e)}", hint=NEXT_STEP) from e
        except ApiException as e:
            code, _, message = api_status(e)
            if code not in _INFRA_CODES:
                raise
            what = "rejected labkit's credentials" if code == 401 else "is not ready"
            raise KubeError(f"API server at {self.url} {what}: {message}", hint=NEXT_STEP) from e

    def dynamic(self) -> DynamicClient:
        # Built on first use because building it already talks to the server.
        with self._lock:
            if self._dyn is None:
                never_written = Path(tempfile.gettempdir()) / f"labkit-discovery-{uuid.uuid4().hex}.json"
                with self.errors():
                    self._dyn = DynamicClient(
                        self.api, cache_file=str(never_written), discoverer=_InMemoryDiscoverer
                    )
            return self._dyn

    def resource(self, api_version: str, kind: str) -> Any | None:
        """The dynamic client's Resource for a kind, or None; a miss re-reads discovery once."""
        key = (api_version, kind)
        group, _, version = api_version.rpartition("/")
        # Naming the group avoids fetching every group's resource list for "v1".
        where = {"prefix": "apis", "group": group} if group else {"prefix": "api"}
        with self._lock:
            if key not in self._resources:
                dyn = self.dynamic()
                with self.errors():
                    try:
                        self._resources[key] = dyn.resources.get(api_version=version, kind=kind, **where)
                    except (ResourceNotFoundError, ResourceNotUniqueError):
                        return None
            return self._resources[key]

    def forget(self, api_version: str, kind: str) -> None:
        """Drop one kind (a 404 on a kind discovery vouched for: its CRD may be gone)."""
        with self._lock:
            if self._resources.pop((api_version, kind), None) is not None and self._dyn is not None:
                with self.errors():
                    self._dyn.resources.invalidate_cache()

    def path(self, api_version: str, kind: str, name: str | None, namespace: str | None) -> str | None:
        """The URL path of an object (or of its collection when ``name`` is None); None for unknown kinds."""
        resource = self.resource(api_version, kind)
        if resource is None:
            return None
        if resource.namespaced and name and not namespace:
            raise KubeError(f"{kind} is namespaced: give a namespace to find {kind} {name!r}")
        return str(resource.path(name=name, namespace=namespace if resource.namespaced else None))

    def request(self, method: str, path: str, **params: Any) -> Any:
        """One call through the dynamic client; returns the raw urllib3 response, unread."""
        with self.errors():
            return self.dynamic().request(method, path, serialize=False, **params)
