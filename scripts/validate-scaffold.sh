#!/usr/bin/env bash
# Validate one rendered service scaffold with the real tools.
#
#   scripts/validate-scaffold.sh <rendered-dir>
#
# Runs every validator on the directory, prints one line per validator
# (PASS/FAIL, seconds) and, for a failure, the validator's output indented
# below it. Exits 0 only when every validator passed with no finding.
#
# The validators come from PyPI, pinned in scripts/requirements-validators.txt:
#   pip install -r scripts/requirements-validators.txt
# Node.js and npm must be on PATH for a JavaScript scaffold, python3 with the
# venv module for a Python one (its dependencies are installed from PyPI into
# a fresh virtualenv; node packages from the npm registry).
#
# Validators:
#   actionlint     .github/workflows/*.yml, shellcheck on `run:` scripts
#   hadolint       Dockerfile, failing on any finding down to style level
#   yamllint       every *.yml/*.yaml, strict (warnings fail), config below
#   json           every *.json parses
#   codeowners     CODEOWNERS rules name valid owners
#   kustomize      `kubectl kustomize k8s` builds
#   k8s-schema     kubernetes-validate --strict of the built manifests against
#                  the oldest and newest Kubernetes versions listed below
#   argocd-override  an overlay like the one Argo CD applies (image tag set to
#                  a git sha, replicas set by Deployment name) takes effect
#   lint, test     the service's own linter and tests, on a copy of the
#                  directory: ruff + pytest (python), npm lint + test (node)
#
# Environment:
#   KEEP_WORK=1    keep the scratch directory (its path is printed)
set -euo pipefail

# yamllint configuration. Relaxed from `default` where rendered files must
# differ from its taste:
#   line-length     disabled: a value from the scaffold request (a description
#                   of up to 10 KB, say) may land on one line
#   document-start  disabled: manifests and workflows start without `---`
#   truthy          keys not checked: GitHub Actions' `on:` key is not a bool
# Everything else (syntax, duplicate keys, indentation, trailing spaces, ...)
# stays as in yamllint's default config, and warnings fail (-s).
YAMLLINT_CONFIG='{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}}}'

# Kubernetes versions whose schemas kubernetes-validate ships (1.25-1.37 in
# kubernetes-validate 1.37.0); the manifests must be valid for both.
K8S_VERSIONS=(1.31.0 1.37.0)

