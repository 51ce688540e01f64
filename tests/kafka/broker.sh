#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) for tests, demos and benches.
#
#   tests/kafka/broker.sh fetch        fetch Kafka's jars with mvn into the cache
#   tests/kafka/broker.sh start DIR    format a log dir under DIR, start the broker on
#                                      127.0.0.1 on a free port, wait until it answers;
#                                      prints the bootstrap address (also in DIR/bootstrap)
#   tests/kafka/broker.sh start-secure DIR
#                                      the same broker with three more listeners: SSL,
#                                      SASL_SSL with SCRAM-SHA-512 and SSL that requires
#                                      client certificates (MTLS; see secure_material);
#                                      prints the PLAINTEXT bootstrap and writes DIR/ssl.env
#   tests/kafka/broker.sh stop DIR     stop it (TERM, then KILL), leaving no process behind
#   tests/kafka/broker.sh restart DIR  start the broker of DIR again (stopped first if it
#                                      runs): same ports, same data; prints the bootstrap
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

# The TLS material of start-secure, made here with openssl and keytool:
#   DIR/tls/ca.pem         the test CA (clients: ssl.ca.location)
#   DIR/tls/other-ca.pem   a second CA that did not sign the broker (the wrong-CA test)
#   DIR/tls/broker.p12     the broker's keystore (PKCS12): key + certificate for
#                          127.0.0.1 / localhost signed by ca.pem; password in DIR/tls/store.pw
#   DIR/tls/trust.p12      the broker's trust store for client certificates (ca.pem)
#   DIR/tls/client.pem, client.key
#                          a client certificate signed by ca.pem and its key, encrypted
#                          with the password in DIR/tls/client-key.pw (mTLS listener)
# and the SCRAM-SHA-512 users, added when the log dir is formatted (KRaft keeps
# them in its metadata; StorageTool --add-scram is what kafka-configs does for a
# running cluster): "tocsin" with a random password in DIR/tls/tocsin.pw (0600),
# "admin" for the broker itself.
secure_material() {
    local dir=$1 t=$1/tls
    mkdir -p "$t"
    chmod 700 "$t"
    local pw
    pw=$(openssl rand -hex 16)
    printf '%s' "$pw" > "$t/store.pw"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tocsin test CA" \
        -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tocsin other CA" \
        -keyout "$t/other-ca.key" -out "$t/other-ca.pem" 2>/dev/null
    keytool -genkeypair -noprompt -alias broker -keyalg RSA -keysize 2048 -validity 2 \
        -dname "CN=localhost" -ext "SAN=IP:127.0.0.1,DNS:localhost" \
        -keystore "$t/broker.p12" -storetype PKCS12 -storepass "$pw" -keypass "$pw" 2>/dev/null
    keytool -certreq -alias broker -keystore "$t/broker.p12" -storepass "$pw" \
        -ext "SAN=IP:127.0.0.1,DNS:localhost" -file "$t/broker.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/san.ext"
    openssl x509 -req -in "$t/broker.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 2 -extfile "$t/san.ext" -out "$t/broker.pem" 2>/dev/null
    keytool -importcert -noprompt -alias ca -file "$t/ca.pem" -keystore "$t/broker.p12" \
        -storepass "$pw" 2>/dev/null
    keytool -importcert -noprompt -alias broker -file "$t/broker.pem" \
        -keystore "$t/broker.p12" -storepass "$pw" >/dev/null 2>&1
    (umask 077; openssl rand -hex 12 > "$t/tocsin.pw"; openssl rand -hex 12 > "$t/admin.pw")
    # mTLS: the broker's trust store (the test CA) for client certificates, and
    # a client key (encrypted, password in DIR/tls/client-key.pw, 0600) with its
    # certificate signed by the test CA
    keytool -importcert -noprompt -alias ca -file "$t/ca.pem" -keystore "$t/trust.p12" \
        -storetype PKCS12 -storepass "$pw" >/dev/null 2>&1
    (umask 077; openssl rand -hex 12 > "$t/client-key.pw"
     openssl req -newkey rsa:2048 -subj "/CN=tocsin-client" -passout "file:$t/client-key.pw" \
         -keyout "$t/client.key" -out "$t/client.csr" 2>/dev/null)
    printf 'extendedKeyUsage=clientAuth\n' > "$t/client.ext"
    openssl x509 -req -in "$t/client.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 2 -extfile "$t/client.ext" -out "$t/client.pem" 2>/dev/null
}

