#!/usr/bin/env python3
"""Checks deploy/kubernetes/ against itself and against the binary (run by tests/kubernetes.rs).

Usage: kubernetes.py BINARY              check; prints a JSON summary (probe and scrape paths, metrics port)
       kubernetes.py --write-dashboard   regenerate grafana-dashboard.yaml from grafana/s3-sse-proxy.json

Checks: every manifest parses (PyYAML) and names its kind; the Deployment's flags are flags of `BINARY --help`;
its environment, with the Secret's values, passes `BINARY check-config` (every variable a setting, every value
of its type); its container ports are the ports of S3_SSE_PROXY_LISTEN / _METRICS_LISTEN; the probes, Service,
PodDisruptionBudget and ServiceMonitor name those ports and select the pods; every secretKeyRef and secret item
exists in secret.yaml; the grace period outlasts the drain timeout; the dashboard ConfigMap is
grafana/s3-sse-proxy.json. Exit status 0 only if every check held.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
DASHBOARD = os.path.join(ROOT, "grafana", "s3-sse-proxy.json")
errors = []


def check(ok, what):
    if not ok:
        errors.append(what)
    return ok


def dashboard_configmap():
    with open(DASHBOARD) as f:
        text = f.read()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "s3-sse-proxy-dashboard",
            # Grafana's dashboard sidecar (kube-prometheus-stack) loads ConfigMaps with this label.
            "labels": {"app.kubernetes.io/name": "s3-sse-proxy", "grafana_dashboard": "1"},
        },
        "data": {"s3-sse-proxy.json": text},
    }


def load():
    docs = {}
    for name in sorted(os.listdir(K8S)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        with open(os.path.join(K8S, name)) as f:
            for doc in yaml.safe_load_all(f):
                if check(isinstance(doc, dict) and doc.get("kind") and doc.get("apiVersion"), f"{name}: no kind"):
                    check(doc.get("metadata", {}).get("name"), f"{name}: no metadata.name")
                    docs[doc["kind"]] = doc
    with open(os.path.join(K8S, "kustomization.yaml")) as f:
        listed = set(yaml.safe_load(f)["resources"])
    present = {n for n in os.listdir(K8S) if n.endswith(".yaml") and n != "kustomization.yaml"}
    check(listed == present, f"kustomization.yaml lists {sorted(listed)}, the directory has {sorted(present)}")
    return docs


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def main(binary):
    docs = load()
    for kind in ["Deployment", "Service", "PodDisruptionBudget", "Secret", "ServiceMonitor", "ConfigMap"]:
        check(kind in docs, f"no {kind}")
    if errors:
        return
    dep, svc, pdb, secret, mon = (docs[k] for k in ["Deployment", "Service", "PodDisruptionBudget", "Secret", "ServiceMonitor"])
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    (c,) = pod["spec"]["containers"]
    secret_data = secret["stringData"]

    # Flags: each --flag of the container's args is one the binary knows.
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    for a in c.get("args", []):
        if a.startswith("--"):
            check(re.search(rf"^\s+{re.escape(a)}\b", help_text, re.M), f"args: {a} is not in `s3-sse-proxy --help`")

    # Environment: resolved with the Secret, it is a configuration the binary accepts.
    env = {}
    for e in c["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            if check(ref["key"] in secret_data, f"env {e['name']}: no key {ref['key']} in the Secret"):
                env[e["name"]] = secret_data[ref["key"]]
            check(ref["name"] == secret["metadata"]["name"], f"env {e['name']}: another Secret {ref['name']}")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("S3_SSE_PROXY_")}
    run_env.update(env)
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([binary, "check-config"], capture_output=True, text=True, env=run_env, cwd=cwd)
    check(out.returncode == 0, f"check-config with the Deployment's environment: {out.stdout}{out.stderr}")
    applied = re.search(r"overridden by the environment: (.*)", out.stdout)
    applied = set(applied.group(1).split(", ")) if applied else set()
    for name in env:
        check(name in applied, f"env {name} is not a setting the binary applied ({sorted(applied)})")
    for secret_value in [secret_data["backend-secret-access-key"]]:
        check(secret_value not in out.stdout, "check-config printed a secret")

    # Ports: the container's are the listeners' own; everything else names them.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("s3") == port_of(env["S3_SSE_PROXY_LISTEN"]), "port s3 is not S3_SSE_PROXY_LISTEN's")
    check(ports.get("metrics") == port_of(env["S3_SSE_PROXY_METRICS_LISTEN"]), "port metrics is not METRICS_LISTEN's")
    probes = {}
    for probe in ["livenessProbe", "readinessProbe"]:
        get = c[probe]["httpGet"]
        check(get["port"] in ("metrics", ports.get("metrics")), f"{probe} is not on the metrics port")
        probes[probe] = get["path"]
    check(probes.get("livenessProbe") == "/livez", "livenessProbe must be /livez (alive, not ready)")
    check(probes.get("readinessProbe") == "/readyz", "readinessProbe must be /readyz (503 while draining)")
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    drain = int(env.get("S3_SSE_PROXY_LIMITS_DRAIN_TIMEOUT_SECS", "30"))
    check(grace > drain, f"terminationGracePeriodSeconds {grace} does not outlast the drain timeout {drain}")
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "the root file system is not read-only")
    check(pod["spec"]["securityContext"].get("runAsUser") == 65532, "not the image's uid 65532")
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    check(env["S3_SSE_PROXY_DATA_DIR"] in mounts, "the data dir is not a volume (the root file system is read-only)")
    for v in pod["spec"]["volumes"]:
        for item in v.get("secret", {}).get("items", []):
            check(item["key"] in secret_data, f"secret item {item['key']} is not in the Secret")

    for name, sel in [("Service", svc["spec"]["selector"]), ("PodDisruptionBudget", pdb["spec"]["selector"]["matchLabels"]),
                      ("ServiceMonitor", mon["spec"]["selector"]["matchLabels"])]:
        check(all(labels.get(k) == v for k, v in sel.items()), f"{name} selects {sel}, the pods are {labels}")
    check(all(labels.get(k) == v for k, v in dep["spec"]["selector"]["matchLabels"].items()), "Deployment selector")
    check(all(svc["metadata"]["labels"].get(k) == v for k, v in mon["spec"]["selector"]["matchLabels"].items()),
          "the ServiceMonitor does not select the Service")
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    for p in svc_ports.values():
        check(p["targetPort"] in ports, f"Service port {p['name']} targets {p['targetPort']}, not a container port")
    (ep,) = mon["spec"]["endpoints"]
    check(ep["port"] in svc_ports and svc_ports[ep["port"]]["targetPort"] == "metrics", "ServiceMonitor port")

    check(docs["ConfigMap"] == dashboard_configmap(),
          "grafana-dashboard.yaml is not grafana/s3-sse-proxy.json: run tests/kubernetes.py --write-dashboard")

    print(json.dumps({"probe_paths": [probes["livenessProbe"], probes["readinessProbe"]], "scrape_path": ep["path"],
                      "metrics_port": ports.get("metrics")}))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-dashboard"]:
        with open(os.path.join(K8S, "grafana-dashboard.yaml"), "w") as f:
            f.write("# Generated from grafana/s3-sse-proxy.json by tests/kubernetes.py --write-dashboard.\n")
            yaml.safe_dump(dashboard_configmap(), f, sort_keys=False, width=120)
        sys.exit(0)
    main(os.path.abspath(sys.argv[1]))
    for e in errors:
        print(f"kubernetes.py: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)
