"""Unit tests for labkit.kube and its helpers: error mapping, waiting, the watch loop.

No cluster here: the watch loop runs against a scripted fake source, and the
"server is down" cases talk to a real closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from labkit.errors import KubeError
from labkit.kube import ApplyResult, Kube, KubeApiError, Manifest, WatchError
from labkit.kube_client import Connection, api_status
from labkit.kube_watch import watch_events


def _api_exception(status: int, body: object, reason: str = "") -> ApiException:
    e = ApiException(status=status, reason=reason)
    e.body = body if isinstance(body, str) else json.dumps(body)
    return e


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose server is a port on 127.0.0.1 that nothing listens on."""
    port = _closed_port()
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True},
            }
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(config))
    return path


# -- error mapping --------------------------------------------------------------


def test_a_failed_apply_carries_the_api_servers_message_reason_and_code() -> None:
    message = 'Deployment.apps "web" is invalid: spec.selector: Invalid value: {}: field is immutable'
    e = _api_exception(422, {"kind": "Status", "status": "Failure", "reason": "Invalid", "message": message})

    result = ApplyResult.failed(e)

    assert result == ApplyResult(ok=False, obj=None, message=message, code=422, reason="Invalid")


def test_an_error_body_that_is_not_a_status_falls_back_to_the_http_line() -> None:
    assert api_status(_api_exception(404, "404 page not found", reason="Not Found")) == (
        404,
        "Not Found",
        "404 Not Found",
    )


def test_a_server_that_is_not_ready_is_an_infrastructure_error_naming_the_server(
    dead_kubeconfig: Path,
) -> None:
    conn = Connection(dead_kubeconfig, None, 1.0)
    try:
        status = {"kind": "Status", "reason": "ServiceUnavailable", "message": "etcd is down"}
        not_ready = r"https://127\.0\.0\.1:\d+ is not ready: etcd is down"
        with pytest.raises(KubeError, match=not_ready) as info, conn.errors():
            raise _api_exception(503, status)
        assert "labkit up" in info.value.hint
        assert isinstance(info.value.__cause__, ApiException)
    finally:
        conn.close()


def test_an_answer_about_one_object_passes_through_for_the_caller_to_turn_into_data(
    dead_kubeconfig: Path,
) -> None:
    conn = Connection(dead_kubeconfig, None, 1.0)
    try:
        with pytest.raises(ApiException), conn.errors():
            raise _api_exception(422, {"kind": "Status", "reason": "Invalid", "message": "bad"})
    finally:
        conn.close()


def test_ping_of_a_server_that_is_not_listening_names_the_url_and_the_next_step(
    dead_kubeconfig: Path,
) -> None:
    with Kube(dead_kubeconfig, timeout_s=2.0) as kube, pytest.raises(KubeError) as info:
        kube.ping()
    assert f"API server at {kube.server_url()} is not reachable" in str(info.value)
    assert str(info.value).splitlines()[0].endswith("Connection refused")
    assert "labkit up" in str(info.value)


def test_apply_against_a_dead_server_raises_instead_of_reporting_a_per_object_failure(
    dead_kubeconfig: Path,
) -> None:
    with Kube(dead_kubeconfig, timeout_s=2.0) as kube, pytest.raises(KubeError, match="is not reachable"):
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "b"}})


def test_a_missing_kubeconfig_is_a_kube_error_that_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(KubeError, match="cannot load kubeconfig") as info:
        Kube(tmp_path / "nope")
    assert "labkit up" in info.value.hint


def test_apply_of_an_object_without_a_name_is_a_failed_result_not_an_exception(dead_kubeconfig: Path) -> None:
    with Kube(dead_kubeconfig, timeout_s=2.0) as kube:
        result = kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert (result.ok, result.code) == (False, 400)
    assert "metadata.name" in result.message


