#!/usr/bin/env bash
# kafka-console-consumer.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
