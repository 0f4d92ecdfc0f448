#!/bin/sh
# Hand mastership over before this Redis stops, without losing acknowledged writes. The only implementation:
# the smoke Job's failover check runs this same script against the live master.
# A bare SENTINEL FAILOVER is not enough: the old master keeps accepting writes that vanish when it is
# demoted (measured: 800+ lost writes). So: pause writes, wait until every replica Sentinel may promote holds
# every write (or make it ineligible), fail over, demote ourselves at once, unpause. Every reply is checked;
# every way out unpauses and restores what was changed.
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${HANDOVER_TIMEOUT_SECONDS:?}"
timeout_s=$HANDOVER_TIMEOUT_SECONDS
deadline=$(($(date +%s) + timeout_s))
past_deadline() {
  [ "$(date +%s)" -ge "$deadline" ]
}

# expect_ok WHAT REPLY: a reply other than OK is a refusal (redis-cli exits 0 on error replies).
expect_ok() {
  case $2 in
    OK*) return 0 ;;
    *) log "$1 refused: ${2:-no reply}"; return 1 ;;
  esac
}

replication() {
  redis_cli "$LOCAL_HOST" INFO replication | tr -d '\r'
}

# replica_lines: "host state offset" per replica linked to us (INFO's slaveN lines).
replica_lines() {
  sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=[0-9]*,state=\([^,]*\),offset=\([0-9]*\),.*/\1 \2 \3/p'
}

# a_peer_follows_us: some peer Redis says it replicates from us (restarted, not linked yet or syncing).
a_peer_follows_us() {
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    _i=$(redis_cli "$_h" INFO replication 2>/dev/null | tr -d '\r') || continue
    if [ "$(printf '%s\n' "$_i" | info_field role)" = slave ] &&
      [ "$(printf '%s\n' "$_i" | info_field master_host)" = "$SELF_HOST" ]; then
      return 0
    fi
  done
  return 1
}

info=$(replication) || { log "Redis not answering: nothing to hand over"; exit 0; }
if [ "$(printf '%s\n' "$info" | info_field role)" != master ]; then
  log "replica: nothing to hand over"
  exit 0
fi

# 1. A replica online to hand over to. One still syncing is waited for; with none left (a full stop) stop now.
while ! printf '%s\n' "$info" | replica_lines | grep -q ' online '; do
  if [ -z "$(printf '%s\n' "$info" | replica_lines)" ] && ! a_peer_follows_us; then
    log "no replica left (the whole cluster is stopping?): nothing to hand over to"
    exit 0
  fi
  if past_deadline; then
    log "no replica finished syncing within ${timeout_s}s: cannot hand over"
    exit 1
  fi
  sleep 0.2
  info=$(replication)
done

# ordinal HOST: HOST's place among the pods (PEER_HOSTS lists them by ordinal), or nothing.
ordinal() {
  _i=0
  for _h in $PEER_HOSTS; do
    if [ "$_h" = "$1" ]; then echo "$_i"; return 0; fi
    _i=$((_i + 1))
  done
}

# not_preferred REPLICA...: the replicas a hand-over should pass over. A rolling update replaces pods from the
# highest ordinal down, so the replicas above this pod run the new template already and those below are next:
# prefer the ones above; with none, the lowest (replaced last). Otherwise a roll with the master on the highest
# ordinal may hand over to each pod in turn (3 hand-overs instead of 2). Outside a roll it costs nothing.
not_preferred() {
  _me=$(ordinal "$SELF_HOST")
  _above="" _lowest="" _lo=""
  for _h in "$@"; do
    _o=$(ordinal "$_h")
    [ -n "$_o" ] || continue
    if [ "$_o" -gt "${_me:-0}" ]; then _above="$_above $_h"; fi
    if [ -z "$_lo" ] || [ "$_o" -lt "$_lo" ]; then _lo=$_o _lowest=$_h; fi
  done
  _keep=${_above:-$_lowest}
  for _h in "$@"; do
    case " $_keep " in *" $_h "*) ;; *) echo "$_h" ;; esac
  done
}

