"""The controller's webhook endpoint refuses unsigned and wrongly signed pushes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from labkit.gitops.webhook import WebhookServer
from labkit.hook import sign

SECRET = b"test-secret"


def post(url: str, body: bytes, signature: str | None) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    if signature is not None:
        request.add_header("X-Labkit-Signature", signature)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


@pytest.fixture
def server() -> Any:
    received: list[dict[str, Any]] = []
    s = WebhookServer(SECRET, received.append).start()
    yield s, received
    s.stop()


def test_webhook_listens_on_loopback_only(server: Any) -> None:
    s, _ = server
    assert s.url.startswith("http://127.0.0.1:")


def test_a_correctly_signed_push_is_accepted(server: Any) -> None:
    s, received = server
    body = json.dumps({"after": "abc", "ref": "refs/heads/main"}).encode()
    assert post(s.url, body, sign(SECRET, body)) == 202
    assert received == [{"after": "abc", "ref": "refs/heads/main"}]


@pytest.mark.parametrize("signature", [None, "sha256=00", "garbage"])
def test_unsigned_or_wrongly_signed_pushes_are_refused(server: Any, signature: str | None) -> None:
    s, received = server
    body = b'{"after": "abc"}'
    assert post(s.url, body, signature) == 401
    assert received == []


def test_a_push_signed_with_another_secret_is_refused(server: Any) -> None:
    s, received = server
    body = b'{"after": "abc"}'
    assert post(s.url, body, sign(b"other", body)) == 401
    assert received == []
