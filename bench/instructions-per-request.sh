#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: a figure that
# does not move with the machine's load, for before/after questions the timed
# bench is too noisy to answer on a shared 2-vCPU VM (its CPU per request moved
# by +-10% between rounds in one run; this moves by about 1%).
#
#   bench/instructions-per-request.sh [--warm N] [--requests N] [--path PATH] [--toml-extra FILE] CLI_JS [CLI_JS...]
#
# For each compiled warpdrive CLI (dist/src/cli/main.js of a checkout), it starts
# the bench upstream, warpdrive under callgrind with the bench's small-get config
# (forward_headers on, request logging off; FILE appended when given: its first
# lines, before any table header, are [middleware] keys), sends GETs for PATH
# (default /; /cache/small with a [cache] table in FILE counts cache hits):
# --warm keep-alive GETs with autocannon so that V8 has compiled the hot path,
# zeroes the counters, sends --requests more, and prints user-space instructions
# per request: warpdrive's main thread (where a proxy thread runs with
# worker_threads = 1) and all other threads (GC helpers, the supervisor). Kernel
# work (syscalls) is not counted, so the share of the whole CPU cost is smaller.
# --keep DIR copies callgrind's files there, for callgrind_annotate.
# Needs valgrind and a built checkout (npm run build); takes about 90 s per build.
set -euo pipefail
cd "$(dirname "$0")/.."

warm=20000
requests=5000
extra=""
target=/
keep=""
builds=()
while [ $# -gt 0 ]; do
  case $1 in
    --warm) warm=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --toml-extra) extra=$2; shift 2 ;;
    --path) target=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) builds+=("$1"); shift ;;
  esac
done
[ ${#builds[@]} -gt 0 ] || { echo "usage: $0 [--warm N] [--requests N] [--path PATH] [--toml-extra FILE] CLI_JS [CLI_JS...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
[ -f dist/bench/upstream-server.js ] || { echo "build first: npm run build" >&2; exit 1; }

work=$(mktemp -d /tmp/wd-instructions.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

node dist/bench/upstream-server.js > "$work/upstream.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q UPSTREAM_READY "$work/upstream.log" && break; sleep 0.1; done
upstream_port=$(grep -o '"ports":\[[0-9]*' "$work/upstream.log" | grep -o '[0-9]*$')

printf '%-50s %12s %12s %12s\n' build main-thread other-threads total
for build in "${builds[@]}"; do
  port=$(free_port)
  cat > "$work/warpdrive.toml" <<TOML
[server]
http_port = $port
bind_address = "127.0.0.1"
[upstreams.app]
host = "127.0.0.1"
port = $upstream_port
[[routes]]
path_prefix = "/"
upstream = "app"
[middleware]
forward_headers = true
log_requests = false
TOML
  [ -z "$extra" ] || cat "$extra" >> "$work/warpdrive.toml"
  rm -f "$work"/cg.*
  valgrind --tool=callgrind --smc-check=all-non-file --separate-threads=yes \
    --callgrind-out-file="$work/cg.%p" node "$build" --config "$work/warpdrive.toml" > "$work/warpdrive.log" 2>&1 &
  wd=$!
  pids+=("$wd")
  up=""
  for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && { up=1; break; }; sleep 0.2; done
  [ -n "$up" ] || { echo "warpdrive did not answer:" >&2; cat "$work/warpdrive.log" >&2; exit 1; }
  node_modules/.bin/autocannon -a "$warm" -c 10 "http://127.0.0.1:$port$target" > /dev/null 2>&1
  callgrind_control -z "$wd" > /dev/null 2>&1
  node_modules/.bin/autocannon -a "$requests" -c 10 "http://127.0.0.1:$port$target" > "$work/load.log" 2>&1
  callgrind_control -d "$wd" > /dev/null 2>&1
  kill -TERM "$wd"; wait "$wd" || true
  grep -q "$((requests / 1000))k requests in\|$requests requests in" "$work/load.log" || { echo "the load did not complete:" >&2; cat "$work/load.log" >&2; exit 1; }
  [ -z "$keep" ] || { mkdir -p "$keep"; cp "$work"/cg.* "$keep"/; }
  # The dump after zeroing is part 1; thread 1 is the main thread.
  main=$(grep -h '^summary' "$work"/cg.*.1-01 | awk '{print $2}')
  others=$(cat "$work"/cg.*.1-0[2-9] "$work"/cg.*.1-[1-9][0-9] 2>/dev/null | grep '^summary' | awk '{s += $2} END {print s + 0}')
  printf '%-50s %12d %12d %12d\n' "$build" $((main / requests)) $((others / requests)) $(((main + others) / requests))
done
