#!/usr/bin/env bash
# kafka-topics.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
