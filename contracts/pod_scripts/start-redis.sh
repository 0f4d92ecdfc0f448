#!/bin/sh
# Start Redis as master or as a replica of the member that must be master (see find_master in lib.sh).
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${CONFIG_DIR:?}" "${RUNTIME_DIR:?}" "${DATA_DIR:?}"

mkdir -p "$RUNTIME_DIR"
conf="$RUNTIME_DIR/redis.conf"
# shellcheck disable=SC2046 # two words: host and why
set -- $(find_master)
master=$1 why=$2
if [ "$master" = "$SELF_HOST" ] && [ "$why" != new ] && ! has_data; then
  # Elected by the records but this volume is empty (a replaced PVC): as master it would wipe every replica.
  # Start as a replica instead; Sentinel sees its master reporting a replica role and promotes a member
  # that holds the data.
  for h in $PEER_HOSTS; do
    if [ "$h" != "$SELF_HOST" ]; then master=$h; break; fi
  done
  log "the records name $SELF_HOST as master but its volume is empty: starting as a replica of $master"
fi
umask 077
{
  cat "$CONFIG_DIR/redis.conf"
  printf '%s\n' "# --- added by start-redis.sh for $SELF_HOST ---"
  printf '%s\n' "dir $DATA_DIR"
  tls_files
  if [ -n "${BIND_ADDRESS:-}" ]; then printf '%s\n' "bind $BIND_ADDRESS"; fi
  # printf, never echo: dash's echo interprets backslashes and would write a different password.
  printf '%s\n' "requirepass $(conf_quote "$REDIS_PASSWORD")"
  # During a rotation the default user accepts both passwords (a `user default` line replaces requirepass's).
  if [ -r "$SECRETS_DIR/redis-password.also" ]; then
    printf '%s\n' "user default on ~* &* +@all $(accepted redis-password)"
  fi
  printf '%s\n' "masterauth $(conf_quote "$REDIS_PASSWORD")"
  printf '%s\n' "replica-announce-ip $SELF_HOST"
  # ACL users (Airflow's, the exporter's): rules from $CONFIG_DIR/<role>.acl, the password from
  # $SECRETS_DIR/<role>-password (required with the rules).
  for acl in "$CONFIG_DIR"/*.acl; do
    [ -f "$acl" ] || continue
    role=$(basename "$acl" .acl)
    user_passwords=$(accepted "$role-password") || exit 1
    printf '%s %s\n' "$(cat "$acl")" "$user_passwords"
  done
  if [ "$master" != "$SELF_HOST" ]; then printf '%s\n' "replicaof $master $REDIS_PORT"; fi
} >"$conf.tmp"
mv "$conf.tmp" "$conf"

if [ "$master" = "$SELF_HOST" ]; then
  log "starting $SELF_HOST as master ($why)"
else
  log "starting $SELF_HOST as replica of $master ($why)"
fi
exec "$SERVER_BIN" "$conf"
