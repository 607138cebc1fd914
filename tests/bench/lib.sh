# Shared by the cluster benchmarks (sourced, not run): a 3-node cluster of fresh `mqd` processes
# on 127.0.0.1. The sourcing script sets BIN (release mqd and mqctl), WORK (a scratch directory,
# removed on exit), PORT_PREFIX (node i listens on 127.0.0.1:${PORT_PREFIX}0i) and NODE_MEMORY
# (each node's `limits.memory`); it adds every process it starts to PIDS, all killed on exit.

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

wait_http() { for _ in $(seq 100); do curl -sf "http://$1/health" >/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# Starts the three nodes and waits for a controller and every node alive; CLUSTER_PIDS[i-1] is
# node i.
start_cluster() {
  rm -rf "$WORK/c"; mkdir -p "$WORK/c"
  local nodes="{ id = 1, addr = \"127.0.0.1:${PORT_PREFIX}01\" }, { id = 2, addr = \"127.0.0.1:${PORT_PREFIX}02\" }, { id = 3, addr = \"127.0.0.1:${PORT_PREFIX}03\" }"
  CLUSTER_PIDS=()
  for i in 1 2 3; do
    printf '[node]\nid = %s\nlisten = "127.0.0.1:%s0%s"\ndata_dir = "%s"\n[limits]\nmemory = "%s"\n[cluster]\nnodes = [ %s ]\n' \
      "$i" "$PORT_PREFIX" "$i" "$WORK/c/node$i" "$NODE_MEMORY" "$nodes" > "$WORK/c/node$i.toml"
    "$BIN/mqd" --config "$WORK/c/node$i.toml" >"$WORK/c/node$i.log" 2>&1 &
    CLUSTER_PIDS+=("$!"); PIDS+=("$!")
  done
  for i in 1 2 3; do wait_http "127.0.0.1:${PORT_PREFIX}0$i"; done
  for _ in $(seq 100); do
    local status; status=$(curl -sf "http://127.0.0.1:${PORT_PREFIX}01/v1/cluster" || true)
    if echo "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s.get("controller") and all(n["state"]=="alive" for n in s["nodes"]) else 1)' 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "the cluster did not form" >&2; return 1
}

stop_cluster() { for p in "${CLUSTER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
