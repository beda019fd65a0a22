"""What schemas cannot see: objects that must agree with each other, with the app and with the
Dockerfile. Each test reads the rendered manifests, so a rename in one file fails here."""

from __future__ import annotations

import json
import re

from apiflask import APIFlask
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pipeserve.settings import ENV_PREFIX, Settings
from tests.deploy.conftest import ROOT, Manifest, config_env, container, find

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def pod_labels(deployment: Manifest) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_names(deployment: Manifest) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", text, re.MULTILINE)]


def test_the_deployment_selects_its_own_pods_and_nothing_else_does_differently(
    manifests: list[Manifest],
) -> None:
    deployment = find(manifests, "Deployment")
    labels = pod_labels(deployment)

    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    assert selects(find(manifests, "Service")["spec"]["selector"], labels)
    assert selects(
        find(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels
    )
    assert selects(find(manifests, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], labels)


def test_the_service_and_the_network_policy_name_a_container_port(
    manifests: list[Manifest],
) -> None:
    ports = port_names(find(manifests, "Deployment"))
    service_ports = find(manifests, "Service")["spec"]["ports"]
    allowed = [
        p["port"]
        for rule in find(manifests, "NetworkPolicy")["spec"]["ingress"]
        for p in rule["ports"]
    ]

    assert all(p["targetPort"] in ports for p in service_ports)
    assert allowed
    assert all(port in ports for port in allowed)


def test_the_public_entry_points_at_a_port_of_the_service(manifests: list[Manifest]) -> None:
    service = find(manifests, "Service")
    names = {p["name"] for p in service["spec"]["ports"]}
    entries = [m for m in manifests if m["kind"] in {"Ingress", "Route"}]

    assert len(entries) == 1, "exactly one way in: an Ingress, or a Route on OpenShift"
    entry = entries[0]
    if entry["kind"] == "Ingress":
        backends = [
            path["backend"]["service"]
            for rule in entry["spec"]["rules"]
            for path in rule["http"]["paths"]
        ]
        assert all(b["name"] == service["metadata"]["name"] for b in backends)
        assert all(b["port"]["name"] in names for b in backends)
    else:
        assert entry["spec"]["to"] == {
            "kind": "Service",
            "name": service["metadata"]["name"],
            "weight": 100,
        }
        assert entry["spec"]["port"]["targetPort"] in names


def test_probes_point_at_real_get_routes_of_the_app(
    manifests: list[Manifest], app: APIFlask
) -> None:
    server = container(find(manifests, "Deployment"))
    adapter = app.url_map.bind("localhost")

    for probe in PROBES:
        action = server[probe]["httpGet"]
        endpoint, _ = adapter.match(action["path"], method="GET")
        assert action["port"] in port_names(find(manifests, "Deployment")), probe
        assert endpoint.startswith("health."), f"{probe} → {endpoint}"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_route_check_itself_rejects_a_path_the_app_does_not_serve(app: APIFlask) -> None:
    adapter = app.url_map.bind("localhost")

    try:
        adapter.match("/health", method="GET")
    except (NotFound, MethodNotAllowed):
        pass
    else:
        raise AssertionError("/health should not be a route")


def test_every_configmap_variable_is_a_valid_setting(manifests: list[Manifest]) -> None:
    env = config_env(manifests, find(manifests, "Deployment"))
    unknown = [k for k in env if k.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields]

    assert env
    assert unknown == [], "not pipeserve settings (typo?)"
    settings = Settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()})
    assert settings.host == "0.0.0.0"  # noqa: S104  # the pod's IP, not loopback
    assert settings.port in port_names(find(manifests, "Deployment")).values()
    assert settings.proxy_hops == 1


def test_shutdown_fits_in_the_grace_period(manifests: list[Manifest]) -> None:
    deployment = find(manifests, "Deployment")
    env = config_env(manifests, deployment)
    pre_stop = container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    assert pre_stop[0] == "sleep"
    assert int(pre_stop[1]) + int(env["PIPESERVE_GRACEFUL_TIMEOUT"]) < grace


