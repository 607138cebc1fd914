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
# shellcheck source=tests/bench/kafka_lib.sh
source "$(dirname "$0")/kafka_lib.sh"
brokers="mq"; [ -n "$PEER" ] && brokers="mq peer"
for i in $(seq 1 "$RUNS"); do
  for broker in $brokers; do
    start_broker "$broker"
    start=$(rss "$PID")
    rate=$(timeout 300 "$BIN/kafka_bench" 127.0.0.1:7392 produce "fill$i" "$N" "$SIZE" | grep -o '"records_per_sec":[0-9]*')
    sleep 2
    end=$(rss "$PID")
    echo "run $i $broker $rate start_rss_kib=$start end_rss_kib=$end bytes_above_payload=$(echo "scale=1; ($end - $start) * 1024 / $N - $SIZE" | bc)"
    stop_broker
  done
done
