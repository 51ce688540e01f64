#!/usr/bin/env bash
# Integration tests: CLI on files, docker-compose sanity, and against a real
# Apache Kafka broker. The broker is started here on a free 127.0.0.1 port
# (tests/kafka/broker.sh) and stopped at the end, unless
# TOCSIN_KAFKA_BOOTSTRAP points at an existing broker.
set -u
cd "$(dirname "$0")/../.."
export TOCSIN=${TOCSIN:-bin/tocsin} KTOOL=${KTOOL:-build/tools/ktool}
failed=()
step() {
    local name=$1; shift
    echo "--- integration: $name"
    if "$@"; then echo "--- integration: $name: ok"; else echo "--- integration: $name: FAILED"; failed+=("$name"); fi
}

step cli tests/integration/test_cli.sh
step incidents-cli tests/integration/test_incidents_cli.sh
step workbench tests/integration/test_workbench.sh
step replay-resume python3 tests/integration/test_replay_resume.py
step replay-window tests/integration/test_replay_window.sh
step compose python3 tests/integration/test_compose.py
step stix python3 tests/integration/test_stix.py
step api python3 tests/integration/test_api.py
step console python3 tests/integration/test_console.py
step incident-link python3 tests/integration/test_incident_link.py

kdir=""
if [ -z "${TOCSIN_KAFKA_BOOTSTRAP:-}" ]; then
    kdir=$(mktemp -d /tmp/tocsin-kafka.XXXXXX)
    trap 'tests/kafka/broker.sh stop "$kdir"; rm -rf "$kdir"' EXIT
    if ! TOCSIN_KAFKA_BOOTSTRAP=$(tests/kafka/broker.sh start "$kdir"); then
        echo "--- integration: could not start the Kafka broker"; exit 1
    fi
    export TOCSIN_KAFKA_BOOTSTRAP
else
    echo "--- integration: using the broker at $TOCSIN_KAFKA_BOOTSTRAP"
fi
step kafka-ingest "$(dirname "$KTOOL")/itest_kafka"
step kafka-poison python3 tests/integration/test_poison.py
step kafka-clock python3 tests/integration/test_clock.py
step kafka-forwarders python3 tests/integration/test_forwarders.py
step kafka-delivery python3 tests/integration/test_delivery.py
step kafka-reload python3 tests/integration/test_reload.py
step kafka-topic-pattern python3 tests/integration/test_topic_pattern.py
step kafka-exactly-once python3 tests/integration/test_exactly_once.py
step kafka-lagging-restart python3 tests/integration/test_lagging_restart.py
step kafka-run-http python3 tests/integration/test_run_http.py
step kafka-hunt python3 tests/integration/test_hunt.py
step webhook python3 tests/integration/test_webhook.py
step escalation-e2e python3 tests/integration/test_escalation_e2e.py
step summary python3 tests/integration/test_summary.py
step kafka-distributed python3 tests/integration/test_distributed.py
# fault injection (issue 15): a full disk (tmpfs mounts: root), a hanging
# webhook, a wall clock that jumps; the broker outage starts its own broker
step faults-disk python3 tests/integration/test_faults.py disk
step faults-disk-stop python3 tests/integration/test_faults.py disk-stop
step faults-webhook python3 tests/integration/test_faults.py webhook
step faults-clock python3 tests/integration/test_faults.py clock
step faults-clock-outbox python3 tests/integration/test_faults.py clock-outbox
step faults-broker python3 tests/integration/test_faults.py broker
step faults-broker-dlq python3 tests/integration/test_faults.py broker-dlq
step faults-broker-tls python3 tests/integration/test_faults.py broker-tls
step faults-stop-hung-broker python3 tests/integration/test_faults.py stop-hung-broker
step kafka-handover python3 tests/integration/test_handover.py
# its own broker (stopped in its last part): status changes and retention
# through the incidents topic
step kafka-status-everywhere python3 tests/integration/test_status_everywhere.py
# its own broker (broker.sh start-secure): SSL and SASL_SSL/SCRAM, secrets
step kafka-tls-sasl python3 tests/integration/test_kafka_tls.py

if [ ${#failed[@]} -ne 0 ]; then
    echo "integration tests: FAILED: ${failed[*]}"
    exit 1
fi
echo "integration tests: all passed"