usage() {
  echo "usage: $0 <rendered-dir>" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage
[[ -d "$1" ]] || { echo "$0: not a directory: $1" >&2; exit 2; }
DIR=$(cd "$1" && pwd)

for tool in actionlint hadolint yamllint kubectl kubernetes-validate shellcheck python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool not found; pip install -r scripts/requirements-validators.txt" >&2
    exit 2
  fi
done
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "$0: python3 cannot import yaml (PyYAML); pip install -r scripts/requirements-validators.txt" >&2
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/validate-scaffold.XXXXXX")
cleanup() {
  if [[ "${KEEP_WORK:-}" == 1 ]]; then
    echo "scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

if [[ -f "$DIR/package.json" ]]; then
  LANGUAGE=javascript
elif [[ -f "$DIR/requirements.txt" ]]; then
  LANGUAGE=python
else
  echo "$0: $DIR has neither package.json nor requirements.txt" >&2
  exit 2
fi

FAILED=0
TOTAL_START=$SECONDS

# run NAME COMMAND...: run one validator, print its result line.
# A validator fails when the command exits non-zero.
run() {
  local name=$1 log start status
  shift
  log="$WORK/$name.log"
  start=$SECONDS
  if "$@" >"$log" 2>&1; then
    status=PASS
  else
    status=FAIL
    FAILED=$((FAILED + 1))
  fi
  printf '%s  %-16s %4ds\n' "$status" "$name" "$((SECONDS - start))"
  if [[ $status == FAIL ]]; then
    sed 's/^/    | /' "$log"
  fi
}

# Each check below returns non-zero on any finding. They are called from
# `run`, in an `if`, where `set -e` does not apply: every step is chained.

check_actionlint() {
  local files=()
  shopt -s nullglob
  files=("$DIR"/.github/workflows/*.yml "$DIR"/.github/workflows/*.yaml)
  shopt -u nullglob
  [[ ${#files[@]} -gt 0 ]] || { echo "no workflow in .github/workflows"; return 1; }
  (cd "$DIR" && actionlint -no-color -shellcheck="$(command -v shellcheck)" "${files[@]#"$DIR"/}")
}

check_hadolint() {
  [[ -f "$DIR/Dockerfile" ]] || { echo "no Dockerfile"; return 1; }
  local out
  out=$(cd "$DIR" && hadolint --no-color --failure-threshold style Dockerfile) || { echo "$out"; return 1; }
  # Belt and braces: any printed finding counts, whatever its level.
  [[ -z "$out" ]] || { echo "$out"; return 1; }
}

check_yamllint() {
  local files=()
  mapfile -d '' files < <(find "$DIR" \( -name node_modules -o -name .venv -o -name .git \) -prune \
    -o -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z)
  [[ ${#files[@]} -gt 0 ]] || { echo "no YAML file"; return 1; }
  yamllint -s -f parsable -d "$YAMLLINT_CONFIG" "${files[@]}"
}

check_json() {
  local files=() f
  mapfile -d '' files < <(find "$DIR" \( -name node_modules -o -name .venv -o -name .git \) -prune \
    -o -type f -name '*.json' -print0 | sort -z)
  for f in "${files[@]}"; do
    python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$f" \
      || { echo "invalid JSON: $f"; return 1; }
  done
  echo "${#files[@]} JSON files parsed"
}

# CODEOWNERS: every rule is a path pattern followed by at least one owner
# (@user, @org/team or an e-mail address).
check_codeowners() {
  [[ -f "$DIR/CODEOWNERS" ]] || { echo "no CODEOWNERS"; return 1; }
  awk '
    /^[[:space:]]*(#|$)/ { next }
    {
      rules++
      if (NF < 2) { printf "line %d: no owner: %s\n", NR, $0; bad++ }
      for (i = 2; i <= NF; i++)
        if ($i !~ /^@[A-Za-z0-9][A-Za-z0-9-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/ && $i !~ /^[^@[:space:]]+@[^@[:space:]]+$/) {
          printf "line %d: not an owner: %s\n", NR, $i; bad++
        }
    }
    END { if (!rules) { print "no rule"; bad++ } exit bad > 0 }
  ' "$DIR/CODEOWNERS"
}

check_kustomize() {
  [[ -f "$DIR/k8s/kustomization.yaml" ]] || { echo "no k8s/kustomization.yaml"; return 1; }
  kubectl kustomize "$DIR/k8s" >"$WORK/manifests.yaml" && cat "$WORK/manifests.yaml"
}

check_k8s_schema() {
  [[ -s "$WORK/manifests.yaml" ]] || { echo "kustomize produced no manifests"; return 1; }
  local args=() v
  for v in "${K8S_VERSIONS[@]}"; do args+=(-k "$v"); done
  kubernetes-validate --strict --no-warn "${args[@]}" "$WORK/manifests.yaml"
}

# Build an overlay on top of the base the way Argo CD's kustomize overrides do
# (images: <image>:<sha>, replicas: <deployment name>=N) and check the result.
check_argocd_override() {
  [[ -s "$WORK/manifests.yaml" ]] || { echo "kustomize produced no manifests"; return 1; }
  python3 - "$WORK/manifests.yaml" "$DIR/k8s" "$WORK/overlay" <<'PY'
import os
import subprocess
import sys

import yaml

manifests, base, overlay = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(open(manifests, encoding="utf-8")) if d]
kinds = sorted(d["kind"] for d in docs)
if kinds != ["Deployment", "Ingress", "Service"]:
    sys.exit(f"expected one Deployment, Service and Ingress, got {kinds}")
deployment = next(d for d in docs if d["kind"] == "Deployment")
name = deployment["metadata"]["name"]
image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
repo, _, tag = image.rpartition(":")
if tag != "latest" or not repo.startswith("ghcr.io/") or not repo.endswith("/" + name):
    sys.exit(f"base image should be ghcr.io/<org>/{name}:latest, is {image}")
sha = "0123456789abcdef0123456789abcdef01234567"
os.makedirs(overlay, exist_ok=True)
with open(os.path.join(overlay, "kustomization.yaml"), "w", encoding="utf-8") as f:
    yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(base, overlay)],
            "images": [{"name": repo, "newTag": sha}],
            "replicas": [{"name": name, "count": 5}],
        },
        f,
    )
built = subprocess.run(
    ["kubectl", "kustomize", overlay], check=True, capture_output=True, text=True
).stdout
deployment = next(d for d in yaml.safe_load_all(built) if d and d["kind"] == "Deployment")
got_image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
if got_image != f"{repo}:{sha}":
    sys.exit(f"image override not applied: {got_image}")
if deployment["spec"]["replicas"] != 5:
    sys.exit(f"replicas override not applied: {deployment['spec']['replicas']}")
print(f"{name}: image {got_image}, replicas 5")
PY
}

# The service's own checks run on a copy, so the rendered directory stays
# untouched (no virtualenv, node_modules or caches left in it).
prepare_copy() {
  cp -a "$DIR" "$WORK/service"
}

python_install() (
  python3 -m venv "$WORK/venv" \
    && cd "$WORK/service" \
    && "$WORK/venv/bin/python" -m pip install --disable-pip-version-check -q -r requirements-dev.txt
)

python_lint() (
  cd "$WORK/service" && "$WORK/venv/bin/ruff" check --no-cache .
)

python_test() (
  cd "$WORK/service" && PYTHONDONTWRITEBYTECODE=1 "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider
)

node_install() (
  cd "$WORK/service" || return 1
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
)

node_lint() (
  cd "$WORK/service" && npm run lint --if-present
)

node_test() (
  cd "$WORK/service" && npm test
)

echo "validating $DIR ($LANGUAGE)"
echo "validators: actionlint $(actionlint -version | head -n1 | awk '{print $NF}'), $(hadolint --version | awk '{print "hadolint", $NF}'), $(yamllint --version), kubectl $(kubectl version --client | awk '/Client Version/ {print $3}'), kubernetes-validate $(kubernetes-validate --version), shellcheck $(shellcheck --version | awk '/^version:/ {print $2}')"

run actionlint check_actionlint
run hadolint check_hadolint
run yamllint check_yamllint
run json check_json
run codeowners check_codeowners
run kustomize check_kustomize
run k8s-schema check_k8s_schema
run argocd-override check_argocd_override

if prepare_copy; then
  if [[ $LANGUAGE == python ]]; then
    run pip-install python_install
    run ruff python_lint
    run pytest python_test
  else
    echo "node $(node --version), npm $(npm --version)"
    run npm-install node_install
    run npm-lint node_lint
    run npm-test node_test
  fi
else
  echo "FAIL  copy            could not copy $DIR"
  FAILED=$((FAILED + 1))
fi

if [[ $FAILED -gt 0 ]]; then
  echo "$FAILED validator(s) failed for $DIR ($((SECONDS - TOTAL_START))s)"
  exit 1
fi
echo "all validators passed for $DIR ($((SECONDS - TOTAL_START))s)"
