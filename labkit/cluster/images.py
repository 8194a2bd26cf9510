"""The lab's image catalogue: the container images a kwok node can "pull".

kwok's fake nodes run no containers, so on their own they would start a pod
with any image, even a tag that does not exist. A real node asks a registry
and fails. To fail the same way, the lab keeps this small catalogue, the
images its starter repository, notebooks and tests use:
:mod:`labkit.cluster.stages` writes it into the kwok Stages at ``labkit up``,
and a pod whose container image is not listed goes ``ErrImagePull`` ->
``ImagePullBackOff`` and never turns Ready, as on a real cluster.

An image is written as a pod names it: ``nginx:1.27``. A name without a tag
means ``:latest`` (Kubernetes' rule), so ``nginx`` is known when ``latest``
is. Registry prefixes (``docker.io/library/nginx``) and digests are not
rewritten: write them in the catalogue as pods write them.

To add images to a lab, list them before it is created (the catalogue is part
of the cluster's kwok config)::

    LABKIT_EXTRA_IMAGES="myapp:1.0,myapp:1.1" labkit up

Pure data and functions; :func:`known_images` is called by ``stages``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from labkit.errors import BackendError

CATALOGUE: dict[str, tuple[str, ...]] = {
    "nginx": ("1.25", "1.26", "1.27", "1.28", "1.29", "latest"),
    "busybox": ("1.36", "1.37", "latest"),
    "redis": ("7", "7.2", "7.4", "latest"),
    "postgres": ("15", "16", "17", "latest"),
}
"""Repository -> the tags the lab's "registry" has."""

_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]*)?(@sha256:[a-f0-9]{64})?$")


def check_reference(image: str) -> str:
    """``image`` if it is a plain image reference (``name[:tag][@digest]``); BackendError if not."""
    if not _REFERENCE.match(image):
        raise BackendError(
            f"{image!r} is not an image reference like 'myapp:1.0'",
            hint="fix LABKIT_EXTRA_IMAGES: comma-separated name:tag entries, lower-case names",
        )
    return image


def known_images(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every image a pod may name and still start: each ``repo:tag`` of the catalogue, plus ``extra``.

    A repository with a ``latest`` tag is also known by its bare name.
    Sorted, without duplicates.
    """
    names = {f"{repo}:{tag}" for repo, tags in CATALOGUE.items() for tag in tags}
    names |= {repo for repo, tags in CATALOGUE.items() if "latest" in tags}
    names |= {check_reference(i.strip()) for i in extra if i.strip()}
    return tuple(sorted(names))


def is_known(image: str, extra: Iterable[str] = ()) -> bool:
    """Whether a pod naming ``image`` would start on a kwok node of a lab with these extra images."""
    return image in known_images(extra)


__all__ = ["CATALOGUE", "check_reference", "is_known", "known_images"]
