#!/bin/sh
# Start Sentinel monitoring the master this pod's Redis follows. The state is rebuilt on every start from
# the live cluster (the other Sentinels are rediscovered through hello messages), so a restarted pod never
# resurrects a stale master from an old file.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${CONFIG_DIR:?}" "${RUNTIME_DIR:?}"

# start-redis.sh already asked the Sentinels and the peers; follow what the local Redis chose.
while :; do
  info=$(redis_cli "$LOCAL_HOST" INFO replication 2>/dev/null) || info=""
  role=$(printf '%s\n' "$info" | info_field role)
  if [ "$role" = master ]; then
    master=$SELF_HOST
    break
  fi
  master=$(printf '%s\n' "$info" | info_field master_host)
  if [ "$role" = slave ] && is_host "$master"; then break; fi
  log "waiting for the local Redis to answer"
  sleep 1
done

mkdir -p "$RUNTIME_DIR"
conf="$RUNTIME_DIR/sentinel.conf"
umask 077
{
  sed "s/__MASTER_HOST__/$master/" "$CONFIG_DIR/sentinel.conf"
  echo "# --- added by start-sentinel.sh for $SELF_HOST ---"
  if [ -n "${BIND_ADDRESS:-}" ]; then echo "bind $BIND_ADDRESS"; fi
  echo "dir $RUNTIME_DIR"
  echo "sentinel announce-ip $SELF_HOST"
  echo "sentinel announce-port $SENTINEL_PORT"
  echo "sentinel auth-pass $MASTER_NAME $(conf_quote "$REDIS_PASSWORD")"
  echo "sentinel sentinel-pass $(conf_quote "$SENTINEL_PASSWORD")"
  echo "requirepass $(conf_quote "$SENTINEL_PASSWORD")"
} >"$conf.tmp"
mv "$conf.tmp" "$conf"

log "starting Sentinel on $SELF_HOST monitoring $MASTER_NAME at $master"
exec redis-sentinel "$conf"
