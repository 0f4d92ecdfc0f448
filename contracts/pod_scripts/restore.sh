#!/bin/sh
# Bring the whole cluster back to exactly one snapshot, through replication (no file surgery, no scaling, so
# Argo CD's self-heal has nothing to revert and Redis's AOF cannot override the snapshot):
#  1. serve the snapshot from a temporary redis-server in this pod (verified with redis-check-rdb first);
#  2. take the master away from the Sentinels (SENTINEL REMOVE on every one: none may fail over meanwhile);
#  3. make every Redis a replica of the temporary server: each loads the snapshot by a full sync and rewrites
#     its AOF from it;
#  4. promote the first pod, point the others at it, and give the master back to every Sentinel with the
#     rendered settings and the password; wait until every Sentinel sees every replica and Sentinel;
#  5. record the restore id next to the snapshot: the same restore never runs twice.
# A restore that fails before any Redis follows the temporary server gives the master back to the Sentinels it
# took it from (nothing else changed); once the pods load the snapshot there is no way back, only forward: the
# Job's retry, or running it again, finishes it.
# Writes that reach the old master during the restore are lost: stop Airflow's schedulers and workers first.
# Besides lib.sh's contract (SELF_HOST: this pod's address, which the Redis pods replicate from):
#   CONFIG_DIR        the rendered sentinel.conf (the Sentinel settings to restore)
#   RESTORE_SNAPSHOT  the snapshot file
#   RESTORE_ID        this restore's name; a marker restored-<id> beside the snapshot makes it run once
#   RESTORE_DIR       a writable folder for the temporary server
#   RESTORE_SYNC_SECONDS  optional: longest each step may wait for the pods to sync (default 600)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${CONFIG_DIR:?}" "${RESTORE_SNAPSHOT:?}" "${RESTORE_ID:?}" "${RESTORE_DIR:?}"

marker="$(dirname "$RESTORE_SNAPSHOT")/restored-$RESTORE_ID"
if [ -f "$marker" ]; then
  log "restore $RESTORE_ID already ran ($(cat "$marker")): nothing to do"
  exit 0
fi
if [ ! -f "$RESTORE_SNAPSHOT" ]; then
  log "no snapshot at $RESTORE_SNAPSHOT"
  exit 1
fi
if ! "$CHECK_RDB_BIN" "$RESTORE_SNAPSHOT" 2>&1 | grep -q 'RDB looks OK'; then
  log "$CHECK_RDB_BIN refuses $RESTORE_SNAPSHOT: not restoring it"
  exit 1
fi
for h in $PEER_HOSTS; do
  if [ "$(sentinel_cli "$h" PING 2>/dev/null)" != PONG ] || [ "$(redis_cli "$h" PING 2>/dev/null)" != PONG ]; then
    log "$h does not answer: a restore needs every Redis and every Sentinel"
    exit 1
  fi
done

# The Sentinel settings, as rendered.
setting() {
  awk -v m="$MASTER_NAME" -v k="$1" '$1 == "sentinel" && $2 == k && $3 == m { print $NF }' "$CONFIG_DIR/sentinel.conf"
}
quorum=$(awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $6 }' "$CONFIG_DIR/sentinel.conf")