# unreadable REPLICA...: the replicas whose RDB format another of them cannot read (during a move to a newer
# engine or version, a replaced pod's server writes a newer one). As master, such a replica would leave the older
# ones unable to full-sync (Redis 7.0 refuses Valkey 8's RDB 11): they are passed over while an older one runs.
# Nothing when a format is not known (no table, an engine not in it): the ordinal rule alone decides.
unreadable() {
  _formats=""
  for _h in "$@"; do
    _f=$(rdb_format "$_h")
    [ -n "$_f" ] || return 0
    _formats="$_formats $_h=$_f"
  done
  for _p in $_formats; do
    for _q in $_formats; do
      if [ "${_p#*=}" -gt "${_q#*=}" ]; then echo "${_p%=*}"; break; fi
    done
  done
}

ping_period=$(redis_cli "$LOCAL_HOST" CONFIG GET repl-ping-replica-period | sed -n 2p)
demoted="" restore_priorities="" prefer=yes passed_over=""
# unpause: writes flow again (the replicas made ineligible stay so, until restore).
unpause() {
  _r=$(redis_cli "$LOCAL_HOST" CLIENT UNPAUSE 2>&1) || true
  expect_ok "CLIENT UNPAUSE" "$_r" || true
  _r=$(redis_cli "$LOCAL_HOST" CONFIG SET repl-ping-replica-period "${ping_period:-10}" 2>&1) || true
  expect_ok "restoring repl-ping-replica-period" "$_r" || true
}
restore() {
  for _p in $restore_priorities; do  # host=priority
    _r=$(redis_cli "${_p%=*}" CONFIG SET replica-priority "${_p#*=}" 2>&1) || true
    expect_ok "restoring replica-priority on ${_p%=*}" "$_r" || true
  done
  restore_priorities=""
  unpause
}
now_ms() {
  date +%s%3N
}
# quicken_info SENTINEL / slow_info: that Sentinel's INFO period at 1 s while a hand-over waits for it to see a
# priority or a role, then as it was (SENTINEL DEBUG, Redis 7.0+; without it the wait is just longer). Several
# Sentinels may be quickened at once: slow_info gives each its own period back.
quickened=""  # host=period ...
quicken_info() {
  case " $quickened " in *" $1="*) return 0 ;; esac
  _period=$(sentinel_cli "$1" SENTINEL DEBUG 2>/dev/null | tr -d '\r' |
    awk 'prev == "INFO-PERIOD" { print; exit } { prev = toupper($0) }') || _period=""
  case $_period in '' | *[!0-9]*) return 0 ;; esac
  if [ "$(sentinel_cli "$1" SENTINEL DEBUG info-period 1000 2>/dev/null)" = OK ]; then
    quickened="$quickened $1=$_period"
  fi
}
slow_info() {
  for _q in $quickened; do
    _r=$(sentinel_cli "${_q%=*}" SENTINEL DEBUG info-period "${_q##*=}" 2>&1) || true
    expect_ok "restoring the INFO period of the Sentinel on ${_q%=*}" "$_r" || true
  done
  quickened=""
}
# stale_views REPLICA...: "<sentinel> <replica>" for each peer Sentinel whose last INFO of a replica still says
# master (one demoted less than an INFO period ago, 10 s). Such a Sentinel turns a freshly promoted replica back
# into a replica of the old master (+convert-to-slave) if its next INFO lands before the failover's new epoch
# reaches it (seen: the promotion undone 0.1 s later, and writes paused until the hand-over's deadline).
stale_views() {
  for _s in $PEER_HOSTS; do
    [ "$_s" = "$SELF_HOST" ] && continue
    for _r in "$@"; do
      [ "$(sentinel_replica_field "$_s" "$_r" role-reported)" = master ] && echo "$_s $_r"
    done
  done
}
on_exit() {
  slow_info
  restore
  [ -n "$demoted" ] || { log "hand-over abandoned: $SELF_HOST is still master, writes resumed"
    event writes-resumed why=abandoned; }
}

