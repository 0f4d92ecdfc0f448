#!/bin/sh
# Start Sentinel monitoring the master this pod's Redis follows, with the state it saved on the pod's volume.
# Sentinel rewrites its config file on every failover; kept in $DATA_DIR/sentinel, it carries the epochs, its
# id and every replica and Sentinel it knew across restarts. A Sentinel restarted with only `sentinel monitor`
# knows no replica: with the master down it wins the election, aborts (-failover-abort-no-good-slave) and is
# then blocked for 2 x failover-timeout. The saved epochs also let a full restart elect the last master.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${CONFIG_DIR:?}" "${DATA_DIR:?}"
: "${REDIS_USER:?the Redis user of the Sentinels (the Sentinel container sets it)}"

# start-redis.sh already chose whom to follow; so does Sentinel (a stale saved master would fight it).
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

mkdir -p "$SENTINEL_STATE_DIR"
conf=$SENTINEL_STATE
umask 077
{
  # The master's name reaches awk through the environment, never as program text (no injection by a crafted name).
  MASTER_HOST=$master awk '{ gsub(/__MASTER_HOST__/, ENVIRON["MASTER_HOST"]); print }' "$CONFIG_DIR/sentinel.conf"
  printf '%s\n' "# --- added by start-sentinel.sh for $SELF_HOST ---"
  if [ -n "${BIND_ADDRESS:-}" ]; then printf '%s\n' "bind $BIND_ADDRESS"; fi
  printf '%s\n' "dir $SENTINEL_STATE_DIR"
  tls_files
  printf '%s\n' "sentinel announce-ip $SELF_HOST"
  printf '%s\n' "sentinel announce-port $SENTINEL_PORT"
  # Sentinel reaches Redis as its own user (sentinel.conf's auth-user; sentinel.acl: monitor, announce, fail over,
  # no key), whose password is the Sentinel password: never as Redis's admin.
  printf '%s\n' "sentinel auth-pass $MASTER_NAME $(conf_quote "$SENTINEL_PASSWORD")"
  printf '%s\n' "sentinel sentinel-pass $(conf_quote "$SENTINEL_PASSWORD")"
  printf '%s\n' "requirepass $(conf_quote "$SENTINEL_PASSWORD")"
  if [ -r "$SECRETS_DIR/sentinel-password.also" ]; then
    printf '%s\n' "user default on ~* &* +@all $(accepted sentinel-password)"
  fi
  # Clients' users (discovery only): rules from $CONFIG_DIR/<role>.sentinel-acl, the password of the client's Redis
  # user from $SECRETS_DIR/<role>-password. The default user (the password above) stays with the broker's pods.
  for acl in "$CONFIG_DIR"/*.sentinel-acl; do
    [ -f "$acl" ] || continue
    role=$(basename "$acl" .sentinel-acl)
    user_passwords=$(accepted "$role-password") || exit 1
    printf '%s %s\n' "$(cat "$acl")" "$user_passwords"
  done
  if [ -f "$conf" ]; then
    # What Sentinel learned, from its last rewrite: never the master itself as a replica, never ourselves, and
    # only the broker's own pods (PEER_HOSTS): a peer announced by a forged hello does not survive a restart.
    # The saved config epoch belongs to the saved master: given to another one (the local Redis not yet moved
    # after a failover), it would tie with the peers' record of the real master, and a tie never settles.
    # Without it (epoch 0) the peers' hellos correct this Sentinel.
    saved=$(record_in "$conf")
    awk -v m="$MASTER_NAME" -v master="$master" -v self="$SELF_HOST" -v peers=" $PEER_HOSTS " \
      -v same="$([ "${saved#* }" = "$master" ] && echo 1)" '
      function ours(h) { return index(peers, " " h " ") > 0 }
      $1 != "sentinel" { next }
      $2 == "myid" || $2 == "current-epoch" { print; next }
      $2 == "config-epoch" && $3 == m && same { print; next }
      $2 == "leader-epoch" && $3 == m { print; next }
      $2 == "known-replica" && $3 == m && $4 != master && ours($4) { print; next }
      $2 == "known-sentinel" && $3 == m && $4 != self && ours($4) { print }' "$conf"
  fi
} >"$conf.tmp"
mv "$conf.tmp" "$conf"

log "starting Sentinel on $SELF_HOST monitoring $MASTER_NAME at $master"
exec "$SERVER_BIN" "$conf" --sentinel
