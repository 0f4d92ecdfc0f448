#!/bin/sh
# Back up the broker from a replica, never the master: `redis-cli --rdb` asks a replica that its Sentinels
# could promote (and that says its own link is up) for an RDB snapshot, redis-check-rdb verifies the file,
# and only then it gets its timestamped name in $BACKUP_DIR; the oldest beyond $BACKUP_RETENTION go.
# Prints the new file's path on stdout. Besides lib.sh's contract (SELF_HOST is this pod's own name):
#   BACKUP_DIR        where the snapshots live (the backup PVC)
#   BACKUP_RETENTION  how many snapshots to keep
#   BACKUP_TIMEOUT_SECONDS  optional: longest one snapshot transfer may take (default 600)
#   BACKUP_WAIT_SECONDS     optional: how long to wait for a replica in sync (default 60)
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${BACKUP_DIR:?}" "${BACKUP_RETENTION:?}"

# A replica that is in sync, by its Sentinels' view and by its own INFO.
pick_replica() {
  for s in $PEER_HOSTS; do
    for r in $(sentinel_promotable "$s"); do
      if [ "$(redis_cli "$r" INFO replication 2>/dev/null | info_field master_link_status)" = up ]; then
        echo "$r"
        return 0
      fi
    done
  done
  return 1
}

# A replica restarting (a rolling update) is back in sync within seconds: wait for one, boundedly.
deadline=$(($(date +%s) + ${BACKUP_WAIT_SECONDS:-60}))
until replica=$(pick_replica); do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "no replica is in sync after ${BACKUP_WAIT_SECONDS:-60} s: refusing to take the snapshot from the master"
    exit 1
  fi
  sleep 2
done
# Every task payload is in a snapshot: readable by this user only (the upload and restore run as it too).
umask 077
mkdir -p "$BACKUP_DIR"
stamp=$(date -u "+%Y%m%dT%H%M%S%3NZ")  # milliseconds: two runs in one second keep both
partial="$BACKUP_DIR/.dump-$stamp.rdb.partial"
final="$BACKUP_DIR/dump-$stamp.rdb"
trap 'rm -f "$partial"' EXIT
log "taking a snapshot from the replica $replica"
if ! CLI_TIMEOUT=${BACKUP_TIMEOUT_SECONDS:-600} redis_cli "$replica" --rdb "$partial" >/dev/null 2>&1 ||
  [ ! -s "$partial" ]; then
  log "$CLI_BIN --rdb from $replica failed"
  exit 1
fi
if ! check=$("$CHECK_RDB_BIN" "$partial" 2>&1) || ! printf '%s' "$check" | grep -q 'RDB looks OK'; then
  log "$CHECK_RDB_BIN refused the snapshot: $(printf '%s' "$check" | tail -n 1)"
  exit 1
fi
mv "$partial" "$final"
trap - EXIT
# Retention: the newest $BACKUP_RETENTION snapshots stay (the names sort by time).
for f in "$BACKUP_DIR"/dump-*.rdb; do
  if [ -e "$f" ]; then echo "${f##*/}"; fi
done | sort -r | awk -v keep="$BACKUP_RETENTION" 'NR > keep' |
  while read -r old; do
    rm -f "$BACKUP_DIR/$old"
    log "removed $old (keeping $BACKUP_RETENTION)"
  done
log "snapshot verified: $final"
echo "$final"