def test_the_pod_runs_restricted_without_a_pinned_user(manifests: list[Manifest]) -> None:
    pod = find(manifests, "Deployment")["spec"]["template"]["spec"]
    server = container(find(manifests, "Deployment"))
    context = server["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "runAsUser" not in pod["securityContext"]
    assert "runAsUser" not in context
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    account = find(manifests, "ServiceAccount", pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    # /tmp is the one writable volume; the image writes nowhere else (/dev/shm aside).
    assert [m["mountPath"] for m in server["volumeMounts"]] == ["/tmp"]  # noqa: S108


def test_rollouts_and_disruptions_keep_a_pod_serving(manifests: list[Manifest]) -> None:
    deployment = find(manifests, "Deployment")
    autoscaler = find(manifests, "HorizontalPodAutoscaler")
    budget = find(manifests, "PodDisruptionBudget")

    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert budget["spec"]["minAvailable"] < autoscaler["spec"]["minReplicas"]


def test_the_image_and_the_manifests_agree(manifests: list[Manifest]) -> None:
    deployment = find(manifests, "Deployment")
    env = config_env(manifests, deployment)
    image_env = " ".join(dockerfile_instructions("ENV"))

    assert f"{env['PIPESERVE_PORT']}" in dockerfile_instructions("EXPOSE")
    assert f"PIPESERVE_MODEL_DIR={env['PIPESERVE_MODEL_DIR']}" in image_env
    assert f"PIPESERVE_PORT={env['PIPESERVE_PORT']}" in image_env
    assert dockerfile_instructions("STOPSIGNAL") == ["SIGTERM"]
    user = dockerfile_instructions("USER")[-1]
    assert re.fullmatch(r"[1-9][0-9]*:0", user), "a numeric non-root user in group 0"


def test_openshift_builds_into_the_stream_the_deployment_follows(
    openshift_manifests: list[Manifest],
) -> None:
    deployment = find(openshift_manifests, "Deployment")
    stream = find(openshift_manifests, "ImageStream")
    build = find(openshift_manifests, "BuildConfig")
    route = find(openshift_manifests, "Route")
    (trigger,) = json.loads(deployment["metadata"]["annotations"]["image.openshift.io/triggers"])
    env = config_env(openshift_manifests, deployment)

    assert stream["spec"]["lookupPolicy"]["local"] is True
    assert build["spec"]["output"]["to"] == {"kind": "ImageStreamTag", "name": "pipeserve:latest"}
    assert build["spec"]["source"]["type"] == "Binary"
    assert build["spec"]["strategy"]["dockerStrategy"]["dockerfilePath"] == "Dockerfile"
    assert trigger["from"] == {"kind": "ImageStreamTag", "name": "pipeserve:latest"}
    assert trigger["from"]["name"].split(":")[0] == stream["metadata"]["name"]
    assert container(deployment)["image"] == trigger["from"]["name"]
    assert trigger["fieldPath"] == 'spec.template.spec.containers[?(@.name=="server")].image'
    assert route["spec"]["tls"] == {
        "termination": "edge",
        "insecureEdgeTerminationPolicy": "Redirect",
    }
    timeout = route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"]
    assert int(timeout.removesuffix("s")) > int(env["PIPESERVE_TIMEOUT"])


def test_the_uploaded_build_context_is_what_the_dockerfile_may_read() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (line,) = [x for x in makefile.splitlines() if x.startswith("CONTEXT_FILES :=")]
    uploaded = set(line.split(":=")[1].split()) - {"Dockerfile", ".dockerignore"}
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {x[1:].rstrip("/") for x in ignore if x.startswith("!")}

    assert "*" in ignore, ".dockerignore should exclude everything, then allow"
    assert uploaded == allowed
