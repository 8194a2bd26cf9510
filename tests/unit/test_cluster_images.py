"""The lab's image catalogue: what a kwok node can pull, and how a lab adds to it."""

from __future__ import annotations

import pytest

from labkit.cluster import images
from labkit.errors import BackendError


def test_every_tag_of_the_catalogue_is_known_and_a_typo_is_not() -> None:
    known = images.known_images()
    assert {"nginx:1.27", "nginx:1.28", "busybox:1.36", "redis:7.4", "postgres:16"} <= set(known)
    assert not images.is_known("nginx:1.277")
    assert not images.is_known("ngnix:1.27")


def test_a_name_without_a_tag_means_latest() -> None:
    assert images.is_known("nginx") and images.is_known("busybox")
    assert "nginx:latest" in images.known_images()


def test_the_images_the_starter_repository_and_course_use_are_in_the_catalogue() -> None:
    used = ["nginx:1.27", "nginx:1.28", "nginx:1.29", "busybox:1.36", "busybox", "redis:7", "redis:7.4"]
    assert [i for i in used if not images.is_known(i)] == []


def test_extra_images_are_added_sorted_and_without_duplicates() -> None:
    known = images.known_images(["myapp:1.0", " myapp:1.0 ", "", "nginx:1.27"])
    assert known.count("myapp:1.0") == 1 and known.count("nginx:1.27") == 1
    assert list(known) == sorted(known)
    assert images.is_known("myapp:1.0", ["myapp:1.0"]) and not images.is_known("myapp:1.0")


@pytest.mark.parametrize("bad", ['evil" }}{{', "My App:1", "app:1 2", "app:"])
def test_an_extra_image_that_is_not_a_reference_is_refused_with_the_variable_to_fix(bad: str) -> None:
    with pytest.raises(BackendError) as e:
        images.known_images([bad])
    assert "LABKIT_EXTRA_IMAGES" in e.value.hint
