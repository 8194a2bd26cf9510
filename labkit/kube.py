"""The only module that talks to the Kubernetes API server.

The controller, the sync engine, the push pipeline, the drift injector, the
cluster backends and the notebooks all reach the cluster through
:class:`Kube`. It wraps the official ``kubernetes`` client (plumbing in
``labkit.kube_client``, the watch loop in ``labkit.kube_watch``) and speaks
plain dicts in and out.

Two kinds of failure, kept apart on purpose (as in Argo CD's gitops-engine):
a problem with one object (invalid, immutable field, no such namespace, no
such kind, conflict) comes back as data in :class:`ApplyResult`; a broken
connection, bad credentials or an overloaded server raises
:class:`labkit.errors.KubeError` with the server URL and the next step.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException

from labkit.errors import KubeError
from labkit.kube_client import NEXT_STEP, Connection, KubeApiError, Manifest, api_error, api_status, read_json
from labkit.kube_watch import ApiWatchSource, WatchError, watch_events

__all__ = ["ApplyResult", "Kube", "KubeApiError", "Manifest", "WatchError"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
CRD_API = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class ApplyResult:
    """What happened to one object: data, never an exception."""

    ok: bool
    obj: Manifest | None
    message: str
    code: int | None = None
    """HTTP status of the API's answer when it was not a plain success (422, 404, 409...)."""
    reason: str = ""
    """The API server's reason: Invalid, NotFound, Conflict, AlreadyExists, Forbidden..."""

    @classmethod
    def failed(cls, e: ApiException) -> ApplyResult:
        code, reason, message = api_status(e)
        return cls(ok=False, obj=None, message=message, code=code, reason=reason)


def _condition_true(obj: Manifest | None, kind: str) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


