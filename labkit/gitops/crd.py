"""The ``applications.labkit.dev`` CustomResourceDefinition: its names and its OpenAPI schema.

``labkit.lab`` and ``labkit.agent`` install it with :func:`crd_manifest` (through
``labkit.gitops.application``, which re-exports it). The resource's identity
(:data:`GROUP`, :data:`VERSION`, :data:`KIND`, :data:`PLURAL`) and the
``spec.diffMode`` values live here, not in ``application``, so that this module
imports nothing from the package: ``application`` imports them from here and
re-exports them, and either module can be imported first without a cycle.
Pure data, no I/O.
"""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]

GROUP = "labkit.dev"
VERSION = "v1alpha1"
KIND = "Application"
PLURAL = "applications"
DIFF_MODES = ("server-side", "three-way")


def _t(kind: str, **extra: Any) -> Manifest:
    return {"type": kind, **extra}


def _obj(required: list[str] | None = None, **props: Manifest) -> Manifest:
    schema: Manifest = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _spec_schema() -> Manifest:
    duration = _t("string", pattern=r"^([0-9.]+(ns|us|ms|s|m|h))+$")
    automated = _obj(
        enabled=_t("boolean"), prune=_t("boolean"), selfHeal=_t("boolean"), allowEmpty=_t("boolean")
    )
    backoff = _obj(duration=duration, factor=_t("integer", minimum=1), maxDuration=duration)
    return _obj(
        ["source", "destination"],
        source=_obj(
            ["repoURL", "path"],
            repoURL=_t("string"),
            path=_t("string"),
            targetRevision=_t("string"),
            helm=_helm_schema(),
        ),
        project=_t("string"),
        destination=_obj(server=_t("string"), name=_t("string"), namespace=_t("string")),
        syncPolicy=_obj(
            automated=automated,
            syncOptions=_t("array", items=_t("string")),
            retry=_obj(limit=_t("integer"), backoff=backoff),
        ),
        revisionHistoryLimit=_t("integer", minimum=0),
        ignoreDifferences=_t("array", items=_ignore_differences_schema()),
        refreshInterval=duration,
        diffMode=_t("string", enum=list(DIFF_MODES)),
    )


def _ignore_differences_schema() -> Manifest:
    """One ``spec.ignoreDifferences`` rule, Argo CD's ``ResourceIgnoreDifferences``.

    ``jqPathExpressions`` and ``managedFieldsManagers`` are in the schema so that
    the agent sees them and refuses them (``labkit.gitops.ignore``); pruned, they
    would be silently ignored.
    """
    strings = _t("array", items=_t("string"))
    return _obj(
        ["kind"],
        group=_t("string"),
        kind=_t("string"),
        name=_t("string"),
        namespace=_t("string"),
        jsonPointers=strings,
        jqPathExpressions=strings,
        managedFieldsManagers=strings,
    )


def _helm_schema() -> Manifest:
    """``spec.source.helm``: the fields of Argo CD's ``ApplicationSourceHelm`` labkit's agent reads.

    Other fields are kept, not pruned, so that the agent can say it does not
    support them (``labkit.gitops.helm``) instead of silently ignoring them.
    """
    parameter = _obj(["name"], name=_t("string"), value=_t("string"), forceString=_t("boolean"))
    schema = _obj(
        releaseName=_t("string"),
        valueFiles=_t("array", items=_t("string")),
        values=_t("string"),
        valuesObject=_t("object", **{"x-kubernetes-preserve-unknown-fields": True}),
        parameters=_t("array", items=parameter),
        ignoreMissingValueFiles=_t("boolean"),
        skipCrds=_t("boolean"),
        skipTests=_t("boolean"),
        namespace=_t("string"),
    )
    return {**schema, "x-kubernetes-preserve-unknown-fields": True}


def _operation_schema() -> Manifest:
    key = _obj(
        ["kind", "name"], group=_t("string"), kind=_t("string"), namespace=_t("string"), name=_t("string")
    )
    sync = _obj(
        revision=_t("string"), prune=_t("boolean"), dryRun=_t("boolean"), resources=_t("array", items=key)
    )
    return _obj(sync=sync, initiatedBy=_obj(username=_t("string"), automated=_t("boolean")))


def crd_manifest() -> Manifest:
    """The ``applications.labkit.dev`` CRD; ``status`` is free-form, written by the controller.

    ``kubectl get applications.labkit.dev`` prints Sync, Health and Revision
    with As-Of, the age of ``status.reconciledAt``: sync and health are what
    the controller wrote then, and a printer column can show nothing fresher
    (it reads only the object; ``kubectl get lease -n labkit`` shows the agent).
    """

    def column(name: str, path: str, kind: str = "string") -> Manifest:
        return {"name": name, "type": kind, "jsonPath": path}

    schema = _obj(
        ["spec"],
        spec=_spec_schema(),
        operation=_operation_schema(),
        status=_t("object", **{"x-kubernetes-preserve-unknown-fields": True}),
    )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "application", "kind": KIND, "shortNames": ["app"]},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                    "additionalPrinterColumns": [
                        column("Sync", ".status.sync.status"),
                        column("Health", ".status.health.status"),
                        column("Revision", ".status.sync.revision"),
                        # An age, not an "agent up" flag: a dead agent cannot clear a flag,
                        # but an age keeps growing (the heartbeat Lease says who is alive).
                        column("As-Of", ".status.reconciledAt", "date"),
                        column("Age", ".metadata.creationTimestamp", "date"),
                    ],
                }
            ],
        },
    }
