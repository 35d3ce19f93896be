#!/usr/bin/env bash
# Remakes crates/cli/link-order.txt: the functions that ordinary uses of the release binaries
# run, in the order the linker should lay them out (see crates/cli/build.rs and
# docs/performance.md, "The binary's own pages").
#
#   scripts/link-order.sh [OUT]        (default OUT: crates/cli/link-order.txt)
#
# It builds `weft` and `weft-bench` in release, runs each workload below under valgrind's
# callgrind (mangled names: the linker matches symbols), and writes every function of the two
# executables that a workload ran, workload by workload: first those of `weft --version`, then
# those an empty `weft run` adds, and so on. So the smallest uses touch the shortest prefix of
# the code. Inside one workload the functions go by instructions run, most first.
# Needs valgrind, curl, python3; takes a few minutes (the workloads run ~50x slower under
# callgrind). A list made from an older commit still links: names that are gone are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-crates/cli/link-order.txt}
export CARGO_INCREMENTAL=0
cargo build --release -p weft-cli -p weft-bench
weft=$PWD/target/release/weft
bench=$PWD/target/release/weft-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
profiles=()

# grind NAME COMMAND...: one workload under callgrind, its profile in $work/NAME.cg
grind() {
    local name=$1
    shift
    valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$work/$name.cg" "$@" >/dev/null 2>"$work/$name.log"
    profiles+=("$work/$name.cg")
}

seq_workflow() { # N: N sequential core.set steps, like weft-bench's
    echo "name: sequential"
    echo "steps:"
    echo "  - {id: s0, uses: core.set, with: {n: 0}}"
    for ((i = 1; i < $1; i++)); do
        echo "  - {id: s$i, uses: core.set, with: {n: \"\${{ steps.s$((i - 1)).output.n + 1 }}\"}}"
    done
}
seq_workflow 1 >"$work/empty.yaml"
seq_workflow 100 >"$work/seq100.yaml"
cat >"$work/loop.yaml" <<'YAML'
name: loop
steps:
  - id: each
    for_each: ${{ range(100) }}
    concurrency: 16
    steps:
      - id: body
        uses: core.set
        with:
          v: ${{ item }}
YAML
mkdir "$work/hooks"
cat >"$work/hooks/hook.yaml" <<'YAML'
name: hook
trigger:
  webhook:
    token: hook_token
steps:
  - id: note
    uses: core.set
    with:
      service: ${{ trigger.body.service }}
YAML

grind version "$weft" --version
grind help "$weft" --help
# An empty run on a history that already holds runs, as most runs are.
for _ in 1 2 3; do "$weft" --data-dir "$work/data" run "$work/empty.yaml" >/dev/null; done
grind empty-run "$weft" --data-dir "$work/data" run "$work/empty.yaml"
grind validate "$weft" validate "$work/seq100.yaml"
grind seq-run "$weft" --data-dir "$work/data" run "$work/seq100.yaml"
grind loop-run "$weft" --data-dir "$work/data" run "$work/loop.yaml"
grind bench-seq "$bench" scale seq 100
grind bench-loop "$bench" scale loop 100

# The daemon: start, one webhook fire, a clean stop (SIGTERM).
export WEFT_SECRET_HOOK_TOKEN=link-order
valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$work/daemon.cg" "$weft" --data-dir "$work/daemon-data" daemon \
    --workflows "$work/hooks" --listen 127.0.0.1:0 >/dev/null 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 600); do
    [ -s "$work/daemon-data/daemon.json" ] && break
    sleep 0.1
done
address=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["address"])' \
    "$work/daemon-data/daemon.json")
curl -sf -X POST "http://$address/hooks/hook" -H "Authorization: Bearer link-order" \
    -H 'Content-Type: application/json' -d '{"service": "api"}' >/dev/null
sleep 2
kill -TERM "$daemon"
wait "$daemon" || true
profiles+=("$work/daemon.cg")

python3 - "$weft" "$bench" "$out" "${profiles[@]}" <<'PY'
import os, sys
binaries = {os.path.realpath(p) for p in sys.argv[1:3]}
out, profiles = sys.argv[3], sys.argv[4:]
seen, order = set(), []
for profile in profiles:
    cost, ob, fn = {}, None, None
    with open(profile) as f:
        for line in f:
            if line.startswith("ob="):
                ob = os.path.realpath(line[3:].strip())
            elif line.startswith("fn="):
                fn = line[3:].strip()
                # Code without a symbol shows as its address, valgrind's own frames with spaces.
                if ob not in binaries or fn.startswith("0x") or " " in fn:
                    fn = None
                if fn is not None:
                    cost.setdefault(fn, 0)
            elif line.startswith(("cob=", "cfi=", "cfn=", "fl=", "fi=", "fe=")):
                continue
            elif line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not the caller's own.
                next(f, None)
            elif fn is not None and line[:1].isdigit():
                fields = line.split()
                if len(fields) >= 2:
                    cost[fn] += int(fields[1])
    for name in sorted(cost, key=lambda n: -cost[n]):
        if name not in seen:
            seen.add(name)
            order.append(name)
    print(f"{os.path.basename(profile)}: {len(cost)} functions, {len(order)} in the list", file=sys.stderr)
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in order))
PY
