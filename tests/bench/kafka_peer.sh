#!/usr/bin/env bash
# Kafka clients' figures (docs/BENCHMARKS.md, "Kafka clients"): librdkafka (kafka_bench) against
# mq and, when given, the Kafka-protocol peer (Tansu, now named nisshi), alternated, a fresh broker
# per run, with mq's HTTP binary path (mqctl bench) in the same run.
#
#   tests/bench/kafka_peer.sh BIN_DIR [PEER_BINARY] [RUNS] [RECORDS]
#
# BIN_DIR holds release builds of mqd, mqctl and kafka_bench. Per broker and run: kafka_bench
# produce, consume (one poll per record) and consume-batch (10,000 per call) of RECORDS × 100 B
# into a fresh one-partition topic, printing the rate, the client's CPU (user+sys s), the
# broker's CPU over the step (from /proc) and the broker's RSS. The peer's ListOffsets does not
# report what it stores, so its produce skips the high-watermark check (its consume run reads
# every offset). Listens on 127.0.0.1:7391 (HTTP) and 127.0.0.1:7392 (Kafka); stops what it starts.
set -u
BIN=$1; PEER=${2:-}; RUNS=${3:-3}; N=${4:-2000000}
tick=$(getconf CLK_TCK)
cpu() { awk -v t="$tick" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null' EXIT
config=$(mktemp)
printf '[limits]\nmemory = "16GiB"\n[kafka]\nlisten = "127.0.0.1:7392"\n' > "$config"
start() {
  case $1 in
    mq) "$BIN/mqd" --config "$config" --listen 127.0.0.1:7391 2>/dev/null & ;;
    peer) "$PEER" broker --listener-url tcp://127.0.0.1:7392 \
            --advertised-listener-url tcp://127.0.0.1:7392 \
            --storage-engine memory://nisshi/ --silent >/dev/null 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/7392) 2>/dev/null && break; sleep 0.1; done
}
brokers="mq"; [ -n "$PEER" ] && brokers="mq peer"
for i in $(seq 1 "$RUNS"); do
  for broker in $brokers; do
    start "$broker"
    start_rss=$(rss "$PID")
    if [ "$broker" = mq ]; then
      for mode in produce consume; do
        rate=$(MQ_SERVER=http://127.0.0.1:7391 "$BIN/mqctl" -o json bench "$mode" --messages "$N" --size 100 |
          tr -d '\n' | grep -o '"records_per_sec":[0-9]*')
        echo "run $i mq http-$mode $rate"
      done
    fi
    for mode in produce consume consume-batch; do
      if [ "$broker" = peer ]; then export KAFKA_BENCH_NO_WATERMARK_CHECK=1; else unset KAFKA_BENCH_NO_WATERMARK_CHECK; fi
      before=$(cpu "$PID")
      out=$( { /usr/bin/time -f "client_cpu=%U+%S" timeout 300 "$BIN/kafka_bench" 127.0.0.1:7392 "$mode" "k$i" "$N" 100; } 2>&1 )
      after=$(cpu "$PID")
      echo "run $i $broker $mode $(echo "$out" | grep -o '"records_per_sec":[0-9]*') $(echo "$out" | grep -o 'client_cpu=.*') broker_cpu=$(echo "$after - $before" | bc) rss_kib=$(rss "$PID") start_rss_kib=$start_rss"
    done
    kill "$PID"; wait "$PID" 2>/dev/null; PID=""
  done
done
