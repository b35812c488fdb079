#!/usr/bin/env bash
# kafka-console-producer.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
