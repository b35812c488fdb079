#!/usr/bin/env bash
# kafka-storage.sh of the apache/kafka stand-in.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
