"""Conditions written into Application.status (labkit.gitops.status, labkit.gitops.record)."""

from __future__ import annotations

from labkit.gitops import status as st
from labkit.gitops.application import ResourceKey
from labkit.gitops.record import AppRecord

CONFIG = ResourceKey("", "ConfigMap", "redis", "redis-config")
DEPLOY = ResourceKey("apps", "Deployment", "redis", "redis")


def test_an_object_another_app_owns_gives_a_shared_resource_warning_naming_both_apps() -> None:
    record = AppRecord("shared-b")
    record.shared = {CONFIG: "shared-a"}
    message = "ConfigMap redis/redis-config is part of applications shared-b and shared-a"
    assert record.conditions() == {st.SHARED_RESOURCE_WARNING: message}


def test_several_shared_objects_make_one_warning_that_counts_the_others() -> None:
    message = st.shared_resource_message("shared-b", {DEPLOY: "shared-a", CONFIG: "shared-a"})
    assert (
        message
        == "ConfigMap redis/redis-config is part of applications shared-b and shared-a (and 1 more object)"
    )


def test_the_warning_leaves_the_status_once_no_object_is_shared() -> None:
    record = AppRecord("shared-b")
    record.shared = {CONFIG: "shared-a"}
    written = st.conditions(record.conditions(), 0.0)
    assert [c["type"] for c in written] == [st.SHARED_RESOURCE_WARNING]
    record.shared = {}
    assert st.conditions(record.conditions(), 1.0, written) == []
