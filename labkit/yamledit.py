"""Edit one field of a Deployment in YAML text in place, keeping the rest of the file as written.

:class:`labkit.git.LabRepo` uses these for ``set_replicas`` and ``set_image``
(the CLI's ``labkit repo scale/image`` and the widgets): it finds the file with
:func:`find_deployment`, rewrites its text with :func:`with_replicas` or
:func:`with_image`, and commits the result. Pure text functions: no files, no
git. The node marks PyYAML records give the exact character span of a scalar,
so comments, key order and quoting of the rest of the file survive (a
load/dump round trip would lose them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import yaml

from labkit.errors import LabkitError


class YamlEditError(LabkitError):
    """The field to change cannot be found in the YAML text."""


def _key(node: yaml.Node | None, *keys: str) -> yaml.Node | None:
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return node


def find_deployment(text: str, name: str) -> yaml.Node | None:
    """The document node of the Deployment ``name`` in ``text``; None if absent or not valid YAML."""
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    for doc in docs:
        kind, meta_name = _key(doc, "kind"), _key(doc, "metadata", "name")
        if getattr(kind, "value", None) == "Deployment" and getattr(meta_name, "value", None) == name:
            return doc
    return None


def _splice(text: str, node: yaml.Node, value: str) -> str:
    return text[: node.start_mark.index] + value + text[node.end_mark.index :]


def with_replicas(text: str, name: str, replicas: int) -> str:
    """``text`` with ``spec.replicas`` of Deployment ``name`` set (added as spec's first key if absent)."""
    spec = _key(find_deployment(text, name), "spec")
    node = _key(spec, "replicas")
    if isinstance(node, yaml.ScalarNode):
        return _splice(text, node, str(replicas))
    if not isinstance(spec, yaml.MappingNode) or spec.flow_style or not spec.value:
        raise YamlEditError(
            f"cannot find where to put replicas in Deployment {name!r}", hint="edit the file by hand"
        )
    # Insert a whole line indented like spec's first key, so block style stays valid.
    first = spec.value[0][0].start_mark
    line_start = first.index - first.column
    return text[:line_start] + " " * first.column + f"replicas: {replicas}\n" + text[line_start:]


def with_image(text: str, name: str, image: str, container: str | None = None) -> str:
    """``text`` with the image of one container of Deployment ``name`` set.

    Without ``container`` the only container is changed, or else the one named
    like the Deployment.
    """
    containers = _key(find_deployment(text, name), "spec", "template", "spec", "containers")
    items = containers.value if isinstance(containers, yaml.SequenceNode) else []
    named = {getattr(_key(c, "name"), "value", ""): c for c in items}
    pick = container or (next(iter(named)) if len(named) == 1 else name)
    node = _key(named.get(pick), "image")
    if not isinstance(node, yaml.ScalarNode):
        raise YamlEditError(
            f"Deployment {name!r} has no container {pick!r} with an image (containers: {', '.join(named)})",
            hint="name the container to change",
        )
    # Quote (as JSON, which YAML reads) only what YAML would read back as something else.
    try:
        plain = "\n" not in image and yaml.safe_load(image) == image
    except yaml.YAMLError:
        plain = False
    return _splice(text, node, image if plain else json.dumps(image))


__all__: Sequence[str] = ["YamlEditError", "find_deployment", "with_image", "with_replicas"]