start() {
    local dir=$1 secure=${2:-}
    fetch
    mkdir -p "$dir/data"
    local port cport sport aport mport
    port=$(free_port); cport=$(free_port)
    while [ "$cport" = "$port" ]; do cport=$(free_port); done
    local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
    local advertised="PLAINTEXT://127.0.0.1:$port"
    local pmap="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    local extra=""
    if [ -n "$secure" ]; then
        secure_material "$dir"
        sport=$(free_port); aport=$(free_port)
        while [ "$sport" = "$port" ] || [ "$sport" = "$cport" ]; do sport=$(free_port); done
        while [ "$aport" = "$port" ] || [ "$aport" = "$cport" ] || [ "$aport" = "$sport" ]; do
            aport=$(free_port)
        done
        mport=$(free_port)
        while [ "$mport" = "$port" ] || [ "$mport" = "$cport" ] || [ "$mport" = "$sport" ] ||
              [ "$mport" = "$aport" ]; do
            mport=$(free_port)
        done
        listeners="$listeners,SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$aport,MTLS://127.0.0.1:$mport"
        advertised="$advertised,SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$aport,MTLS://127.0.0.1:$mport"
        pmap="$pmap,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL"
        local spw
        spw=$(cat "$dir/tls/store.pw")
        extra="ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/broker.p12
ssl.keystore.password=$spw
ssl.key.password=$spw
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.truststore.type=PKCS12
listener.name.mtls.ssl.truststore.location=$dir/tls/trust.p12
listener.name.mtls.ssl.truststore.password=$spw
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(cat "$dir/tls/admin.pw")\";"
    fi
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=$pmap
inter.broker.listener.name=PLAINTEXT
$extra
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
    local scram=()
    if [ -n "$secure" ]; then
        scram=(--add-scram "SCRAM-SHA-512=[name=tocsin,password=$(cat "$dir/tls/tocsin.pw")]"
               --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$dir/tls/admin.pw")]")
    fi
    java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$id" \
        -c "$dir/server.properties" "${scram[@]}" >"$dir/format.log" 2>&1 \
        || { cat "$dir/format.log" >&2; exit 1; }
    echo "127.0.0.1:$port" > "$dir/bootstrap"
    launch "$dir" "$port" "$secure" "${aport:-}"
    if [ -n "$secure" ]; then
        cat > "$dir/ssl.env" <<ENV
KAFKA_PLAINTEXT=127.0.0.1:$port
KAFKA_SSL=127.0.0.1:$sport
KAFKA_SASL_SSL=127.0.0.1:$aport
KAFKA_CA=$dir/tls/ca.pem
KAFKA_OTHER_CA=$dir/tls/other-ca.pem
KAFKA_USER=tocsin
KAFKA_PASSWORD_FILE=$dir/tls/tocsin.pw
KAFKA_MTLS=127.0.0.1:$mport
KAFKA_CLIENT_CERT=$dir/tls/client.pem
KAFKA_CLIENT_KEY=$dir/tls/client.key
KAFKA_CLIENT_KEY_PASSWORD_FILE=$dir/tls/client-key.pw
ENV
        echo "kafka: SSL on 127.0.0.1:$sport, SASL_SSL (SCRAM-SHA-512) on 127.0.0.1:$aport," \
            "SSL with client certificates required on 127.0.0.1:$mport" >&2
    fi
    echo "kafka: broker $KAFKA_VERSION up on 127.0.0.1:$port (dir $dir)" >&2
    echo "127.0.0.1:$port"
}

# The broker process on DIR's server.properties and log dir (formatted), in
# its own process group; returns when it answers on 127.0.0.1:PORT (and, for
# a secure one, with SCRAM on ASASL), or exits 1 after stopping it.
launch() {
    local dir=$1 port=$2 secure=$3 aport=$4
    local jopts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
                 "-Dlog4j.configuration=file:$dir/log4j.properties")
    # setsid: the broker gets its own process group so stop can kill all of it
    setsid java "${jopts[@]}" -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
        >>"$dir/stdout.log" 2>&1 </dev/null &
    echo $! > "$dir/pid"
    local i
    for i in $(seq 1 120); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            echo "kafka: broker exited during start-up:" >&2
            tail -n 30 "$dir/stdout.log" "$dir/broker.log" >&2 || true
            exit 1
        fi
        if kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1 &&
            { [ -z "$secure" ] ||
              kcat -b "127.0.0.1:$aport" -L -m 5 -X security.protocol=SASL_SSL \
                  -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=tocsin \
                  -X "sasl.password=$(cat "$dir/tls/tocsin.pw")" \
                  -X "ssl.ca.location=$dir/tls/ca.pem" >/dev/null 2>&1; }; then
            return 0
        fi
        sleep 0.5
    done
    echo "kafka: broker did not answer within 60 s" >&2
    stop "$dir"
    exit 1
}

# The broker of an earlier start on DIR again, stopped if it runs: same
# ports, same log dir (topics, messages, committed offsets and transactions
# kept), as a broker that was down comes back (tests of a broker outage).
restart() {
    local dir=$1
    [ -f "$dir/server.properties" ] && [ -f "$dir/bootstrap" ] ||
        { echo "kafka: no broker was started on $dir" >&2; exit 1; }
    stop "$dir"
    local bootstrap port secure="" aport=""
    bootstrap=$(cat "$dir/bootstrap")
    port=${bootstrap##*:}
    if [ -f "$dir/ssl.env" ]; then
        secure=yes
        aport=$(sed -n 's/^KAFKA_SASL_SSL=.*://p' "$dir/ssl.env")
    fi
    launch "$dir" "$port" "$secure" "$aport"
    echo "kafka: broker $KAFKA_VERSION up again on $bootstrap (dir $dir)" >&2
    echo "$bootstrap"
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
    start-secure) [ $# -eq 2 ] || { echo "usage: $0 start-secure DIR" >&2; exit 2; }
        start "$2" secure ;;
    stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
    restart) [ $# -eq 2 ] || { echo "usage: $0 restart DIR" >&2; exit 2; }; restart "$2" ;;
    *) echo "usage: $0 fetch | start DIR | start-secure DIR | stop DIR | restart DIR" >&2
       exit 2 ;;
esac
