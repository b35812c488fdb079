#!/usr/bin/env bash
# kafka-consumer-groups.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
