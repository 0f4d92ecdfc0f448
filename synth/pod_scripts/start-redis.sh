#!/bin/sh
# Start Redis as master or as a replica of the current master, as the Sentinels see it.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${CONFIG_DIR:?}" "${RUNTIME_DIR:?}" "${DATA_DIR:?}"

mkdir -p "$RUNTIME_DIR"
conf="$RUNTIME_DIR/redis.conf"
master=$(find_master)
umask 077
{
  cat "$CONFIG_DIR/redis.conf"
  echo "# --- added by start-redis.sh for $SELF_HOST ---"
  echo "dir $DATA_DIR"
  if [ -n "${BIND_ADDRESS:-}" ]; then echo "bind $BIND_ADDRESS"; fi
  echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
  echo "masterauth $(conf_quote "$REDIS_PASSWORD")"
  echo "replica-announce-ip $SELF_HOST"
  if [ "$master" != "$SELF_HOST" ]; then echo "replicaof $master $REDIS_PORT"; fi
} >"$conf.tmp"
mv "$conf.tmp" "$conf"

if [ "$master" = "$SELF_HOST" ]; then
  log "starting $SELF_HOST as master"
else
  log "starting $SELF_HOST as replica of $master"
fi
exec redis-server "$conf"
