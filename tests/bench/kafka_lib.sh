# Shared by the Kafka-client benchmarks (sourced, not run): one fresh broker at a time, mq or the
# Kafka-protocol peer (Tansu, now nisshi), with its Kafka listener on 127.0.0.1:7392 (mq's HTTP
# on 127.0.0.1:7391). The sourcing script sets BIN (release mqd) and PEER (the peer's binary,
# may be empty). `start_broker mq|peer` sets PID; `stop_broker` stops it; whatever runs at exit
# is stopped too.

PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -f "$KAFKA_BENCH_MQ_CONFIG"' EXIT
KAFKA_BENCH_MQ_CONFIG=$(mktemp)
printf '[limits]\nmemory = "16GiB"\n[kafka]\nlisten = "127.0.0.1:7392"\n' > "$KAFKA_BENCH_MQ_CONFIG"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start_broker() {
  case $1 in
    mq) "$BIN/mqd" --config "$KAFKA_BENCH_MQ_CONFIG" --listen 127.0.0.1:7391 2>/dev/null & ;;
    peer) "$PEER" broker --listener-url tcp://127.0.0.1:7392 \
            --advertised-listener-url tcp://127.0.0.1:7392 \
            --storage-engine memory://nisshi/ --silent >/dev/null 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/7392) 2>/dev/null && break; sleep 0.1; done
  # The peer's ListOffsets does not report what it stores: kafka_bench skips that check there.
  if [ "$1" = peer ]; then export KAFKA_BENCH_NO_WATERMARK_CHECK=1; else unset KAFKA_BENCH_NO_WATERMARK_CHECK; fi
}

stop_broker() { kill "$PID"; wait "$PID" 2>/dev/null; PID=""; }