# Steps 2-5 run again when Sentinel refuses for want of a replica it may promote (its view of a replica that
# restarted lags by up to 15 s): writes flow meanwhile.
while :; do
  # 2. A peer's Sentinel, not our own (the kubelet stops it with this pod), that holds us as master, is not
  #    mid-failover, knows every replica (one restarted a moment ago may know none and would leave them
  #    behind the demoted master) and sees one it may promote. Prefer the one that knows most; wait a little
  #    for one that knows all.
  #    And one whose epochs are current: a Sentinel restarted from a state saved before a failover it missed
  #    would run this failover at an epoch the others already hold, and they would ignore its result (seen:
  #    the Sentinels named two masters for minutes). Its peers' hellos bring it up to date within seconds.
  info=$(replication)
  replicas=$(printf '%s\n' "$info" | replica_lines | wc -l)
  leader="" known=-1 busy="" unfit="" stale=""
  while :; do
    # One SENTINEL MASTER per Sentinel (ours too): its view, and the newest config epoch any of them holds.
    views="" newest=0
    for h in $PEER_HOSTS; do
      view=$(sentinel_master "$h" ip flags num-slaves config-epoch) || view=""
      # shellcheck disable=SC2086 # four words: ip, flags, num-slaves, config-epoch
      set -- $view
      if [ "$#" -ne 4 ]; then continue; fi
      case $4 in *[!0-9]*) continue ;; esac
      [ "$4" -le "$newest" ] || newest=$4
      [ "$h" = "$SELF_HOST" ] || views="$views $h $view"
    done
    # shellcheck disable=SC2086 # five words per peer: host, ip, flags, num-slaves, config-epoch
    set -- $views
    while [ "$#" -ge 5 ]; do
      h=$1 ip=$2 flags=$3 slaves=$4 epoch=$5
      shift 5
      [ "$ip" = "$SELF_HOST" ] || continue
      case $flags in
        *failover_in_progress*) busy=$h; continue ;;  # a failover is already under way: let it finish
        *o_down* | *s_down*) continue ;;
      esac
      if [ "$epoch" -lt "$newest" ]; then stale=$h; continue; fi
      if [ -z "$(sentinel_promotable "$h")" ]; then unfit=$h; continue; fi
      if [ "$slaves" -gt "$known" ]; then leader=$h known=$slaves; fi
    done
    if [ -z "$busy" ] && [ -n "$leader" ] && [ "$known" -ge "$replicas" ]; then break; fi
    if [ -z "$busy" ] && [ -n "$leader" ] && [ "$(($(date +%s) + timeout_s / 2))" -ge "$deadline" ]; then
      log "the Sentinel on $leader knows $known of $replicas replicas; going ahead with it"
      break
    fi
    if [ "$(replication | info_field role)" != master ]; then
      log "no longer master (the failover ${busy:+run by the Sentinel on $busy }moved it): nothing to hand over"
      exit 0
    fi
    if past_deadline; then
      if [ -n "$unfit" ] && [ -z "$busy" ]; then
        log "the Sentinel on $unfit sees no replica it may promote (down, just restarted, or replica-priority 0): cannot hand over"
      elif [ -n "$stale" ] && [ -z "$busy" ]; then
        log "the Sentinel on $stale still holds an older epoch than $newest (restarted from old state): cannot hand over"
      else
        log "no peer Sentinel holds $SELF_HOST as master${busy:+ (a failover is under way on $busy)}: cannot hand over"
      fi
      exit 1
    fi
    sleep 0.2
    leader="" known=-1 busy="" unfit="" stale=""
  done

  # 2b. Steer the hand-over (not_preferred): the replicas to pass over get replica-priority 0 (given back at the
  #     end), and Sentinel, which chooses from the INFO it cached (refreshed every 10 s), must see that before
  #     the pause: wait with writes flowing. Should that take too long, any replica will do.
  trap on_exit EXIT
  trap 'exit 1' INT TERM
  passed_over=""
  if [ "$prefer" = yes ]; then
    online=$(printf '%s\n' "$info" | replica_lines | awk '$2 == "online" { print $1 }')
    # shellcheck disable=SC2086 # one word per host
    newer=$(unreadable $online | tr '\n' ' ')
    readable=""
    for h in $online; do
      case " $newer " in *" $h "*) ;; *) readable="$readable $h" ;; esac
    done
    # shellcheck disable=SC2046,SC2086,SC2116 # one word per host; echo joins them with single spaces
    passed_over=$(echo $newer $(not_preferred $readable))
    [ -z "${newer% }" ] || log "passing over ${newer% } (a newer RDB format than another replica reads)"
    for h in $passed_over; do
      prio=$(CLI_TIMEOUT=1 redis_cli "$h" CONFIG GET replica-priority 2>/dev/null | sed -n 2p) || prio=""
      [ "$prio" = 0 ] && continue
      if ! expect_ok "passing over replica $h" "$(CLI_TIMEOUT=1 redis_cli "$h" CONFIG SET replica-priority 0 2>&1)"; then
        prefer=no  # it does not answer: the steps below judge it as any replica
        break
      fi
      restore_priorities="$restore_priorities $h=${prio:-100}"
    done
    # The Sentinel refreshes a replica's INFO every info-period (10 s): 1 s while we wait, as it was after.
    [ "$prefer" = yes ] && [ -n "$passed_over" ] && quicken_info "$leader"
    for h in $passed_over; do
      [ "$prefer" = yes ] || break
      until [ "$(sentinel_replica_field "$leader" "$h" slave-priority)" = 0 ]; do
        if [ "$(($(date +%s) + timeout_s / 2))" -ge "$deadline" ]; then
          log "the Sentinel on $leader has not seen $h passed over in time: any replica will do"
          prefer=no
          break 2
        fi
        sleep 0.2
      done
    done
    slow_info
    if [ "$prefer" = no ]; then
      restore
      passed_over=""
    elif [ -n "$passed_over" ]; then
      log "handing over past $(printf '%s ' "$passed_over" | tr '\n' ' ')(rolled later, or not at all)"
    fi
  fi

  # 2c. Every Sentinel sees each replica the failover may promote as a replica (stale_views): wait for their next
  #     INFO (quickened), writes flowing; past half the time allowed, go ahead as before.
  candidates=""
  for h in $(printf '%s\n' "$info" | replica_lines | awk '{ print $1 }'); do
    case " $passed_over " in *" $h "*) ;; *) candidates="$candidates $h" ;; esac
  done
  # shellcheck disable=SC2086 # one word per host
  while stale=$(stale_views $candidates) && [ -n "$stale" ]; do
    if [ "$(($(date +%s) + timeout_s / 2))" -ge "$deadline" ]; then
      log "a Sentinel still sees a replica as master ($(printf '%s' "$stale" | tr '\n' ';')): going ahead"
      break
    fi
    [ -n "${said_stale:-}" ] || log "waiting for Sentinels that still see a replica as master: $(printf '%s' "$stale" | tr '\n' ';')"
    said_stale=1
    for s in $(printf '%s\n' "$stale" | awk '{ print $1 }' | sort -u); do quicken_info "$s"; done
    sleep 0.2
  done
  slow_info

  # 3. Pause. A paused master still PINGs its replicas every repl-ping-replica-period; one PING after the
  #    replica caught up leaves the old master 14 bytes ahead: partial resync refused, full resync (measured
  #    5-7 s). Hold the PINGs back meanwhile.
  #    The pause must end before down-after-milliseconds: the Sentinels' own PUBLISH (hello messages) blocks
  #    under CLIENT PAUSE WRITE and their PINGs wait behind it, so a longer pause makes them judge this master
  #    down and fail over on their own, to a replica nobody checked (seen: 9-10 s pauses did). Everything
  #    that may take longer (Sentinel seeing a replica made ineligible) is awaited with writes flowing.
  down_after=$(sentinel_master "$leader" down-after-milliseconds)
  window_ms=$((${down_after:-5000} - 1000))
  [ "$window_ms" -ge 1000 ] || window_ms=1000
  expect_ok "CONFIG SET repl-ping-replica-period" "$(redis_cli "$LOCAL_HOST" CONFIG SET repl-ping-replica-period 3600)" ||
    exit 1
  # Redis itself ends the pause at the window, whatever happens to this script.
  expect_ok "CLIENT PAUSE" "$(redis_cli "$LOCAL_HOST" CLIENT PAUSE "$window_ms" WRITE)" || exit 1
  paused_at=$(now_ms)
  # The failover itself (SENTINEL FAILOVER until the promotion) must start with this much of the window left.
  ask_by=$((paused_at + window_ms * 2 / 3))
  log "writes paused; waiting for the replicas to hold every write"
  event writes-paused window_ms="$window_ms"

  # 4. Sentinel promotes its own choice (priority, then its cached offset, then run id), not the replica we
  #    watched: every replica it may pick must hold every write. Give the replicas a short while to catch up;
  #    then make each one that has not ineligible (replica-priority 0, given back at the end).
  #    The master learns its replicas' offsets only from their once-a-second acks: ask the replicas themselves.
  #    While paused, a replica gets 1 s to answer: a frozen one must not hold the pause.
  catchup_until=$((paused_at + window_ms / 3))
  while :; do
    info=$(replication)
    offset=$(printf '%s\n' "$info" | info_field master_repl_offset)
    behind="" caught=""
    for h in $(printf '%s\n' "$info" | replica_lines | awk '{ print $1 }'); do
      case " $passed_over " in *" $h "*) continue ;; esac
      at=$(CLI_TIMEOUT=1 redis_cli "$h" INFO replication 2>/dev/null | info_field slave_repl_offset) || at=""
      if [ "$at" = "$offset" ]; then caught="$caught $h"; else behind="$behind $h"; fi
    done
    [ -z "$behind" ] && [ -n "$caught" ] && break
    if [ "$(now_ms)" -ge "$catchup_until" ] && [ -n "$caught" ]; then break; fi
    if [ "$(now_ms)" -ge "$ask_by" ]; then break; fi
    sleep 0.02
  done
  if [ -z "$caught" ]; then
    if past_deadline; then
      log "no replica caught up within ${timeout_s}s"
      exit 1
    fi
    log "no replica caught up within the pause; writes resume, trying again${passed_over:+ with any replica}"
    if [ -n "$passed_over" ]; then
      prefer=no
      restore
    else
      unpause
    fi
    event writes-resumed why=no-replica-caught-up
    sleep 0.5
    continue
  fi
  # Peers that follow us but are not linked now (restarting, syncing) may be promoted too.
  for h in $PEER_HOSTS; do
    [ "$h" = "$SELF_HOST" ] && continue
    case " $caught $behind $passed_over " in *" $h "*) continue ;; esac
    role=$(CLI_TIMEOUT=1 redis_cli "$h" INFO replication 2>/dev/null | info_field role) || role=""
    if [ "$role" = slave ]; then behind="$behind $h"; fi
  done
  for h in $behind; do
    prio=$(CLI_TIMEOUT=1 redis_cli "$h" CONFIG GET replica-priority 2>/dev/null | sed -n 2p) || prio=""
    [ "$prio" = 0 ] && continue
    expect_ok "making lagging replica $h ineligible" \
      "$(CLI_TIMEOUT=1 redis_cli "$h" CONFIG SET replica-priority 0 2>&1)" || exit 1
    restore_priorities="$restore_priorities $h=${prio:-100}"
    log "replica $h is behind: not eligible for promotion during the hand-over"
  done
  # Sentinel chooses from the INFO it cached (refreshed every 10 s): until it has seen those priorities, wait
  # with writes flowing (the replicas stay ineligible), then pause and check again.
  unseen=""
  for h in $behind; do
    [ "$(sentinel_replica_field "$leader" "$h" slave-priority)" = 0 ] || unseen="$unseen $h"
  done
  if [ -n "$unseen" ] || [ "$(now_ms)" -ge "$ask_by" ]; then
    if [ -n "$unseen" ]; then
      log "the Sentinel on $leader has not seen$unseen ineligible yet; writes resume meanwhile"
      why=sentinel-has-not-seen-ineligible
    else
      log "the pause is nearly over before the failover could start; writes resume, trying again"
      why=pause-nearly-over
    fi
    unpause  # the ineligible replicas stay so: the EXIT trap restores them on any way out
    event writes-resumed why="$why"
    for h in $unseen; do
      while [ "$(sentinel_replica_field "$leader" "$h" slave-priority)" != 0 ]; do
        if past_deadline; then
          log "the Sentinel on $leader did not see $h ineligible within ${timeout_s}s"
          exit 1
        fi
        sleep 0.2
      done
    done
    continue
  fi

  # 5. Fail over, and check that the new master holds every write before writes resume.
  log "replicas hold offset $offset; asking the Sentinel on $leader (knows $known replicas) to fail over"
  event failover-asked sentinel="$leader" offset="$offset"
  reply=$(sentinel_cli "$leader" SENTINEL FAILOVER "$MASTER_NAME" 2>&1) || reply=""
  case $reply in
    NOGOODSLAVE*)
      if [ "$(($(date +%s) + 2))" -lt "$deadline" ]; then
        log "SENTINEL FAILOVER on $leader refused: $reply; writes resume, trying again"
        restore
        event writes-resumed why=failover-refused
        trap - EXIT
        sleep 0.5
        continue
      fi ;;
  esac
  expect_ok "SENTINEL FAILOVER on $leader" "$reply" || exit 1
  # The failover is under way: keep writes paused through the promotion, until this Redis is a replica.
  expect_ok "CLIENT PAUSE" "$(redis_cli "$LOCAL_HOST" CLIENT PAUSE "$((timeout_s * 1000))" WRITE)" || exit 1
  break
