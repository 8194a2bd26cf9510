"""The kwokctl config file of a kwok lab: bind address, ports and kwok Stages.

Called by :mod:`labkit.cluster.kwok`, which writes :func:`render_config` to
``<state_dir>/kwok/kwokctl.yaml`` and hands it to ``kwokctl create cluster -c``.

Stages say how kwok moves fake objects through their lives. Providing any
Stage replaces ALL of kwok's defaults, node stages included, so this file
carries the whole set: node-initialize and node-heartbeat-with-lease (nodes
turn Ready and stay Ready), pod-ready (with the lab's delay and jitter, so a
learner can watch pods go Pending -> Running), pod-complete (Job pods
succeed) and pod-delete (terminating pods go away). The templates are those
of kwok v0.8.0's ``kustomize/stage/{node,pod}/fast`` (Apache-2.0), with a
delay added to pod-ready.

Two Stages are labkit's own and make a missing image fail as on a real node:
a pod naming a container image that is not in the lab's catalogue
(:mod:`labkit.cluster.images`) goes pod-image-pull-failed (waiting
``ErrImagePull``), then pod-image-pull-backoff (waiting ``ImagePullBackOff``),
and stays Pending, never Ready; pod-ready leaves such pods alone. (A kubelet
keeps retrying and flips between the two reasons; here the pod stays in
back-off until it is deleted, e.g. by a rollback.) A Stage selector key is a
jq expression; kwok matches ``In`` when any value it yields is listed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from labkit.cluster import images
from labkit.cluster import stage_templates as templates
from labkit.errors import BackendError
from labkit.settings import ClusterSettings

Manifest = dict[str, Any]

NODE_LEASE_SECONDS = 40
"""Node lease duration kwok renews, in seconds; pairs with the lease-based heartbeat stage."""

_NOT_DELETING = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
_READY = '.status.conditions.[] | select( .type == "Ready" ) | .status'
_WAITING = ".status.containerStatuses.[].state.waiting.reason"
PULL_FAILED_MESSAGE = 'Failed to pull image "%s": not found in the lab\'s image catalogue'
"""The ErrImagePull message (``%s`` = the image); a kubelet says the registry's words."""
BACKOFF_MESSAGE = 'Back-off pulling image "%s"'
"""The ImagePullBackOff message, as a kubelet writes it."""


def unknown_image_key(known: Sequence[str]) -> str:
    """A jq selector key: ``true`` when some container of the pod names an image not in ``known``."""
    return f"[.spec.containers[].image] - {json.dumps(list(known))} | length > 0"


def image_pull_template(known: Sequence[str], reason: str, message: str) -> str:
    """:data:`stage_templates.IMAGE_PULL_FAILED` for this catalogue, waiting reason and message format."""
    return (
        templates.IMAGE_PULL_FAILED.replace("KNOWN_IMAGES", " ".join(json.dumps(i) for i in known))
        .replace("WAITING_REASON", reason)
        .replace("WAITING_MESSAGE", json.dumps(message))
    )


def _stage(
    name: str, kind: str, match: list[Manifest], next_: Manifest, delay: Manifest | None = None
) -> Manifest:
    spec: Manifest = {
        "resourceRef": {"apiGroup": "v1", "kind": kind},
        "selector": {"matchExpressions": match},
    }
    if delay:
        spec["delay"] = delay
    spec["next"] = next_
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def stages(cluster: ClusterSettings) -> list[Manifest]:
    """Every Stage of a lab: node lifecycle, pods Ready after the lab's delay, Jobs, deletion."""
    delay_ms, jitter_ms = cluster.pod_ready_delay_ms, cluster.pod_ready_jitter_ms
    if delay_ms < 0 or jitter_ms < delay_ms:
        raise BackendError(
            f"pod ready delay must satisfy 0 <= delay <= jitter; got delay={delay_ms} ms, "
            f"jitter={jitter_ms} ms",
            hint="kwok draws the delay uniformly from [delay, jitter]: set LABKIT_POD_READY_JITTER_MS >= "
            "LABKIT_POD_READY_DELAY_MS",
        )
    running_ready = [
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        {"key": _READY, "operator": "In", "values": ["True"]},
    ]
    known = images.known_images(cluster.extra_images)
    delay = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": jitter_ms}
    return [
        _stage(
            "node-initialize",
            "Node",
            [{"key": _READY, "operator": "NotIn", "values": ["True"]}],
            {"statusTemplate": templates.NODE_INITIALIZE},
        ),
        # kwok renews a Lease for each node (like a kubelet), so the status heartbeat can be rare.
        _stage(
            "node-heartbeat-with-lease",
            "Node",
            running_ready,
            {"statusTemplate": templates.NODE_HEARTBEAT},
            {"durationMilliseconds": 600000, "jitterDurationMilliseconds": 610000},
        ),
        _stage(
            "pod-ready",
            "Pod",
            [
                _NOT_DELETING,
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                {"key": _READY, "operator": "NotIn", "values": ["True"]},
                {"key": unknown_image_key(known), "operator": "NotIn", "values": ["true"]},
            ],
            {"statusTemplate": templates.POD_READY},
            delay,
        ),
        *image_pull_stages(known, delay),
        _stage(
            "pod-complete",
            "Pod",
            [
                _NOT_DELETING,
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
            ],
            {"statusTemplate": templates.POD_COMPLETE},
        ),
        _stage(
            "pod-delete",
            "Pod",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"delete": True},
        ),
    ]


def image_pull_stages(known: Sequence[str], delay: Manifest) -> list[Manifest]:
    """A pod naming an image not in ``known``: ErrImagePull after ``delay``, then ImagePullBackOff."""
    unknown = {"key": unknown_image_key(known), "operator": "In", "values": ["true"]}
    pulling = {"key": _WAITING, "operator": "NotIn", "values": ["ErrImagePull", "ImagePullBackOff"]}
    return [
        _stage(
            "pod-image-pull-failed",
            "Pod",
            [
                _NOT_DELETING,
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                unknown,
                pulling,
            ],
            {"statusTemplate": image_pull_template(known, "ErrImagePull", PULL_FAILED_MESSAGE)},
            delay,
        ),
        _stage(
            "pod-image-pull-backoff",
            "Pod",
            [_NOT_DELETING, {"key": _WAITING, "operator": "In", "values": ["ErrImagePull"]}],
            {"statusTemplate": image_pull_template(known, "ImagePullBackOff", BACKOFF_MESSAGE)},
            delay,
        ),
    ]


def kwokctl_configuration(ports: Mapping[str, int]) -> Manifest:
    """The KwokctlConfiguration: every component on 127.0.0.1 at the given ports, node leases on.

    ``ports`` maps kwokctl option names (``kubeApiserverPort``, ``etcdPort``...) to TCP ports.
    """
    options: Manifest = {
        "bindAddress": "127.0.0.1",
        "runtime": "binary",
        "nodeLeaseDurationSeconds": NODE_LEASE_SECONDS,
        **ports,
    }
    return {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration", "options": options}


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, so the templates stay readable in kwokctl.yaml."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_config(cluster: ClusterSettings, ports: Mapping[str, int]) -> str:
    """The multi-document YAML for ``kwokctl create cluster -c``."""
    docs = [kwokctl_configuration(ports), *stages(cluster)]
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, width=200)