# 1. The temporary server: the snapshot, the cluster's password, no persistence of its own.
mkdir -p "$RESTORE_DIR"
umask 077
cp "$RESTORE_SNAPSHOT" "$RESTORE_DIR/snapshot.rdb"
{
  # The pods replicate from it as they do from each other: over TLS when the cluster uses it.
  if [ -n "${TLS_DIR:-}" ]; then printf '%s\n' "port 0" "tls-port $REDIS_PORT" "tls-auth-clients no"; else
    printf '%s\n' "port $REDIS_PORT"; fi
  tls_files
  printf '%s\n' "bind $SELF_HOST" "dir $RESTORE_DIR" "dbfilename snapshot.rdb"
  printf '%s\n' "appendonly no" 'save ""' "protected-mode yes" "repl-diskless-sync yes" "repl-diskless-sync-delay 0"
  # Gone at once when stopped: a master waiting for its replicas (shutdown-timeout) would still hold the
  # address when this restore runs again.
  printf '%s\n' "shutdown-on-sigterm nosave now"
  printf '%s\n' "requirepass $(conf_quote "$REDIS_PASSWORD")"
} >"$RESTORE_DIR/restore.conf"
"$SERVER_BIN" "$RESTORE_DIR/restore.conf" >"$RESTORE_DIR/restore-server.log" 2>&1 &
server=$!
stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop_server EXIT
# Ours answers, not another server on the address.
until [ "$(redis_cli "$SELF_HOST" INFO server 2>/dev/null | info_field process_id)" = "$server" ]; do
  if ! kill -0 "$server" 2>/dev/null; then
    log "the temporary server did not start: $(tail -n 2 "$RESTORE_DIR/restore-server.log" | tr '\n' ' ')"
    exit 1
  fi
  sleep 0.2
done
keys=$(redis_cli "$SELF_HOST" DBSIZE)
log "serving $RESTORE_SNAPSHOT ($keys keys) from $SELF_HOST:$REDIS_PORT"

# ok WHAT REPLY: stop unless REPLY is OK (redis-cli exits 0 on an error reply: its text decides).
ok() {
  case $2 in OK*) ;; *) log "$1: ${2:-no answer}"; exit 1 ;; esac
}

# watch MASTER HOST...: each HOST's Sentinel watches MASTER with the rendered settings and the password.
watch() {
  _m=$1
  shift
  for _h in "$@"; do
    ok "SENTINEL MONITOR on $_h" "$(sentinel_cli "$_h" SENTINEL MONITOR "$MASTER_NAME" "$_m" "$REDIS_PORT" "$quorum")"
    for _k in down-after-milliseconds failover-timeout parallel-syncs auth-user; do
      ok "SENTINEL SET $_k on $_h" "$(sentinel_cli "$_h" SENTINEL SET "$MASTER_NAME" "$_k" "$(setting "$_k")")"
    done
    # The Sentinels' own Redis user's password is the Sentinel password: on stdin (-x), never on a command line.
    ok "SENTINEL SET auth-pass on $_h" \
      "$(printf '%s' "$SENTINEL_PASSWORD" | sentinel_cli "$_h" -x SENTINEL SET "$MASTER_NAME" auth-pass)"
  done
}

# 2. No Sentinel may fail over while the data moves. Until a Redis follows the temporary server, a failure
# gives the master back to the Sentinels that let it go.
old_master=$(newest_record)
old_master=${old_master#* }
removed=""
give_back() {
  _rc=$?
  if [ "$_rc" -ne 0 ] && [ -n "$removed" ] && [ -n "$old_master" ]; then
    trap - EXIT
    # shellcheck disable=SC2086 # the hosts, one word each
    if (watch "$old_master" $removed); then
      log "restore failed before touching any data: the Sentinels on$removed watch $old_master again"
    else
      log "restore failed, and giving $old_master back to the Sentinels on$removed failed too: run it again"
    fi
  fi
  stop_server
  exit "$_rc"
}
trap give_back EXIT
for h in $PEER_HOSTS; do
  reply=$(sentinel_cli "$h" SENTINEL REMOVE "$MASTER_NAME" 2>&1) || true
  case $reply in
    OK) removed="$removed $h" ;;
    *"No such master"*) ;;
    *) log "SENTINEL REMOVE on $h: $reply"; exit 1 ;;
  esac
done
log "the Sentinels no longer watch $MASTER_NAME"