done
while :; do
  new=$(sentinel_cli "$leader" SENTINEL get-master-addr-by-name "$MASTER_NAME" | head -n 1) || new=""
  if is_host "$new" && [ "$new" != "$SELF_HOST" ]; then break; fi
  if past_deadline; then
    log "Sentinel named no new master within ${timeout_s}s"
    exit 1
  fi
  sleep 0.01
done
new_offset=$(redis_cli "$new" INFO replication | info_field master_repl_offset) || new_offset=""
if [ "${new_offset:-0}" -lt "$offset" ]; then
  log "ERROR: the new master $new is at offset ${new_offset:-?}, behind $offset: writes may be lost"
fi

# Demote ourselves at once (Sentinel would only notice on its next INFO, ~10 s later), then let writes go:
# clients now get READONLY here and ask the Sentinels, which name the new master.
expect_ok "REPLICAOF $new" "$(redis_cli "$LOCAL_HOST" REPLICAOF "$new" "$REDIS_PORT" 2>&1)" || exit 1
demoted=yes
expect_ok "CLIENT UNPAUSE" "$(redis_cli "$LOCAL_HOST" CLIENT UNPAUSE 2>&1)" || true
log "handed over to $new; now its replica"
event handed-over new="$new"

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
event sentinels-agree master="$new"
