"""Every rendered object validates: core kinds against the Kubernetes schemas of a pinned
version (kubernetes-validate, offline, strict), Strimzi and CloudNativePG resources against the
CRD schemas committed under deploy/k8s/crds/."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")

#: The oldest Kubernetes we support (Strimzi 1.x needs 1.30+; CloudNativePG 1.30 is tested on
#: 1.33+). Deprecated or removed API versions fail here.
KUBERNETES_VERSION = "1.33.0"
CRD_GROUPS = {"kafka.strimzi.io", "postgresql.cnpg.io"}


def _openapi_to_jsonschema(node: Any) -> Any:
    """A CRD's openAPIV3Schema as JSON Schema, with the API server's strictness: an unknown
    field is an error (kubectl's field validation rejects what pruning would drop)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """{(apiVersion, kind): JSON schema} of every CRD committed under deploy/k8s/crds/."""
    schemas = {}
    for path in sorted(Path(K8S / "crds").rglob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert crd["kind"] == "CustomResourceDefinition", path
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served", True):
                schema = _openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


CRD_SCHEMAS = _crd_schemas()


def test_the_crds_we_rely_on_are_committed():
    for api_version, kind in [
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("kafka.strimzi.io/v1", "KafkaUser"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ]:
        assert (api_version, kind) in CRD_SCHEMAS


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_match_the_kubernetes_schemas(rendered, overlay):
    errors = []
    for obj in rendered[overlay]:
        if obj["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue
        try:
            kubernetes_validate.validate(copy.deepcopy(obj), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{_name(obj)}: {exc.message} at {list(exc.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(
                f"{_name(obj)}: no schema for {obj['apiVersion']} in {KUBERNETES_VERSION}"
            )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operator_resources_match_their_crds(rendered, overlay):
    errors = []
    for obj in rendered[overlay]:
        if obj["apiVersion"].split("/")[0] not in CRD_GROUPS:
            continue
        schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            errors.append(f"{_name(obj)}: no committed CRD for {obj['apiVersion']}")
            continue
        validator = jsonschema.Draft202012Validator(schema)
        errors.extend(
            f"{_name(obj)}: {e.message} at {'.'.join(map(str, e.absolute_path))}"
            for e in validator.iter_errors(obj)
        )
    assert not errors, "\n".join(errors)


def test_the_crd_check_catches_a_misspelt_field():
    schema = CRD_SCHEMAS[("kafka.strimzi.io/v1", "KafkaTopic")]
    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partitions": 6, "replica": 3},
    }
    assert not jsonschema.Draft202012Validator(schema).is_valid(topic)
