#!/usr/bin/env bash
# kafka-run-class.sh of the apache/kafka stand-in: java on /opt/kafka/libs with the same
# KAFKA_HEAP_OPTS / KAFKA_JVM_PERFORMANCE_OPTS / KAFKA_OPTS / KAFKA_LOG4J_OPTS variables.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 CLASS [ARGS...]" >&2; exit 2; }
class="$1"; shift
# shellcheck disable=SC2086 # the *_OPTS variables are word lists, as in Kafka's own script
exec java ${KAFKA_HEAP_OPTS:--Xmx256M} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.properties} \
  ${KAFKA_OPTS:-} -cp "/opt/kafka/libs/*" "${class}" "$@"
