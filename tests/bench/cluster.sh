#!/usr/bin/env bash
# The cluster's figures beside the single node's, in one run (docs/BENCHMARKS.md, "Cluster").
# Usage: tests/bench/cluster.sh [BIN_DIR] [ROUNDS]   (BIN_DIR holds release mqd and mqctl)
# Each round, alternated: produce and group consume of 100 B records into 9 partitions on a
# single node, then the same through a 3-node cluster on this machine (partitions spread 3/3/3,
# mqctl sending to the leaders), then the time from `kill -9` of the controller to the next
# accepted topic creation. Environment: MESSAGES (5000000), IN_FLIGHT (6, both sides). Fresh processes every run; everything on 127.0.0.1; stops what it starts.
set -euo pipefail
BIN=${1:-target/release}
ROUNDS=${2:-3}
MESSAGES=${MESSAGES:-5000000}
# Two produce requests in flight per node: with the default (2 in all), one node of three idles.
IN_FLIGHT=${IN_FLIGHT:-6}
WORK=$(mktemp -d /tmp/mq-bench-cluster.XXXXXX)

PORT_PREFIX=95
NODE_MEMORY=4GiB
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

single() { # mode
  printf '[limits]\nmemory = "12GiB"\n' > "$WORK/single.toml"
  "$BIN/mqd" --config "$WORK/single.toml" --listen 127.0.0.1:7391 >"$WORK/single.log" 2>&1 &
  local pid=$!; PIDS+=("$pid"); wait_http 127.0.0.1:7391
  "$BIN/mqctl" --server 127.0.0.1:7391 -o json bench "$1" --messages "$MESSAGES" --size 100 --partitions 9 --in-flight "$IN_FLIGHT" | tail -1
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

cluster() { # mode
  start_cluster
  "$BIN/mqctl" --server 127.0.0.1:9501 -o json bench "$1" --messages "$MESSAGES" --size 100 --partitions 9 --in-flight "$IN_FLIGHT" | tail -1
  stop_cluster
}

failover() {
  start_cluster
  local controller; controller=$(curl -sf http://127.0.0.1:9501/v1/cluster | python3 -c 'import json,sys; print(json.load(sys.stdin)["controller"])')
  local survivor=$(( controller % 3 + 1 ))
  kill -9 "${CLUSTER_PIDS[$((controller - 1))]}"
  local start; start=$(date +%s%N)
  for _ in $(seq 1000); do
    local code; code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:950$survivor/v1/topics" \
      -H 'content-type: application/json' -d '{"name":"after-failover","partitions":3}' || true)
    if [ "$code" = 201 ]; then
      echo "{\"mode\":\"failover\",\"kill_to_create_ms\":$(( ($(date +%s%N) - start) / 1000000 ))}"
      stop_cluster; return 0
    fi
    sleep 0.02
  done
  echo '{"mode":"failover","error":"no create within 20 s"}'; stop_cluster
}

for round in $(seq "$ROUNDS"); do
  for mode in produce group; do
    echo "round $round single  $(single $mode)"
    echo "round $round cluster $(cluster $mode)"
  done
  echo "round $round $(failover)"
done
