#!/usr/bin/env bash
# Replication's figures (docs/BENCHMARKS.md, "Replication"), in one run on one 3-node cluster per
# measurement. Usage: tests/bench/replication.sh [BIN_DIR] [ROUNDS]   (BIN_DIR: release mqd, mqctl)
# Each round, alternated: produce of 100 B records into 9 partitions with replication factor 1,
# then with replication factor 3 (min_insync_replicas 2, acks=all); the end-to-end latency at R=3;
# then the failover: a producer keeps an R=3 topic busy, the leader of a partition (not the
# controller) gets `kill -9`, and the time to the next acknowledged acks=all produce on that
# partition through a survivor is printed.
# Environment: MESSAGES (5000000), IN_FLIGHT (6). Fresh processes every run; 127.0.0.1 only;
# stops what it starts.
set -euo pipefail
BIN=${1:-target/release}
ROUNDS=${2:-3}
MESSAGES=${MESSAGES:-5000000}
IN_FLIGHT=${IN_FLIGHT:-6}
WORK=$(mktemp -d /tmp/mq-bench-replication.XXXXXX)

PORT_PREFIX=96
NODE_MEMORY=6GiB
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

produce() { # replication factor
  start_cluster
  "$BIN/mqctl" --server 127.0.0.1:9601 -o json bench produce --messages "$MESSAGES" --size 100 --partitions 9 \
    --in-flight "$IN_FLIGHT" --acks all --replication-factor "$1" --min-insync-replicas "$(( $1 > 1 ? 2 : 1 ))" | tail -1
  stop_cluster
}

latency() {
  start_cluster
  "$BIN/mqctl" --server 127.0.0.1:9601 -o json bench e2e --messages 20000 --size 100 --batch-size 1 --in-flight 1 \
    --acks all --replication-factor 3 --min-insync-replicas 2 | tail -1
  stop_cluster
}

failover() {
  start_cluster
  curl -sf -X POST http://127.0.0.1:9601/v1/topics -H 'content-type: application/json' \
    -d '{"name":"busy","partitions":3,"replication_factor":3,"min_insync_replicas":2}' >/dev/null
  "$BIN/mqctl" --server 127.0.0.1:9601 bench produce --topic busy --messages 500000000 --size 100 \
    --rate 200000 --acks all >/dev/null 2>&1 &
  local load=$!; PIDS+=("$load")
  sleep 2
  local controller target victim
  controller=$(curl -sf http://127.0.0.1:9601/v1/cluster | python3 -c 'import json,sys; print(json.load(sys.stdin)["controller"])')
  read -r target victim < <(curl -sf http://127.0.0.1:9601/v1/topics/busy | python3 -c "
import json,sys
d=json.load(sys.stdin)
p=next(p for p in d['partitions'] if p['leader']!=$controller)
print(p['partition'], p['leader'])")
  local survivor=$(( victim % 3 + 1 ))
  kill -9 "${CLUSTER_PIDS[$((victim - 1))]}"
  local start; start=$(date +%s%N)
  for _ in $(seq 2000); do
    local code; code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:960$survivor/v1/topics/busy/partitions/$target/records" \
      -H 'content-type: application/json' -d '{"records":[{"value":"after-the-kill"}],"acks":"all"}' || true)
    if [ "$code" = 200 ]; then
      echo "{\"mode\":\"failover\",\"killed_leader\":$victim,\"kill_to_ack_ms\":$(( ($(date +%s%N) - start) / 1000000 ))}"
      kill -9 "$load" 2>/dev/null || true; stop_cluster; return 0
    fi
    sleep 0.01
  done
  echo '{"mode":"failover","error":"no acknowledged produce within 20 s"}'
  kill -9 "$load" 2>/dev/null || true; stop_cluster
}

for round in $(seq "$ROUNDS"); do
  echo "round $round R=1 $(produce 1)"
  echo "round $round R=3 $(produce 3)"
  echo "round $round R=3 $(latency)"
  echo "round $round $(failover)"
done
