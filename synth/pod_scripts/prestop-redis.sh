#!/bin/sh
# Hand mastership over before this Redis stops, without losing acknowledged writes.
# A bare SENTINEL FAILOVER is not enough: the old master keeps accepting writes that vanish when it is
# demoted (measured: 800+ lost writes). So: pause writes, wait for a replica to hold every write,
# fail over, demote ourselves at once, unpause (measured: ~1.1 s of errors, nothing lost).
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
timeout_s=${HANDOVER_TIMEOUT_SECONDS:-30}

info=$(redis_cli "$LOCAL_HOST" INFO replication) || { log "Redis not answering: nothing to hand over"; exit 0; }
if [ "$(printf '%s\n' "$info" | info_field role)" != master ]; then
  log "replica: nothing to hand over"
  exit 0
fi
if [ "$(printf '%s\n' "$info" | info_field connected_slaves)" = 0 ]; then
  log "master without a connected replica: cannot hand over"
  exit 0
fi

deadline=$(($(date +%s) + timeout_s))
past_deadline() {
  [ "$(date +%s)" -ge "$deadline" ]
}

# A paused master still sends its replicas a PING every repl-ping-replica-period; one sent after the replica
# caught up makes the old master 14 bytes ahead of the new one: partial resync refused, full resync after
# repl-diskless-sync-delay (measured: 5-7 s until the failover completes). Hold the PINGs back meanwhile.
ping_period=$(redis_cli "$LOCAL_HOST" CONFIG GET repl-ping-replica-period | sed -n 2p)
redis_cli "$LOCAL_HOST" CONFIG SET repl-ping-replica-period 3600 >/dev/null
redis_cli "$LOCAL_HOST" CLIENT PAUSE "$((timeout_s * 1000))" WRITE >/dev/null
trap 'redis_cli "$LOCAL_HOST" CLIENT UNPAUSE >/dev/null 2>&1 || true
redis_cli "$LOCAL_HOST" CONFIG SET repl-ping-replica-period "${ping_period:-10}" >/dev/null 2>&1 || true' EXIT
log "writes paused; waiting for a replica to catch up"

while :; do
  info=$(redis_cli "$LOCAL_HOST" INFO replication | tr -d '\r')
  offset=$(printf '%s\n' "$info" | info_field master_repl_offset)
  if printf '%s\n' "$info" | grep -E '^slave[0-9]+:' | grep -q "state=online,offset=$offset,"; then break; fi
  if past_deadline; then
    log "no replica caught up within ${timeout_s}s: giving up the hand-over"
    exit 1
  fi
  sleep 0.05
done

# Ask a peer's Sentinel, not our own: the kubelet stops this pod's Sentinel container at the same time
# as this hook starts, and a leader that dies mid-failover never tells the others the new master.
leader=""
for h in $PEER_HOSTS; do
  if [ "$h" != "$SELF_HOST" ] && [ "$(sentinel_cli "$h" PING 2>/dev/null)" = PONG ]; then
    leader=$h
    break
  fi
done
if [ -z "$leader" ]; then
  log "no peer Sentinel answers: cannot hand over"
  exit 1
fi
log "replica caught up at offset $offset; asking the Sentinel on $leader to fail over"
sentinel_cli "$leader" SENTINEL FAILOVER "$MASTER_NAME" >/dev/null
while :; do
  new=$(sentinel_cli "$leader" SENTINEL get-master-addr-by-name "$MASTER_NAME" | head -n 1) || new=""
  if is_host "$new" && [ "$new" != "$SELF_HOST" ]; then break; fi
  if past_deadline; then
    log "Sentinel named no new master within ${timeout_s}s"
    exit 1
  fi
  sleep 0.1
done

# Demote ourselves at once (Sentinel would only notice on its next INFO, ~10 s later), then let writes go:
# clients now get READONLY here and ask the Sentinels, which name the new master.
redis_cli "$LOCAL_HOST" REPLICAOF "$new" "$REDIS_PORT" >/dev/null
redis_cli "$LOCAL_HOST" CLIENT UNPAUSE >/dev/null
log "handed over to $new; now its replica"

# Stay until every other Sentinel gives clients the new master (failover finished), so none is sent back here.
while ! past_deadline; do
  agreed=yes
  for h in $PEER_HOSTS; do
    [ "$h" = "$SELF_HOST" ] && continue
    [ "$(sentinel_cli "$h" PING 2>/dev/null)" = PONG ] || continue
    [ "$(master_seen_by "$h")" = "$new" ] || agreed=no
  done
  [ "$agreed" = yes ] && break
  sleep 0.1
done
log "Sentinels agree on $new"
