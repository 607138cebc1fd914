#!/usr/bin/env bash
# Memory per record through Kafka clients (docs/BENCHMARKS.md, "Kafka clients"): librdkafka
# (kafka_bench produce, acks=all, idempotent) stores RECORDS records of SIZE bytes into a fresh
# one-partition topic of a fresh broker, mq and, when given, the Kafka-protocol peer (Tansu,
# now nisshi), alternated; prints each broker's RSS growth per record above the payload, read
# from /proc two seconds after the last acknowledgement.
#
#   tests/bench/kafka_fill.sh BIN_DIR [PEER_BINARY] [RUNS] [RECORDS] [SIZE]
#
# Listens on 127.0.0.1:7391 (HTTP) and 127.0.0.1:7392 (Kafka); stops what it starts.
set -u
BIN=$1; PEER=${2:-}; RUNS=${3:-3}; N=${4:-2000000}; SIZE=${5:-560}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null' EXIT
config=$(mktemp)
printf '[limits]\nmemory = "16GiB"\n[kafka]\nlisten = "127.0.0.1:7392"\n' > "$config"
brokers="mq"; [ -n "$PEER" ] && brokers="mq peer"
for i in $(seq 1 "$RUNS"); do
  for broker in $brokers; do
    case $broker in
      mq) "$BIN/mqd" --config "$config" --listen 127.0.0.1:7391 2>/dev/null & ;;
      peer) "$PEER" broker --listener-url tcp://127.0.0.1:7392 \
              --advertised-listener-url tcp://127.0.0.1:7392 \
              --storage-engine memory://nisshi/ --silent >/dev/null 2>&1 & ;;
    esac
    PID=$!
    for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/7392) 2>/dev/null && break; sleep 0.1; done
    start=$(rss "$PID")
    if [ "$broker" = peer ]; then export KAFKA_BENCH_NO_WATERMARK_CHECK=1; else unset KAFKA_BENCH_NO_WATERMARK_CHECK; fi
    rate=$(timeout 300 "$BIN/kafka_bench" 127.0.0.1:7392 produce "fill$i" "$N" "$SIZE" | grep -o '"records_per_sec":[0-9]*')
    sleep 2
    end=$(rss "$PID")
    echo "run $i $broker $rate start_rss_kib=$start end_rss_kib=$end bytes_above_payload=$(echo "scale=1; ($end - $start) * 1024 / $N - $SIZE" | bc)"
    kill "$PID"; wait "$PID" 2>/dev/null; PID=""
  done
done
