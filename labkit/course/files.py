"""Files the experiments need: a kubeconfig that cannot reach the cluster, an app that must start in order.

Notebooks call these and commit the result (with
:func:`labkit.course.actions.commit_files`) or hand it to the push pipeline.
PyYAML is imported inside the functions, as elsewhere in this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]


def unreachable_kubeconfig(kubeconfig: Path | str, dest: Path | str) -> Path:
    """A copy of ``kubeconfig`` whose servers point at a closed port: CI cut off from the cluster."""
    import yaml

    config = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config.get("clusters") or []:
        cluster.setdefault("cluster", {})["server"] = "https://127.0.0.1:9"
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    dest.chmod(0o600)
    return dest


def _yaml(*objects: Manifest) -> str:
    import yaml

    return yaml.safe_dump_all(list(objects), sort_keys=False)


def _deployment(name: str, image: str, annotations: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": {"app": name}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def _job(name: str, annotations: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    container = {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", f"echo {name} done"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


def ordering_files(path: str, *, ordered: bool) -> dict[str, str]:
    """An app whose parts must start in order: a schema migration, a database, then the web tier.

    Without ``ordered`` the files say nothing about order, so the agent uses
    its default (kind, then name: ``api`` before ``db``, the migration Job
    last). With it, the migration is a PreSync hook and the database is in
    wave -1, ahead of the api in wave 0.
    """
    hook = {"labkit.dev/hook": "PreSync"} if ordered else None
    early = {"labkit.dev/sync-wave": "-1"} if ordered else None
    late = {"labkit.dev/sync-wave": "0"} if ordered else None
    return {
        f"{path}/migrate-job.yaml": _yaml(_job("migrate-schema", hook)),
        f"{path}/db.yaml": _yaml(_deployment("db", "postgres:16", early)),
        f"{path}/api.yaml": _yaml(_deployment("api", "nginx:1.27", late)),
    }