# in_sync HOST MASTER: HOST replicates MASTER, linked, not syncing, not loading.
in_sync() {
  _i=$(redis_cli "$1" INFO 2>/dev/null | tr -d '\r')
  [ "$(printf '%s\n' "$_i" | sed -n 's/^master_host://p')" = "$2" ] &&
    [ "$(printf '%s\n' "$_i" | sed -n 's/^master_link_status://p')" = up ] &&
    [ "$(printf '%s\n' "$_i" | sed -n 's/^master_sync_in_progress://p')" = 0 ] &&
    [ "$(printf '%s\n' "$_i" | sed -n 's/^loading://p')" = 0 ]
}

# wait_in_sync MASTER HOST...: every HOST in sync with MASTER, within RESTORE_SYNC_SECONDS.
wait_in_sync() {
  _master=$1
  shift
  _deadline=$(($(date +%s) + ${RESTORE_SYNC_SECONDS:-600}))
  for _h in "$@"; do
    until in_sync "$_h" "$_master"; do
      if [ "$(date +%s)" -ge "$_deadline" ]; then
        log "$_h did not sync from $_master in time"
        exit 1
      fi
      sleep 0.5
    done
  done
}

# 3. Every Redis loads the snapshot from the temporary server.
for h in $PEER_HOSTS; do
  # "OK Already connected to specified master" after a cut-short run: its link comes back to this server,
  # whose new replication id forces the full sync.
  reply=$(redis_cli "$h" REPLICAOF "$SELF_HOST" "$REDIS_PORT")
  case $reply in OK*) removed="" ;; *) log "REPLICAOF on $h: $reply"; exit 1 ;; esac
done
# shellcheck disable=SC2086 # the hosts, one word each
wait_in_sync "$SELF_HOST" $PEER_HOSTS
log "every Redis holds the snapshot"

# 4. The first pod is master again; the others follow it; the Sentinels watch it with the rendered settings.
new=${PEER_HOSTS%% *}
ok "REPLICAOF NO ONE on $new" "$(redis_cli "$new" REPLICAOF NO ONE)"
others=""
for h in $PEER_HOSTS; do
  if [ "$h" != "$new" ]; then
    ok "REPLICAOF $new on $h" "$(redis_cli "$h" REPLICAOF "$new" "$REDIS_PORT")"
    others="$others $h"
  fi
done
# shellcheck disable=SC2086
wait_in_sync "$new" $others
stop_server
# Each pod rewrites its AOF from the loaded snapshot in the background: until that is on disk, a crash would
# bring the old data back from the old AOF.
deadline=$(($(date +%s) + ${RESTORE_SYNC_SECONDS:-600}))
for h in $PEER_HOSTS; do
  until info=$(redis_cli "$h" INFO persistence 2>/dev/null | tr -d '\r') &&
    [ "$(printf '%s\n' "$info" | sed -n 's/^aof_rewrite_in_progress://p')" = 0 ] &&
    [ "$(printf '%s\n' "$info" | sed -n 's/^aof_rewrite_scheduled://p')" = 0 ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$h did not finish rewriting its AOF in time"
      exit 1
    fi
    sleep 0.5
  done
done
# shellcheck disable=SC2086
watch "$new" $PEER_HOSTS
n=$(echo "$PEER_HOSTS" | wc -w)
deadline=$(($(date +%s) + ${RESTORE_SYNC_SECONDS:-600}))
for h in $PEER_HOSTS; do
  # shellcheck disable=SC2046 # three words
  until set -- $(sentinel_master "$h" ip num-slaves num-other-sentinels) && [ "${1:-}" = "$new" ] &&
    [ "${2:-0}" -eq $((n - 1)) ] && [ "${3:-0}" -eq $((n - 1)) ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "the Sentinel on $h does not see the whole cluster yet ($*)"
      exit 1
    fi
    sleep 0.5
  done
done

# 5. Once only.
printf '%s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ') $RESTORE_SNAPSHOT ($keys keys), master $new" >"$marker"
log "restored $RESTORE_SNAPSHOT ($keys keys) on every pod; master $new"
