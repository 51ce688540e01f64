#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) for tests, demos and benches.
#
#   tests/kafka/broker.sh fetch        fetch Kafka's jars with mvn into the cache
#   tests/kafka/broker.sh start DIR    format a log dir under DIR, start the broker on
#                                      127.0.0.1 on a free port, wait until it answers;
#                                      prints the bootstrap address (also in DIR/bootstrap)
#   tests/kafka/broker.sh stop DIR     stop it (TERM, then KILL), leaving no process behind
#
# Kafka 3.9.1 (Scala 2.13): the last 3.x line, KRaft without ZooKeeper, and it
# still accepts every protocol version Debian 12's librdkafka 2.0.2 uses.
# The jars are cached outside the repo in $TOCSIN_CACHE (default ~/.cache/tocsin).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
CACHE=${TOCSIN_CACHE:-$HOME/.cache/tocsin}
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"

fetch() {
    if [ -f "$LIBS/.complete" ]; then return 0; fi
    echo "kafka: fetching Apache Kafka $KAFKA_VERSION jars with mvn into $LIBS" >&2
    mkdir -p "$LIBS"
    command -v mvn >/dev/null || { echo "kafka: mvn not found (make deps installs maven)" >&2; exit 1; }
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" >&2
    ls "$LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
    touch "$LIBS/.complete"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local dir=$1
    fetch
    mkdir -p "$dir/data"
    local port cport
    port=$(free_port); cport=$(free_port)
    while [ "$cport" = "$port" ]; do cport=$(free_port); done
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=1000
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
PROPS
    cat > "$dir/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
    local cp="$LIBS/*"
    local jopts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
                 "-Dlog4j.configuration=file:$dir/log4j.properties")
    local id
    id=$(java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$id" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
        || { cat "$dir/format.log" >&2; exit 1; }
    # setsid: the broker gets its own process group so stop can kill all of it
    setsid java "${jopts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
        >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! > "$dir/pid"
    echo "127.0.0.1:$port" > "$dir/bootstrap"
    local i
    for i in $(seq 1 120); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            echo "kafka: broker exited during start-up:" >&2
            tail -n 30 "$dir/stdout.log" "$dir/broker.log" >&2 || true
            exit 1
        fi
        if kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; then
            echo "kafka: broker $KAFKA_VERSION up on 127.0.0.1:$port (dir $dir)" >&2
            echo "127.0.0.1:$port"
            return 0
        fi
        sleep 0.5
    done
    echo "kafka: broker did not answer within 60 s" >&2
    stop "$dir"
    exit 1
}

stop() {
    local dir=$1 pid
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
    echo "kafka: broker stopped" >&2
}

case "${1:-}" in
    fetch) fetch ;;
    start) [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }; start "$2" ;;
    stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
    *) echo "usage: $0 fetch | start DIR | stop DIR" >&2; exit 2 ;;
esac
