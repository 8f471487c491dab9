#!/usr/bin/env bash
# Validate paved's own deployment artifacts with the real tools:
#   scripts/validate-deploy.sh
# Needs the PyPI validators (pip install -r scripts/requirements-validators.txt)
# and promtool (Debian's prometheus package). One PASS/FAIL line per check.
set -uo pipefail
cd "$(dirname "$0")/.."

YAMLLINT_CONFIG='{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}}}'
failed=0
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    echo "PASS $name"
  else
    echo "FAIL $name"
    printf '%s\n' "$out" | sed 's/^/    /'
    failed=1
  fi
}

built=$(mktemp)
trap 'rm -f "$built"' EXIT
check hadolint hadolint --failure-threshold style Dockerfile
check yamllint yamllint -s -d "$YAMLLINT_CONFIG" deploy
check kustomize sh -c "kubectl kustomize deploy/kubernetes > '$built'"
check k8s-schema kubernetes-validate --strict -k 1.31.0 "$built"
check argocd-notifications kubernetes-validate --strict -k 1.31.0 deploy/argocd/notifications.yaml deploy/argocd/notifications-secret.example.yaml
check prometheus-rules promtool check rules deploy/prometheus/rules.yml
check prometheus-rule-tests promtool test rules deploy/prometheus/rules.test.yml
# Debian's promtool is built without Kubernetes service discovery, so it
# cannot read kubernetes_sd_configs: it checks the config with the pod
# discovery jobs left out (everything else, rules included).
static_config=deploy/prometheus/.promtool-check.yml
trap 'rm -f "$built" "$static_config"' EXIT
python3 -c "
import yaml
c = yaml.safe_load(open('deploy/prometheus/prometheus.yml'))
c['scrape_configs'] = [j for j in c['scrape_configs'] if 'kubernetes_sd_configs' not in j]
yaml.safe_dump(c, open('$static_config', 'w'))
"
check prometheus-config promtool check config "$static_config"
check json python3 -c "import json; [json.load(open(f)) for f in ('app-manifest.json', 'deploy/grafana/paved-dashboard.json', 'deploy/grafana/services-dashboard.json')]"
exit $failed
