#!/usr/bin/env bash
# kafka-server-start.sh of the apache/kafka stand-in (a 1 GB heap unless KAFKA_HEAP_OPTS says).
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