def test_patch_rejects_an_unknown_patch_type_before_calling_the_server(dead_kubeconfig: Path) -> None:
    with Kube(dead_kubeconfig) as kube, pytest.raises(ValueError, match="patch_type"):
        kube.patch("v1", "ConfigMap", "a", "b", {}, patch_type="yaml")


def test_kube_api_error_is_a_kube_error_with_code_and_reason() -> None:
    e = KubeApiError("patch ConfigMap 'a': not found", code=404, reason="NotFound")
    assert isinstance(e, KubeError)
    assert (e.code, e.reason) == (404, "NotFound")


# -- wait_for -------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _kube_with_fake_time(kubeconfig: Path) -> tuple[Kube, FakeTime]:
    fake = FakeTime()
    return Kube(kubeconfig, clock=fake.clock, sleep=fake.sleep), fake


def test_wait_for_returns_as_soon_as_the_predicate_holds(dead_kubeconfig: Path) -> None:
    kube, fake = _kube_with_fake_time(dead_kubeconfig)
    answers = iter([False, False, True])
    kube.wait_for(lambda: next(answers), 10, "the thing")
    assert len(fake.sleeps) == 2
    kube.close()


def test_wait_for_times_out_naming_what_it_waited_for_and_the_last_error(dead_kubeconfig: Path) -> None:
    kube, fake = _kube_with_fake_time(dead_kubeconfig)

    def flaky() -> bool:
        raise KubeError("API server at https://127.0.0.1:1 is not reachable")

    with pytest.raises(KubeError, match=r"timed out after 3 s waiting for deployment web.*not reachable"):
        kube.wait_for(flaky, 3, "deployment web")
    assert 3.0 <= fake.now < 4.0
    assert max(fake.sleeps) <= 0.5
    kube.close()


# -- the watch loop ---------------------------------------------------------------


def _obj(name: str, rv: str, namespace: str = "ns") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
    }


class FakeSource:
    """Scripted API server: each open() plays the next batch of raw events."""

    def __init__(self, listing: list[tuple[list[Manifest], str]], batches: list[list[Manifest] | Exception]):
        self.listing = listing
        self.batches = batches
        self.opened: list[tuple[str, int]] = []
        self.lists = 0

    def list(self) -> tuple[list[Manifest], str]:
        self.lists += 1
        return self.listing.pop(0)

    def open(self, resource_version: str, timeout_s: int) -> Iterator[Manifest]:
        self.opened.append((resource_version, timeout_s))
        batch = self.batches.pop(0) if self.batches else []
        if isinstance(batch, Exception):
            raise batch
        yield from batch


def _names(events: list[tuple[str, Manifest]]) -> list[tuple[str, str]]:
    return [(kind, obj["metadata"]["name"]) for kind, obj in events]


