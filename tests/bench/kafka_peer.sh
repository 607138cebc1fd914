#!/usr/bin/env bash
# Kafka clients' figures (docs/BENCHMARKS.md, "Kafka clients"): librdkafka (kafka_bench) against
# mq and, when given, the Kafka-protocol peer (Tansu, now named nisshi), alternated (mq first in
# odd runs, the peer in even ones), a fresh broker per run, with mq's HTTP binary path
# (mqctl bench) in the same run.
#
#   tests/bench/kafka_peer.sh BIN_DIR [PEER_BINARY] [RUNS] [RECORDS]
#
# BIN_DIR holds release builds of mqd, mqctl and kafka_bench. Per broker and run: kafka_bench
# produce (one send per record), consume (one poll per record), produce-batch and consume-batch
# (10,000 records per librdkafka call) of RECORDS × 100 B into two fresh one-partition topics, printing the rate, the client's CPU (user+sys s), the
# broker's CPU over the step (from /proc) and the broker's RSS. The peer's ListOffsets does not
# report what it stores, so its produce skips the high-watermark check (its consume run reads
# every offset). Listens on 127.0.0.1:7391 (HTTP) and 127.0.0.1:7392 (Kafka); stops what it starts.
set -u
BIN=$1; PEER=${2:-}; RUNS=${3:-3}; N=${4:-2000000}
tick=$(getconf CLK_TCK)
cpu() { awk -v t="$tick" '{printf "%.2f", ($14+$15)/t}' "/proc/$1/stat"; }
# shellcheck source=tests/bench/kafka_lib.sh
source "$(dirname "$0")/kafka_lib.sh"
brokers="mq"; [ -n "$PEER" ] && brokers="mq peer"
for i in $(seq 1 "$RUNS"); do
  # Who goes first alternates from run to run, so neither broker always follows the other.
  order=$brokers; [ -n "$PEER" ] && [ $((i % 2)) = 0 ] && order="peer mq"
  for broker in $order; do
    start_broker "$broker"
    start_rss=$(rss "$PID")
    if [ "$broker" = mq ]; then
      for mode in produce consume; do
        rate=$(MQ_SERVER=http://127.0.0.1:7391 "$BIN/mqctl" -o json bench "$mode" --messages "$N" --size 100 |
          tr -d '\n' | grep -o '"records_per_sec":[0-9]*')
        echo "run $i mq http-$mode $rate"
      done
    fi
    for mode in produce consume produce-batch consume-batch; do
      topic="k$i"; case $mode in *-batch) topic="kb$i" ;; esac
      before=$(cpu "$PID")
      out=$( { /usr/bin/time -f "client_cpu=%U+%S" timeout 300 "$BIN/kafka_bench" 127.0.0.1:7392 "$mode" "$topic" "$N" 100; } 2>&1 )
      after=$(cpu "$PID")
      echo "run $i $broker $mode $(echo "$out" | grep -o '"records_per_sec":[0-9]*') $(echo "$out" | grep -o 'client_cpu=.*') broker_cpu=$(echo "$after - $before" | bc) rss_kib=$(rss "$PID") start_rss_kib=$start_rss"
    done
    stop_broker
  done
done
