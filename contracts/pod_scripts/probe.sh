#!/bin/sh
# Probes. A Redis loading a large AOF answers LOADING: alive, but not ready to serve.
# Ready means serving the master's data: the master, or a replica whose link is up with no sync running
# (a replica in full resync answers PING long before it holds the data, and a rolling update that moved on
# then would leave the cluster one good replica short). A Sentinel is ready when it knows every replica and
# every other Sentinel (one restarted with no saved state knows none for a while).
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
CLI_TIMEOUT=${PROBE_TIMEOUT:-2}
pods=$(printf '%s' "$PEER_HOSTS" | wc -w)

case ${1:-} in
  redis-alive)
    reply=$(redis_cli "$LOCAL_HOST" PING)
    case $reply in PONG | LOADING*) exit 0 ;; esac
    ;;
  redis-ready)
    [ "$(redis_cli "$LOCAL_HOST" PING)" = PONG ] || exit 1
    info=$(redis_cli "$LOCAL_HOST" INFO replication | tr -d '\r')
    case $(printf '%s\n' "$info" | info_field role) in
      master) exit 0 ;;
      slave)
        [ "$(printf '%s\n' "$info" | info_field master_link_status)" = up ] &&
          [ "$(printf '%s\n' "$info" | info_field master_sync_in_progress)" = 0 ] && exit 0
        ;;
    esac
    ;;
  sentinel)
    [ "$(sentinel_cli "$LOCAL_HOST" PING)" = PONG ] && exit 0
    ;;
  sentinel-ready)
    # shellcheck disable=SC2046 # two numbers
    set -- $(sentinel_master "$LOCAL_HOST" num-slaves num-other-sentinels)
    [ "${1:-0}" -ge "$((pods - 1))" ] && [ "${2:-0}" -ge "$((pods - 1))" ] && exit 0
    ;;
  *)
    echo "usage: probe.sh redis-alive|redis-ready|sentinel|sentinel-ready" >&2
    exit 2
    ;;
esac
exit 1
