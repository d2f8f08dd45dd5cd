"""The rules every rendered overlay keeps: hardened pods, probes, limits, pinned images,
graceful shutdown, scaling within the partitions, network policies, no secret values."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tsunagu.shared.contracts.topics import consumed_by
from tsunagu.shared.db_roles import service_role
from tsunagu.shared.services import names, registered
from tsunagu.shared.settings import Settings

SERVICES = names()
DEFAULT_PORTS = {name: s.port for name, s in registered().items()}

OVERLAYS = ("dev", "prod")
K8S_NAMES = {s.replace("_", "-"): s for s in SERVICES}


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            specs.append(
                (f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"])
            )
    return specs


def deployments(objects) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_service_pdb_and_hpa_per_service(rendered, overlay):
    objects = rendered[overlay]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        names = {o["metadata"]["name"] for o in objects if o["kind"] == kind}
        assert names == set(K8S_NAMES), kind


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_hardened_and_limited(rendered, overlay):
    for name, spec in pod_specs(rendered[overlay]):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, name
        assert pod_sc.get("runAsUser", 0) != 0, name
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            where = f"{name} container {c['name']}"
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            limits, requests = c["resources"].get("limits", {}), c["resources"].get("requests", {})
            assert {"cpu", "memory"} <= set(limits), where
            assert {"cpu", "memory"} <= set(requests), where
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in writable, f"{where}: /tmp must be an emptyDir"


def _image_tag(image: str) -> str | None:
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(rendered, overlay):
    images = [c["image"] for _, spec in pod_specs(rendered[overlay]) for c in spec["containers"]]
    images += [o["spec"]["imageName"] for o in rendered[overlay] if o["kind"] == "Cluster"]
    for image in images:
        tag = _image_tag(image)
        assert tag or "@sha256:" in image, f"{image}: no tag"
        assert tag != "latest", image
    assert all(i.split("@")[0].endswith(":0.1.0") or "@" in i for i in images if "tsunagu" in i)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_have_probes_ports_and_graceful_shutdown(rendered, overlay):
    graceful = Settings().graceful_timeout_seconds
    for name, dep in deployments(rendered[overlay]).items():
        spec = dep["spec"]["template"]["spec"]
        (app,) = spec["containers"]
        assert app["command"] == ["tsunagu", "serve", K8S_NAMES[name]]
        port = DEFAULT_PORTS[K8S_NAMES[name]]
        assert app["ports"] == [{"name": "http", "containerPort": port}]
        env = {e["name"]: e for e in app["env"]}
        assert env["TSUNAGU_HTTP_PORT"]["value"] == str(port)
        assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert app["startupProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert app[probe]["httpGet"]["port"] in ("http", port), (name, probe)
        pre_stop = int(app["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] > graceful + pre_stop, name
        strategy = dep["spec"]["strategy"]
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0, name
        assert "replicas" not in dep["spec"], f"{name}: the HPA owns the replica count"


def test_graceful_timeout_in_config_is_the_one_the_grace_period_was_sized_for(rendered):
    for overlay in OVERLAYS:
        (config,) = [o for o in rendered[overlay] if o["kind"] == "ConfigMap"]
        timeout = float(config["data"]["TSUNAGU_GRACEFUL_TIMEOUT_SECONDS"])
        for dep in deployments(rendered[overlay]).values():
            assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > timeout + 5


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_never_exceeds_the_partitions_consumed(rendered, overlay):
    for hpa in (o for o in rendered[overlay] if o["kind"] == "HorizontalPodAutoscaler"):
        service = K8S_NAMES[hpa["spec"]["scaleTargetRef"]["name"]]
        consumed = consumed_by(service)
        assert consumed, service
        assert hpa["spec"]["maxReplicas"] <= min(t.partitions for t in consumed), service
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_prod_keeps_two_pods_of_each_service(rendered):
    for hpa in (o for o in rendered["prod"] if o["kind"] == "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2
    for pdb in (o for o in rendered["prod"] if o["kind"] == "PodDisruptionBudget"):
        assert pdb["spec"].get("maxUnavailable") == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_are_rendered(rendered, overlay):
    assert not [o for o in rendered[overlay] if o["kind"] == "Secret"]
    (config,) = [o for o in rendered[overlay] if o["kind"] == "ConfigMap"]
    for key in config["data"]:
        assert not any(word in key for word in ("SECRET", "KEY", "PASSWORD")), key
    for _, spec in pod_specs(rendered[overlay]):
        for c in spec["containers"]:
            for e in c.get("env", []):
                name = e["name"]
                if name.endswith("_FILE"):  # a path to a mounted Secret, not a value
                    assert e["value"].startswith("/etc/tsunagu/"), name
                elif name == "TSUNAGU_DATABASE_URL" and "value" in e:
                    # A role and a host only: the password is a file of its own.
                    assert make_url(e["value"]).password is None, name
                elif any(word in name for word in ("SECRET", "PASSWORD", "DATABASE_URL")):
                    assert "valueFrom" in e and "value" not in e, name


def _policies(objects) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}


def _selects(policy, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _egress_ports(policies, labels) -> set[int | str]:
    ports: set[int | str] = set()
    for p in policies.values():
        if _selects(p, labels) and "Egress" in p["spec"]["policyTypes"]:
            for rule in p["spec"].get("egress", []):
                ports |= {port["port"] for port in rule.get("ports", [])}
    return ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_is_denied_by_default_and_opened_per_service(rendered, overlay):
    policies = _policies(rendered[overlay])
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    dns = {53}
    for name, dep in deployments(rendered[overlay]).items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        ports = _egress_ports(policies, labels)
        expected = {9093, 5432} | dns
        if name == "intake":  # the preview, and disclosures (ADR 12)
            expected |= {DEFAULT_PORTS[s] for s in ("routing", "notify", "food_distribution")}
        if name in ("notify", "food-distribution"):  # residents' keys from intake
            expected |= {DEFAULT_PORTS["intake"]}
        if name == "notify":  # the SMTP relay and the SMS gateway; prod: the configured ones
            expected |= {587, 443} if overlay == "prod" else {587, 465, 443}
        assert ports == expected, name
    job = next(o for o in rendered[overlay] if o["kind"] == "Job")
    assert _egress_ports(policies, job["spec"]["template"]["metadata"]["labels"]) == {5432} | dns


def test_kafka_listener_requires_authentication_and_acls(rendered):
    for overlay in OVERLAYS:
        kafka = next(o for o in rendered[overlay] if o["kind"] == "Kafka")["spec"]["kafka"]
        assert kafka["authorization"]["type"] == "simple"
        for listener in kafka["listeners"]:
            assert listener["tls"] is True
            assert listener["authentication"]["type"] == "scram-sha-512"
        assert kafka["config"]["auto.create.topics.enable"] is False


def test_prod_postgres_is_replicated_and_backed_up(rendered):
    (cluster,) = [o for o in rendered["prod"] if o["kind"] == "Cluster"]
    spec = cluster["spec"]
    assert spec["instances"] == 3
    store = spec["backup"]["barmanObjectStore"]
    for key in ("accessKeyId", "secretAccessKey"):
        ref = store["s3Credentials"][key]
        assert set(ref) == {"name", "key"}, "backup credentials come from a Secret"
    assert spec["backup"]["retentionPolicy"]
    # Backups hold residents' data: WAL and base backups are encrypted in the store.
    assert store["wal"]["encryption"] in ("AES256", "aws:kms")
    assert store["data"]["encryption"] in ("AES256", "aws:kms")
    (backup,) = [o for o in rendered["prod"] if o["kind"] == "ScheduledBackup"]
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert spec["bootstrap"]["initdb"]["database"] == "tsunagu"


def test_dev_has_no_backups_and_one_instance(rendered):
    (cluster,) = [o for o in rendered["dev"] if o["kind"] == "Cluster"]
    assert cluster["spec"]["instances"] == 1
    assert "backup" not in cluster["spec"]
    assert not [o for o in rendered["dev"] if o["kind"] == "ScheduledBackup"]


def test_the_secret_example_is_not_part_of_any_overlay(rendered):
    for overlay in OVERLAYS:
        names = {o["metadata"]["name"] for o in rendered[overlay]}
        assert "tsunagu-secrets" not in names


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _secrets_used(spec: dict[str, Any]) -> set[str]:
    """Every Secret a pod can read: mounted volumes and env references."""
    used = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    for c in spec.get("initContainers", []) + spec["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                used.add(ref["name"])
        used |= {f["secretRef"]["name"] for f in c.get("envFrom", []) if "secretRef" in f}
    return used


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_connects_as_its_own_database_role(rendered, overlay):
    """ADR 6 on Kubernetes: CloudNativePG manages one login role per service, each service's
    Deployment connects as that role with its own Secret, never as the owner, and the migration
    Job (the owner) grants the roles their schemas and refuses to finish without them."""
    objects = rendered[overlay]
    (cluster,) = [o for o in objects if o["kind"] == "Cluster"]
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == {service_role(s) for s in SERVICES}
    for role in roles.values():
        assert role["ensure"] == "present" and role["login"] is True
        for power in ("superuser", "createdb", "createrole", "replication", "bypassrls"):
            assert role.get(power, False) is False, (role["name"], power)
    owner_secret = f"{cluster['metadata']['name']}-app"
    role_secrets = {r["passwordSecret"]["name"] for r in roles.values()}
    for k8s_name, service in K8S_NAMES.items():
        spec = deployments(objects)[k8s_name]["spec"]["template"]["spec"]
        (app,) = [c for c in spec["containers"] if c["name"] == "app"]
        env = _env(app)
        url = make_url(env["TSUNAGU_DATABASE_URL"]["value"])
        assert url.username == service_role(service), k8s_name
        assert url.host == f"{cluster['metadata']['name']}-rw" and url.database == "tsunagu"
        own = roles[service_role(service)]["passwordSecret"]["name"]
        (db_volume,) = [v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == own]
        (mount,) = [m for m in app["volumeMounts"] if m["name"] == db_volume["name"]]
        password_file = env["TSUNAGU_DATABASE_PASSWORD_FILE"]["value"]
        assert password_file == f"{mount['mountPath']}/{db_volume['secret']['items'][0]['path']}"
        used = _secrets_used(spec)
        assert owner_secret not in used, f"{k8s_name} can read the owner's password"
        assert used & role_secrets == {own}, f"{k8s_name} can read another role's password"
    (job,) = [o for o in objects if o["kind"] == "Job"]
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["tsunagu", "migrate", "--require-roles"]
    ref = _env(migrate)["TSUNAGU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == owner_secret


def test_each_service_gets_only_the_secrets_it_needs(rendered):
    """Signing and the residents' master key are intake's alone; routing sees no residents'
    key at all."""
    objects = rendered["prod"]
    used = {
        name: _secrets_used(d["spec"]["template"]["spec"])
        for name, d in deployments(objects).items()
    }
    for name, secrets in used.items():
        if name != "intake":
            assert "tsunagu-auth-signing" not in secrets, name
            assert "tsunagu-intake-master-key" not in secrets, name
        assert "tsunagu-auth-public" in secrets, name
    assert "tsunagu-contact-key" not in used["routing"]


def test_prod_notify_reaches_only_the_configured_smtp_and_sms_hosts(rendered):
    """Outside the cluster, notify may reach the SMTP relay on its port and the SMS gateway on
    HTTPS, by address: no open range, and neither host gets the other's port."""
    policies = _policies(rendered["prod"])
    rules = policies["notify-egress"]["spec"]["egress"]
    by_port = {}
    for rule in rules:
        ports = frozenset(p["port"] for p in rule["ports"])
        blocks = [peer["ipBlock"] for peer in rule["to"]]
        assert blocks and all(set(peer) == {"ipBlock"} for peer in rule["to"]), rule
        for block in blocks:
            network = ipaddress.ip_network(block["cidr"])
            assert network.prefixlen >= 24, f"{network}: not a host or a provider's range"
        by_port[ports] = blocks
    assert set(by_port) == {frozenset({587}), frozenset({443})}
    # Nothing else in prod lets notify (or anything) out to addresses outside the cluster.
    for name, policy in policies.items():
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if "ipBlock" in peer and name != "notify-egress":
                    assert ipaddress.ip_network(peer["ipBlock"]["cidr"]).prefixlen > 0, name
    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text("utf-8")
    assert "overlays/prod/notify-egress.yaml" in readme