class Ticker:
    """A clock that advances one second per call, so a watch with timeout_s=N ends by itself."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_watch_without_a_resource_version_lists_first_and_then_follows_from_the_lists_version() -> None:
    source = FakeSource(
        listing=[([_obj("a", "5")], "10")],
        batches=[
            [{"type": "MODIFIED", "object": _obj("a", "11")}, {"type": "ADDED", "object": _obj("b", "12")}]
        ],
    )

    events = list(watch_events(source, timeout_s=3, poll_s=5, clock=Ticker()))

    assert _names(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b")]
    assert source.opened[0][0] == "10"
    assert source.opened[1][0] == "12"  # the next short watch resumes after the last event


def test_a_watch_given_a_resource_version_resumes_there_without_listing() -> None:
    source = FakeSource(listing=[], batches=[[{"type": "DELETED", "object": _obj("a", "21")}]])

    events = list(watch_events(source, resource_version="20", timeout_s=2, clock=Ticker()))

    assert _names(events) == [("DELETED", "a")]
    assert (source.lists, source.opened[0][0]) == (0, "20")


def test_410_gone_relists_and_reports_what_changed_while_the_watch_was_blind() -> None:
    gone = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
    }
    source = FakeSource(
        listing=[([_obj("a", "1"), _obj("b", "2")], "2"), ([_obj("a", "1"), _obj("c", "40")], "41")],
        batches=[[gone], [{"type": "ADDED", "object": _obj("d", "42")}]],
    )

    events = list(watch_events(source, timeout_s=4, poll_s=1, clock=Ticker()))

    assert _names(events) == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "c"),
        ("DELETED", "b"),
        ("ADDED", "d"),
    ]
    assert events[3][1]["metadata"] == {"name": "b", "namespace": "ns"}
    assert [rv for rv, _ in source.opened[:2]] == ["2", "41"]


def test_a_relist_reports_an_object_changed_during_the_gap_as_modified() -> None:
    gone = {"type": "ERROR", "object": {"code": 410, "message": "too old"}}
    source = FakeSource(listing=[([_obj("a", "1")], "1"), ([_obj("a", "7")], "7")], batches=[[gone]])

    events = list(watch_events(source, timeout_s=2, clock=Ticker()))

    assert [(k, o["metadata"]["resourceVersion"]) for k, o in events] == [("ADDED", "1"), ("MODIFIED", "7")]


def test_an_error_event_other_than_410_raises_watch_error_with_the_resume_version() -> None:
    forbidden = {"type": "ERROR", "object": {"code": 403, "message": "configmaps is forbidden"}}
    source = FakeSource(listing=[], batches=[[{"type": "ADDED", "object": _obj("a", "8")}, forbidden]])

    with pytest.raises(WatchError, match="configmaps is forbidden") as info:
        list(watch_events(source, resource_version="7", timeout_s=5, clock=Ticker()))
    assert (info.value.resource_version, info.value.code) == ("8", 403)


def test_connection_loss_raises_watch_error_so_the_caller_can_reconnect_from_the_last_version() -> None:
    lost = KubeError("API server at https://127.0.0.1:1 is not reachable", hint="labkit up")
    source = FakeSource(listing=[], batches=[[{"type": "MODIFIED", "object": _obj("a", "31")}], lost])

    seen: list[tuple[str, Manifest]] = []
    with pytest.raises(WatchError) as info:
        for event in watch_events(source, resource_version="30", timeout_s=10, clock=Ticker()):
            seen.append(event)
    assert _names(seen) == [("MODIFIED", "a")]
    assert info.value.resource_version == "31"
    assert isinstance(info.value.__cause__, KubeError)
    assert isinstance(info.value, KubeError)


def test_bookmarks_advance_the_resume_version_and_are_shown_only_on_request() -> None:
    bookmark = {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "99"}}}

    quiet = FakeSource(listing=[], batches=[[bookmark]])
    assert list(watch_events(quiet, resource_version="50", timeout_s=3, clock=Ticker())) == []
    assert quiet.opened[1][0] == "99"

    shown = FakeSource(listing=[], batches=[[bookmark]])
    events = list(watch_events(shown, resource_version="50", timeout_s=2, bookmarks=True, clock=Ticker()))
    assert [kind for kind, _ in events] == ["BOOKMARK"]


def test_setting_stop_ends_the_watch_after_the_current_event() -> None:
    stop = threading.Event()
    source = FakeSource(
        listing=[],
        batches=[[{"type": "ADDED", "object": _obj("a", "2")}, {"type": "ADDED", "object": _obj("b", "3")}]],
    )

    seen = []
    for kind, obj in watch_events(source, resource_version="1", timeout_s=100, stop=stop, clock=Ticker()):
        seen.append((kind, obj["metadata"]["name"]))
        stop.set()

    assert seen == [("ADDED", "a")]
    assert len(source.opened) == 1


def test_each_watch_request_blocks_no_longer_than_poll_s_nor_past_the_deadline() -> None:
    source = FakeSource(listing=[], batches=[])
    clock = Ticker()

    list(watch_events(source, resource_version="1", timeout_s=5, poll_s=3, clock=clock))

    # The ticking clock leaves 4, 3, 2, 1 seconds before each request.
    assert [timeout for _, timeout in source.opened] == [3, 3, 2, 1]
