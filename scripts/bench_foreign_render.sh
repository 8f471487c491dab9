#!/usr/bin/env bash
# paved render beside cookiecutter --no-input, in one run, on the same
# Cookiecutter templates and values: the peers' python-fastapi scaffold
# (../shared/peers/cookiecutter/python-fastapi, 12 files) and a public one
# (../shared/templates-public/kragniz+cookiecutter-pypackage-minimal).
# Whole processes, timed by hyperfine, turn about; each pair is first
# checked to write the same files, byte for byte. Prints the medians and
# the ratio.
#
# Usage: scripts/bench_foreign_render.sh [PAVED=target/release/paved] [RUNS=30]
# Env:   VENV (default: peers-venv in the temp folder; made with the pinned
#        cookiecutter if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
paved=$(realpath "${1:-$root/target/release/paved}")
runs=${2:-30}
venv=${VENV:-${TMPDIR:-/tmp}/peers-venv}

[ -x "$paved" ] || { echo "no $paved: cargo build --release first" >&2; exit 2; }
[ -d "$shared/peers" ] || { echo "no $shared/peers" >&2; exit 2; }
if [ ! -x "$venv/bin/cookiecutter" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q cookiecutter==2.7.1
fi
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }

work=$(mktemp -d -t paved-foreign-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Cookiecutter's replay files and clone cache stay in the scratch folder.
printf 'cookiecutters_dir: "%s/cc-cache"\nreplay_dir: "%s/cc-replay"\n' "$work" "$work" >"$work/cc-config.yaml"
export COOKIECUTTER_CONFIG=$work/cc-config.yaml
mkdir "$work/templates"
ln -s "$shared/peers/cookiecutter/python-fastapi" "$work/templates/fastapi"
ln -s "$shared/templates-public/kragniz+cookiecutter-pypackage-minimal" "$work/templates/pypackage"

echo "# $("$venv/bin/cookiecutter" --version | cut -d' ' -f1-2), $("$paved" --version), $runs runs each, $(nproc) cores"
bench() {  # name, project folder cookiecutter makes, KEY=VALUE...
  local name=$1 project=$2; shift 2
  local sets=() kv
  for kv in "$@"; do sets+=(--set "$kv"); done
  local cc="$venv/bin/cookiecutter --no-input --output-dir $work/cc $work/templates/$name $*"
  local pv="$paved render --templates $work/templates --template $name --out $work/pv ${sets[*]}"
  rm -rf "$work/cc" "$work/pv"; $cc >/dev/null; $pv >/dev/null
  diff -r "$work/cc/$project" "$work/pv" >/dev/null || { echo "$name: the renders differ" >&2; diff -r "$work/cc/$project" "$work/pv" >&2; exit 1; }
  local files; files=$(find "$work/pv" -type f | wc -l)
  hyperfine -N --runs "$runs" --warmup 3 --style none --export-json "$work/$name.json" \
    -n cookiecutter --prepare "rm -rf $work/cc" "$cc" \
    -n paved --prepare "rm -rf $work/pv" "$pv" >/dev/null 2>&1
  python3 - "$work/$name.json" "$name" "$files" <<'EOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
cc, pv = res["cookiecutter"], res["paved"]
ms = lambda r: r["median"] * 1000
print(f"{sys.argv[2]} ({sys.argv[3]} files): cookiecutter median {ms(cc):.1f} ms (min {cc['min']*1000:.1f}), "
      f"paved median {ms(pv):.2f} ms (min {pv['min']*1000:.2f}): paved {ms(cc) / ms(pv):.0f}x faster")
EOF
}
bench fastapi x service_name=x
bench pypackage billing package_name=billing
