#!/bin/sh
# Probes. A Redis loading a large AOF answers LOADING: alive, but not ready to serve.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
CLI_TIMEOUT=${PROBE_TIMEOUT:-2}

case ${1:-} in
  redis-alive)
    reply=$(redis_cli "$LOCAL_HOST" PING)
    case $reply in PONG | LOADING*) exit 0 ;; esac
    ;;
  redis-ready)
    [ "$(redis_cli "$LOCAL_HOST" PING)" = PONG ] && exit 0
    ;;
  sentinel)
    [ "$(sentinel_cli "$LOCAL_HOST" PING)" = PONG ] && exit 0
    ;;
  *)
    echo "usage: probe.sh redis-alive|redis-ready|sentinel" >&2
    exit 2
    ;;
esac
exit 1
