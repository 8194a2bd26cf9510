"""When the controller asks Git for a new revision (labkit.gitops.refresh.trigger)."""

from __future__ import annotations

from labkit.gitops import refresh
from labkit.gitops.refresh import trigger

SHA = "a" * 40


def test_the_refresh_annotation_wins_over_every_other_reason() -> None:
    assert trigger({"webhook", "poll"}, "hard", True, SHA) == "annotation"


def test_a_poll_refreshes_only_when_it_is_due() -> None:
    assert trigger({"poll"}, None, True, SHA) == "poll"
    assert trigger({"poll"}, None, False, SHA) is None


def test_a_watch_event_alone_never_looks_at_git() -> None:
    assert trigger({"resource", "synced"}, None, False, SHA) is None


def test_webhook_spec_and_startup_refresh_and_are_named_on_the_timeline() -> None:
    assert trigger({"webhook", "resource"}, None, False, SHA) == "webhook"
    assert trigger({"spec", "startup"}, None, False, SHA) == "spec,startup"


def test_an_app_never_refreshed_refreshes_whatever_the_reason() -> None:
    assert trigger({"resource"}, None, False, None) == "first look"


def test_argocds_refresh_annotation_asks_for_a_refresh_as_labkits_does() -> None:
    assert refresh.requested({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}) == (
        "hard",
        "argocd.argoproj.io/refresh",
    )
    assert refresh.requested({"metadata": {"annotations": {"labkit.dev/refresh": "normal"}}}) == (
        "normal",
        "labkit.dev/refresh",
    )
    assert refresh.requested({"metadata": {}}) == (None, "")
