#!/usr/bin/env bash
# kafka-configs.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.ConfigCommand "$@"