class Kube:
    """A connection to one API server, from one kubeconfig and context.

    ``poll_s`` is how long each watch request may block before the loop
    checks ``stop`` again, in seconds; ``clock`` and ``sleep`` drive
    :meth:`wait_for` and the watch deadline (tests pass fakes).
    """

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
        self._conn = Connection(Path(kubeconfig), context, timeout_s)
        self.kubeconfig, self.context, self.timeout_s = Path(kubeconfig), context, timeout_s
        self.poll_s, self._clock, self._sleep = poll_s, clock, sleep

    def server_url(self) -> str:
        """The API server's URL, e.g. ``https://127.0.0.1:32766``."""
        return self._conn.url

    def close(self) -> None:
        """Release the connection pool (the controller and tests call this on exit)."""
        self._conn.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> str:
        """The server's gitVersion; KubeError with the URL and next step if it does not answer."""
        with self._conn.errors():
            try:
                info = k8s_client.VersionApi(self._conn.api).get_code(_request_timeout=self.timeout_s)
            except ApiException as e:
                raise KubeError(f"API server at {self.server_url()} answered {e.status}", NEXT_STEP) from e
        return str(info.git_version)

    def is_namespaced(self, api_version: str, kind: str) -> bool | None:
        """Whether objects of this kind live in a namespace; None when the server has no such kind."""
        resource = self._conn.resource(api_version, kind)
        return None if resource is None else bool(resource.namespaced)

    # -- one object at a time ------------------------------------------------

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
        resource = self._conn.resource(api_version, kind)
        no_kind = f'no matches for kind "{kind}" in version "{api_version}"'
        if resource is None:
            return ApplyResult(False, None, no_kind, 404, "NotFound")
        namespace = meta.get("namespace") if resource.namespaced else None
        if resource.namespaced and not namespace:
            return ApplyResult(False, None, f'{kind} "{name}" needs metadata.namespace', 400, "BadRequest")
        with self._conn.errors():
            try:
                resp = self._conn.dynamic().server_side_apply(
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
                result = ApplyResult.failed(e)
                # Not a missing namespace? Then the kind itself may be gone (its CRD deleted).
                if e.status == 404 and not result.message.startswith('namespaces "'):
                    self._conn.forget(api_version, kind)
                    if self._conn.resource(api_version, kind) is None:
                        return ApplyResult(False, None, no_kind, 404, "NotFound")
                return result
        verb = "created" if resp.status == 201 else "configured"
        return ApplyResult(True, read_json(resp), verb + (" (dry run)" if dry_run else ""))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """The object, or None when it (or its kind) does not exist."""
        path = self._conn.path(api_version, kind, name, namespace)
        if path is None:
            return None
        try:
            return read_json(self._conn.request("get", path))
        except ApiException as e:
            if e.status == 404:
                return None
            raise api_error(e, f"get {kind} {name!r}") from e

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> builtins.list[Manifest]:
        """Objects of a kind (all namespaces when ``namespace`` is None); [] when the kind is unknown."""
        return self.list_versioned(api_version, kind, namespace, label_selector=label_selector)[0]

    def list_versioned(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[builtins.list[Manifest], str]:
        """Objects plus the list's resourceVersion, to start a watch exactly where the list ended."""
        path = self._conn.path(api_version, kind, None, namespace)
        items: builtins.list[Manifest] = []
        token: str | None = None
        while path is not None:
            try:
                resp = self._conn.request(
                    "get", path, label_selector=label_selector, limit=500, _continue=token
                )
            except ApiException as e:
                if e.status != 404:
                    raise api_error(e, f"list {kind}") from e
                self._conn.forget(api_version, kind)
                break
            page = read_json(resp)
            # List items come without apiVersion/kind; callers pair objects by them.
            items += [{"apiVersion": api_version, "kind": kind, **item} for item in page.get("items") or []]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, str((page.get("metadata") or {}).get("resourceVersion") or "")
        return [], ""

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
        path = self._conn.path(api_version, kind, name, namespace)
        if path is None:
            return ApplyResult(
                True, None, f'already gone: no kind "{kind}" in "{api_version}"', 404, "NotFound"
            )
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            resp = self._conn.request("delete", path, body=body)
        except ApiException as e:
            if e.status == 404:
                return ApplyResult(True, None, "already gone", 404, "NotFound")
            return ApplyResult.failed(e)
        gone = read_json(resp)
        if gone.get("kind") == "Status":  # the object was removed at once; there is nothing to show
            return ApplyResult(True, None, "deleted")
        # Foreground deletion and finalizers keep the object around for a while.
        pending = bool((gone.get("metadata") or {}).get("deletionTimestamp"))
        return ApplyResult(True, gone, "deletion in progress" if pending else "deleted")

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
        """Patch one object (``merge``, ``strategic``, or ``json`` with a list); KubeApiError when refused."""
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_TYPES)}, not {patch_type!r}")
        path = self._conn.path(api_version, kind, name, namespace)
        if path is None:
            raise KubeApiError(f'patch {kind} {name!r}: no kind "{kind}" in "{api_version}"', code=404)
        try:
            resp = self._conn.request(
                "patch",
                path + (f"/{subresource}" if subresource else ""),
                body=patch,
                content_type=PATCH_TYPES[patch_type],
            )
        except ApiException as e:
            raise api_error(e, f"patch {kind} {name!r}") from e
        return read_json(resp)

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str, status: Manifest
    ) -> Manifest:
        """Merge ``status`` into the object's status subresource (the CRD must enable it)."""
        return self.patch(api_version, kind, name, namespace, {"status": status}, subresource="status")

    # -- built on the above ----------------------------------------------------

    def list_tracked(
        self, kinds: Iterable[tuple[str, str]], namespace: str | None, annotation: str, app: str
    ) -> builtins.list[Manifest]:
        """Objects of these kinds whose ``annotation`` starts with ``"<app>:"``; unknown kinds are skipped."""
        prefix = f"{app}:"
        found: builtins.list[Manifest] = []
        for api_version, kind in dict.fromkeys(kinds):
            for obj in self.list(api_version, kind, namespace):
                if ((obj["metadata"].get("annotations") or {}).get(annotation) or "").startswith(prefix):
                    found.append(obj)
        return found

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Make sure the namespace exists and carries at least ``labels``; never removes a label.

        An old namespace of that name that is still terminating is waited out first.
        """
        current = self.get("v1", "Namespace", name)
        if current and (current.get("status") or {}).get("phase") == "Terminating":
            self.wait_for(
                lambda: self.get("v1", "Namespace", name) is None, 120, f"namespace {name} to go away"
            )
            current = None
        wanted = dict(labels or {})
        if current is None:
            meta: Manifest = {"name": name, **({"labels": wanted} if wanted else {})}
            result = self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
            if not result.ok:
                raise KubeApiError(f"cannot create namespace {name}: {result.message}", code=result.code)
        elif wanted.items() - ((current["metadata"].get("labels") or {}).items()):
            # A merge patch, not apply: applying a smaller label set would drop labels an earlier call added.
            self.patch("v1", "Namespace", name, None, {"metadata": {"labels": wanted}})

    def ensure_crd(self, crd: Manifest, timeout_s: float = 30.0) -> None:
        """Apply a CustomResourceDefinition; wait until it is Established and its kind is discoverable."""
        name = (crd.get("metadata") or {}).get("name", "?")
        result = self.apply(crd)
        if not result.ok:
            raise KubeApiError(
                f"cannot install CustomResourceDefinition {name}: {result.message}", code=result.code
            )
        what = f"CustomResourceDefinition {name} to be Established"
        self.wait_for(
            lambda: _condition_true(self.get(CRD_API, "CustomResourceDefinition", name), "Established"),
            timeout_s,
            what,
        )
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        served = [
            f"{spec.get('group')}/{v['name']}" for v in spec.get("versions") or [] if v.get("served", True)
        ]
        # Discovery lags Established by a moment, and callers create objects of the kind next.
        self.wait_for(
            lambda: all(self.is_namespaced(v, kind) is not None for v in served),
            timeout_s,
            f"{kind} in discovery",
        )

    def nodes_ready(self) -> int:
        """How many nodes report condition Ready=True."""
        return sum(_condition_true(node, "Ready") for node in self.list("v1", "Node"))

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
                raise KubeError(f"timed out after {timeout_s:g} s waiting for {what}{last}", hint=NEXT_STEP)
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
        """``(type, object)`` events until ``timeout_s`` or ``stop``; see :mod:`labkit.kube_watch`."""
        path = self._conn.path(api_version, kind, None, namespace)
        if path is None:
            raise KubeError(
                f'cannot watch: no kind "{kind}" in "{api_version}"', hint="install its CRD first"
            )
        source = ApiWatchSource(
            lambda: self.list_versioned(api_version, kind, namespace, label_selector=label_selector),
            self._conn.request,
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
