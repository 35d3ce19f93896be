#!/usr/bin/env bash
# Remakes crates/cli/link-order.txt: the functions that ordinary uses of the release binaries
# run, in the order the linker should lay them out (see crates/cli/build.rs and
# docs/performance.md, "The binary's own pages").
#
#   scripts/link-order.sh [OUT]        (default OUT: crates/cli/link-order.txt)
#
# It builds `weft` and `weft-bench` in release, runs each workload below under valgrind's
# callgrind (mangled names: the linker matches symbols), and writes every function of the
# executables that a workload ran, workload by workload: first those of `weft --version`, then
# those an empty `weft run` adds, and so on. So the smallest uses touch the shortest prefix of
# the code. Inside one workload the functions go by instructions run, most first.
# Symbol names carry a hash of their crate's features, and cargo unifies features over the
# packages of one build: `weft` built alone (`cargo install`, `-p weft-cli`) has other names for
# the functions of the crates whose features differ (weft-runtime, weft-cli) than `weft` built
# with `weft-bench`. So `weft`'s workloads run on both builds and the list holds both names.
# Needs valgrind, curl, python3; takes a few minutes (the workloads run ~50x slower under
# callgrind). A list made from an older commit still links: names that are gone are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-crates/cli/link-order.txt}
export CARGO_INCREMENTAL=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -p weft-cli
cp target/release/weft "$work/weft-alone"
cargo build --release -p weft-cli -p weft-bench
weft=$PWD/target/release/weft
bench=$PWD/target/release/weft-bench
profiles=()

# callgrind OUT COMMAND...: COMMAND under callgrind, its profile in OUT
callgrind() {
    local out=$1
    shift
    valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log"
}

# grind NAME COMMAND...: one workload, its profile in $work/NAME.cg
grind() {
    local name=$1
    shift
    callgrind "$work/$name.cg" "$@"
    profiles+=("$work/$name.cg")
}

# grind_weft NAME ARGS...: one workload of `weft`, on both builds; one profile of both
grind_weft() {
    local name=$1
    shift
    callgrind "$work/$name.cg" "$weft" "$@"
    callgrind "$work/$name-alone.cg" "$work/weft-alone" "$@"
    profiles+=("$work/$name.cg,$work/$name-alone.cg")
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

grind_weft version --version
grind_weft help --help
# An empty run on a history that already holds runs, as most runs are.
for _ in 1 2 3; do "$weft" --data-dir "$work/data" run "$work/empty.yaml" >/dev/null 2>&1; done
grind_weft empty-run --data-dir "$work/data" run "$work/empty.yaml"
grind_weft validate validate "$work/seq100.yaml"
grind_weft seq-run --data-dir "$work/data" run "$work/seq100.yaml"
grind_weft loop-run --data-dir "$work/data" run "$work/loop.yaml"
grind bench-seq "$bench" scale seq 100
grind bench-loop "$bench" scale loop 100
# Big runs reach code small ones do not (sled sealing and splitting segments, page-table growth);
# after the small ones, so those still touch the shortest prefix.
grind bench-seq-big "$bench" scale seq 10000
grind bench-loop-big "$bench" scale loop 10000

# daemon OUT BINARY: the daemon under callgrind: start, one webhook fire, a clean stop (SIGTERM)
daemon() {
    local out=$1 binary=$2 data
    data=$(mktemp -d -p "$work")
    WEFT_SECRET_HOOK_TOKEN=link-order valgrind --tool=callgrind --demangle=no \
        --compress-strings=no --compress-pos=no --callgrind-out-file="$out" "$binary" \
        --data-dir "$data" daemon --workflows "$work/hooks" --listen 127.0.0.1:0 \
        >/dev/null 2>"$out.log" &
    local pid=$!
    for _ in $(seq 600); do
        [ -s "$data/daemon.json" ] && break
        sleep 0.1
    done
    local address
    address=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["address"])' \
        "$data/daemon.json")
    curl -sf -X POST "http://$address/hooks/hook" -H "Authorization: Bearer link-order" \
        -H 'Content-Type: application/json' -d '{"service": "api"}' >/dev/null
    sleep 2
    kill -TERM "$pid"
    wait "$pid" || true
}
daemon "$work/daemon.cg" "$weft"
daemon "$work/daemon-alone.cg" "$work/weft-alone"
profiles+=("$work/daemon.cg,$work/daemon-alone.cg")

python3 - "$weft" "$work/weft-alone" "$bench" "$out" "${profiles[@]}" <<'PY'
import os, sys

binaries = {os.path.realpath(p) for p in sys.argv[1:4]}
out, workloads = sys.argv[4], sys.argv[5:]


def own_cost(profile, cost):
    """Adds the instructions each function of the executables ran itself (callees excluded)."""
    ob, fn = None, None
    with open(profile) as f:
        for line in f:
            if line.startswith("ob="):
                ob = os.path.realpath(line[3:].strip())
            elif line.startswith("fn="):
                fn = line[3:].strip()
                # Code without a symbol shows as its address, valgrind's own frames with spaces.
                if ob not in binaries or fn.startswith("0x") or " " in fn:
                    fn = None
                else:
                    cost.setdefault(fn, 0)
            elif line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not the caller's own.
                next(f, None)
            elif fn is not None and line[:1].isdigit():
                fields = line.split()
                if len(fields) >= 2:
                    cost[fn] += int(fields[1])


seen, order = set(), []
for workload in workloads:
    cost = {}
    for profile in workload.split(","):
        own_cost(profile, cost)
    for name in sorted(cost, key=lambda n: -cost[n]):
        if name not in seen:
            seen.add(name)
            order.append(name)
    name = os.path.basename(workload.split(",")[0])
    print(f"{name}: {len(cost)} functions, {len(order)} in the list", file=sys.stderr)
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in order))
PY
