#!/usr/bin/env bash
# Checks the deployment files offline, with the binary they deploy:
# every Caddyfile validates, the Kubernetes base and overlay render, the
# Compose file parses with the services it promises, and every command the
# manifests give the image (`serve --role …`, `migrate`) is one the binary
# accepts. No image is built here (no Docker daemon); see docs/DEPLOY.md.
#
#   bash deploy/check.sh target/debug/kapu
set -euo pipefail
cd "$(dirname "$0")/.."
kapu=${1:-target/debug/kapu}
fail() { echo "deploy check: $*" >&2; exit 1; }

# Caddyfiles (the Compose one reads the platform domain from the environment).
for f in deploy/Caddyfile deploy/compose/Caddyfile; do
  KAPU_PLATFORM_DOMAIN=kapu.example.com caddy validate --adapter caddyfile --config "$f" >/dev/null 2>&1 \
    || { KAPU_PLATFORM_DOMAIN=kapu.example.com caddy validate --adapter caddyfile --config "$f"; fail "$f is invalid"; }
  echo "caddy validate: $f ok"
done

# Prometheus alert rules: valid, and their unit tests pass; the Grafana dashboard parses.
if command -v promtool >/dev/null; then
  promtool check rules deploy/observability/kapu-alerts.yml >/dev/null || fail "deploy/observability/kapu-alerts.yml is invalid"
  promtool test rules deploy/observability/kapu-alerts.test.yml >/dev/null \
    || { promtool test rules deploy/observability/kapu-alerts.test.yml; fail "the alert rules' tests fail"; }
  echo "promtool: alert rules valid, their tests pass"
else
  fail "promtool is not installed (Debian package prometheus)"
fi
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["panels"], "no panels"' deploy/observability/kapu-dashboard.json \
  || fail "deploy/observability/kapu-dashboard.json does not parse"
echo "grafana dashboard: parses"

# Kubernetes: render, then pull the Caddyfile out of its ConfigMap and validate it too.
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
if command -v kubectl >/dev/null; then
  kubectl kustomize deploy/k8s/base >"$rendered/base.yaml"
  kubectl kustomize deploy/k8s/overlays/example >"$rendered/overlay.yaml"
  echo "kubectl kustomize: base and overlays/example render"
else
  echo "kubectl not installed: the Kubernetes manifests were not rendered"
fi

python3 - "$kapu" "$rendered" <<'PY'
import os, subprocess, sys, yaml
kapu, rendered = sys.argv[1], sys.argv[2]
help_serve = subprocess.run([kapu, "serve", "--help"], capture_output=True, text=True, check=True).stdout
help_top = subprocess.run([kapu, "--help"], capture_output=True, text=True, check=True).stdout
roles = help_serve.split("[possible values:")[1].split("]")[0].replace(" ", "").split(",")
commands = [l.split()[0] for l in help_top.split("Commands:")[1].split("Options:")[0].strip().splitlines()]

def check_args(where, args):
    if not args:
        return
    if args[0] not in commands:
        sys.exit(f"{where}: `kapu {' '.join(args)}`: no command {args[0]!r} (kapu has {commands})")
    if "--role" in args:
        role = args[args.index("--role") + 1]
        if role not in roles:
            sys.exit(f"{where}: role {role!r} is not one of {roles}")

compose = yaml.safe_load(open("deploy/compose/compose.yaml"))
services = compose["services"]
for needed in ["postgres", "redis", "caddy", "migrate", "storefront", "platform", "worker"]:
    if needed not in services:
        sys.exit(f"compose.yaml: no service {needed!r}")
for name, svc in services.items():
    if svc.get("image", "").startswith("${KAPU_IMAGE"):
        check_args(f"compose.yaml {name}", svc.get("command", []))
if services["storefront"].get("deploy", {}).get("replicas") != 2:
    sys.exit("compose.yaml: the storefront should run 2 replicas")
roles_in_compose = {svc["command"][-1] for svc in services.values() if "--role" in svc.get("command", [])}
if roles_in_compose != {"storefront", "platform", "worker"}:
    sys.exit(f"compose.yaml: roles {roles_in_compose}")
print(f"compose.yaml: {len(services)} services, commands match `kapu --help`")

path = os.path.join(rendered, "overlay.yaml")
if os.path.exists(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d["metadata"]["name"])
        spec = d.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        for c in pod.get("containers", []):
            if c["image"].endswith("kapu") or "/kapu:" in c["image"]:
                check_args(f"{d['kind']} {d['metadata']['name']}", c.get("args", []))
                probes = (c.get("readinessProbe"), c.get("livenessProbe"))
                if d["kind"] == "Deployment" and (probes[0]["httpGet"]["path"], probes[1]["httpGet"]["path"]) != ("/readyz", "/healthz"):
                    sys.exit(f"{d['metadata']['name']}: readiness /readyz and liveness /healthz expected")
    for kind, n in [("Deployment", 4), ("HorizontalPodAutoscaler", 2), ("PodDisruptionBudget", 3), ("Job", 1)]:
        if len(kinds.get(kind, [])) != n:
            sys.exit(f"k8s overlay: {n} {kind} expected, found {kinds.get(kind)}")
    caddyfile = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("kapu-caddy"))
    open(os.path.join(rendered, "Caddyfile"), "w").write(caddyfile["data"]["Caddyfile"])
    print(f"k8s overlay: {len(docs)} objects, commands and probes match the binary")
PY

if [ -f "$rendered/Caddyfile" ]; then
  KAPU_PLATFORM_DOMAIN=kapu.example.com caddy validate --adapter caddyfile --config "$rendered/Caddyfile" >/dev/null 2>&1 \
    || fail "the Caddyfile in deploy/k8s/base/caddy.yaml is invalid"
  echo "caddy validate: the Kubernetes Caddyfile ok"
fi
echo "deploy files: ok"
