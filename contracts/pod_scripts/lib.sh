# shellcheck shell=sh
# Helpers shared by the pod scripts. They read only environment variables (contracts/pod_env.py) and
# the password files in SECRETS_DIR, so the same files run in a Kubernetes pod and in the local cluster
# (`redis-gitops local up`):
#   SELF_HOST                 name this pod announces (its headless-Service FQDN in Kubernetes)
#   PEER_HOSTS                every pod's announced name, in ordinal order (SELF_HOST among them)
#   LOCAL_HOST                address of this pod's own Redis and Sentinel (default 127.0.0.1)
#   REDIS_PORT                Redis's port
#   SENTINEL_PORT             Sentinel's port
#   MASTER_NAME               the name Sentinel monitors the master under
#   SECRETS_DIR               read-only password files from Secrets: redis-password, sentinel-password, <client>-password
#   CONFIG_DIR                read-only templates (redis.conf, sentinel.conf)
#   RUNTIME_DIR               Redis only: writable in-memory folder for its rendered config (holds passwords)
#   DATA_DIR                  the PersistentVolumeClaim: Redis's data; Sentinel's state (0600) in $DATA_DIR/sentinel
#   HANDOVER_TIMEOUT_SECONDS  preStop: longest the hand-over may pause writes and wait for a new master
#   BIND_ADDRESS              optional: listen only here (the local cluster gives each pod its own address)
#   TLS_DIR                   optional: tls.crt, tls.key, ca.crt; set, every server listens and every redis-cli dials TLS only
#   REDIS_USER                optional: the Sentinel container's `sentinel` reads Redis as that user with sentinel-password; unset, the admin with redis-password
#   ENGINE                    optional: valkey runs valkey-server, valkey-cli and valkey-check-rdb; unset (redis), the redis-* ones

: "${SELF_HOST:?}" "${PEER_HOSTS:?}" "${REDIS_PORT:?}" "${SENTINEL_PORT:?}" "${MASTER_NAME:?}"
: "${SECRETS_DIR:?}"

# secret FILE: a password file's content (trailing newlines dropped). Passwords stay shell variables, never
# exported: rcli hands one to a single redis-cli through REDISCLI_AUTH.
secret() {
  if [ ! -r "$SECRETS_DIR/$1" ]; then
    echo "cannot read $SECRETS_DIR/$1: is the Secret mounted with that key?" >&2
    exit 1
  fi
  cat "$SECRETS_DIR/$1"
}
# accepted NAME: the ACL password words of secret NAME: `>"<password>"`, and during a rotation (NAME.also mounted:
# a SecretRef's alsoAccept) the other password too. What servers accept; senders use `secret NAME` only.
accepted() {
  _a=$(secret "$1") || return 1
  printf '%s' "$(conf_quote ">$_a")"
  if [ -r "$SECRETS_DIR/$1.also" ]; then
    printf ' %s' "$(conf_quote ">$(cat "$SECRETS_DIR/$1.also")")"
  fi
}
SENTINEL_PASSWORD=$(secret sentinel-password) || exit 1
# The Sentinel container holds no Redis admin password: it reads Redis as the Sentinels' own user, whose
# password is the Sentinel password (synth/redis_config.py's sentinel.acl).
if [ -n "${REDIS_USER:-}" ]; then
  REDIS_PASSWORD=$SENTINEL_PASSWORD
else
  REDIS_PASSWORD=$(secret redis-password) || exit 1
fi
LOCAL_HOST=${LOCAL_HOST:-127.0.0.1}
# The engine's own binaries (the valkey/valkey image names them valkey-*; Sentinel is the server's --sentinel mode).
ENGINE=${ENGINE:-redis}
# shellcheck disable=SC2034 # the start, backup and restore scripts run these
SERVER_BIN=$ENGINE-server CHECK_RDB_BIN=$ENGINE-check-rdb
CLI_BIN=$ENGINE-cli
# Sentinel's own config file, rewritten by Sentinel on every failover: the cluster's memory across restarts.
SENTINEL_STATE_DIR=${DATA_DIR:+$DATA_DIR/sentinel}
SENTINEL_STATE=${SENTINEL_STATE_DIR:+$SENTINEL_STATE_DIR/sentinel.conf}

log() {
  echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%3NZ') $*" >&2
}

# event NAME [KEY=VALUE...]: one line for programs, beside the log lines for people:
# "<time> event=NAME key=value ...", values without spaces (contracts/events.py reads them).
event() {
  _event=$1
  shift
  echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%3NZ') event=$_event $*" >&2
}

# rcli HOST PORT PASSWORD ARGS...: the password goes through the environment, never the command line. With
# TLS_DIR, over TLS, the server verified against the CA (every probe, hand-over, backup and restore goes here).
rcli() {
  _host=$1 _port=$2 _pass=$3
  shift 3
  if [ -n "${TLS_DIR:-}" ]; then set -- --tls --cacert "$TLS_DIR/ca.crt" "$@"; fi
  REDISCLI_AUTH="$_pass" timeout "${CLI_TIMEOUT:-3}" "$CLI_BIN" --no-auth-warning -h "$_host" -p "$_port" "$@"
}

# tls_files: the certificate directives of a server of ours (nothing without TLS_DIR). The same certificate
# serves clients and is shown to the servers it dials (replication, Sentinel's links).
tls_files() {
  [ -n "${TLS_DIR:-}" ] || return 0
  printf '%s\n' "tls-cert-file $(conf_quote "$TLS_DIR/tls.crt")" "tls-key-file $(conf_quote "$TLS_DIR/tls.key")" \
    "tls-ca-cert-file $(conf_quote "$TLS_DIR/ca.crt")"
}

redis_cli() {
  _h=$1
  shift
  if [ -n "${REDIS_USER:-}" ]; then set -- --user "$REDIS_USER" "$@"; fi
  rcli "$_h" "$REDIS_PORT" "$REDIS_PASSWORD" "$@"
}

sentinel_cli() {
  _h=$1
  shift
  rcli "$_h" "$SENTINEL_PORT" "$SENTINEL_PASSWORD" "$@"
}

# info_field NAME: value of NAME in INFO output read from stdin.
info_field() {
  tr -d '\r' | awk -v name="$1" 'index($0, name ":") == 1 { print substr($0, length(name) + 2) }'
}

# sentinel_master HOST FIELD...: those fields of SENTINEL MASTER, in order, on one line (nothing when that
# Sentinel does not answer). No field value holds a space (flags are comma-separated).
sentinel_master() {
  _sm=$1
  shift
  sentinel_cli "$_sm" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | tr -d '\r' |
    awk -v want="$*" 'NR % 2 == 1 { k = $0; next } { v[k] = $0 }
      END { if (v["ip"] == "") exit; n = split(want, f, " "); out = v[f[1]]
            for (i = 2; i <= n; i++) out = out " " v[f[i]]; print out }'
}

# master_seen_by HOST: the master address a Sentinel gives clients (SENTINEL MASTER's ip), or nothing while
# it is still running a failover. Clients (redis-py, kombu) read this, not get-master-addr-by-name, which
# the leading Sentinel answers with the promoted replica seconds before it finishes the failover.
master_seen_by() {
  # shellcheck disable=SC2046 # two words: ip, flags
  set -- $(sentinel_master "$1" ip flags)
  case ${2:-failover_in_progress} in *failover_in_progress*) ;; *) echo "$1" ;; esac
}

# sentinel_replica_field SENTINEL REPLICA FIELD: FIELD of REPLICA as that Sentinel last saw it (INFO cache).
sentinel_replica_field() {
  sentinel_cli "$1" SENTINEL REPLICAS "$MASTER_NAME" 2>/dev/null | tr -d '\r' |
    awk -v host="$2" -v field="$3" '
      $0 == "name" { if (ip == host && f != "") print f; ip = ""; f = "" }
      prev == "ip" { ip = $0 } prev == field { f = $0 } { prev = $0 }
      END { if (ip == host && f != "") print f }'
}

# sentinel_promotable HOST: the replicas that Sentinel could promote now, by the filters of its own replica
# selection (sentinelSelectSlave, Redis 7.0): not down, link up and answering PINGs within 5 s, priority not 0,
# INFO no older than 3 periods (30 s), link to the master down no longer than 10 x down-after. A replica that
# restarted a moment ago fails these until Sentinel reconnects (up to 15 s): SENTINEL FAILOVER says NOGOODSLAVE.
sentinel_promotable() {
  _down_after=$(sentinel_master "$1" down-after-milliseconds)
  sentinel_cli "$1" SENTINEL REPLICAS "$MASTER_NAME" 2>/dev/null | tr -d '\r' |
    awk -v max_down="$((${_down_after:-0} * 10))" '
      function judge() {
        if (v["ip"] != "" && v["flags"] !~ /s_down|o_down|disconnected/ && v["last-ok-ping-reply"] != "" &&
            v["last-ok-ping-reply"] + 0 <= 5000 && v["slave-priority"] != "0" && v["info-refresh"] != "" &&
            v["info-refresh"] + 0 <= 30000 && v["master-link-down-time"] + 0 <= max_down) print v["ip"]
        split("", v)
      }
      NR % 2 == 1 { if ($0 == "name" && NR > 1) judge(); k = $0; next }
      { v[k] = $0 }
      END { judge() }'
}

# rdb_format HOST: the RDB format HOST's server writes, from its INFO server and $CONFIG_DIR/rdb-formats
# (contracts/engines.py); nothing when either is unknown. Valkey reports valkey_version beside a redis_version.
rdb_format() {
  [ -r "${CONFIG_DIR:-}/rdb-formats" ] || return 0
  _rf_info=$(CLI_TIMEOUT=1 redis_cli "$1" INFO server 2>/dev/null | tr -d '\r') || return 0
  _rf_version=$(printf '%s\n' "$_rf_info" | info_field valkey_version)
  _rf_engine=valkey
  if [ -z "$_rf_version" ]; then
    _rf_version=$(printf '%s\n' "$_rf_info" | info_field redis_version) _rf_engine=redis
  fi
  awk -v e="$_rf_engine" -v v="$_rf_version" \
    'BEGIN { n = split(v, p, "."); s = p[1] "." p[2] } $1 == e && $2 == s { print $3; exit }' "$CONFIG_DIR/rdb-formats"
}

# conf_quote VALUE: VALUE as a double-quoted redis.conf string.
conf_quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# A reply that names a host, not an error or an empty answer.
is_host() {
  case $1 in
    '' | *' '* | ERR* | NOAUTH* | WRONGPASS* | LOADING* | IDONTKNOW*) return 1 ;;
    *) return 0 ;;
  esac
}

# record_in FILE: "<config-epoch> <master>" from a config file Sentinel wrote, or nothing.
record_in() {
  [ -f "$1" ] || return 0
  awk -v m="$MASTER_NAME" '$1 == "sentinel" && $3 == m && $2 == "monitor" { h = $4 }
    $1 == "sentinel" && $3 == m && $2 == "config-epoch" { e = $4 }
    END { if (h != "") print (e == "" ? 0 : e), h }' "$1"
}

# record_of_sentinel HOST: "<config-epoch> <master>" as a live Sentinel holds it (nothing mid-failover).
record_of_sentinel() {
  # shellcheck disable=SC2046 # three words: config-epoch, ip, flags
  set -- $(sentinel_master "$1" config-epoch ip flags)
  [ "$#" -eq 3 ] || return 0
  case $3 in *failover_in_progress*) ;; *) echo "$1 $2" ;; esac
}

# newest_record: the record with the highest config epoch among this pod's saved Sentinel state and every
# Sentinel that answers. Sentinel bumps the epoch on each failover, so it names the last master elected. Only
# records naming one of the broker's own pods count: a master announced by a forged hello is never followed.
newest_record() {
  {
    record_in "$SENTINEL_STATE"
    for _h in $PEER_HOSTS; do record_of_sentinel "$_h"; done
  } | awk -v peers=" $PEER_HOSTS " '
      function ours(x) { return x != "" && index(peers, " " x " ") > 0 }
      ours($2) && ($1 + 0 > best || n == 0) { best = $1 + 0; h = $2; n = 1 } END { if (n) print best, h }'
}

# has_data: Redis has run on this volume before (Redis 7 creates appendonlydir on its first start).
has_data() {
  [ -d "$DATA_DIR/appendonlydir" ] || [ -f "$DATA_DIR/dump.rdb" ]
}

# peer_master: a peer Redis that says it is master, if any.
peer_master() {
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    _role=$(redis_cli "$_h" INFO replication 2>/dev/null | info_field role) || true
    if [ "$_role" = master ]; then
      echo "$_h"
      return 0
    fi
  done
}

# all_peers_empty: every other pod's Redis has loaded its data (PONG, not LOADING) and holds no key: a
# brand-new cluster has started everywhere. Each peer is judged by one answer after the other, never by a
# keyspace read before it answered (seen: "no data" read while a peer was not up yet, then its PONG, made pod 0
# with a replaced volume start a new, empty cluster that its replicas synced).
all_peers_empty() {
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    [ "$(redis_cli "$_h" PING 2>/dev/null)" = PONG ] || return 1
    _k=$(redis_cli "$_h" INFO keyspace 2>/dev/null) || return 1
    if printf '%s\n' "$_k" | grep -q '^db[0-9]*:keys='; then return 1; fi
  done
}

# a_peer_loading: some peer's Redis is still loading its data (its keyspace is not known yet).
a_peer_loading() {
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    case $(redis_cli "$_h" PING 2>/dev/null) in LOADING*) return 0 ;; esac
  done
  return 1
}

# peer_with_data: the first peer whose Redis holds keys: the cluster has run before, whatever this volume says.
peer_with_data() {
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    if redis_cli "$_h" INFO keyspace 2>/dev/null | grep -q '^db[0-9]*:keys='; then
      echo "$_h"
      return 0
    fi
  done
}

# find_master: "<host> <why>": who must be master, and why (record, peer, data or new). The newest Sentinel
# record wins (live Sentinels, or the state this pod's Sentinel saved before a full restart), then a peer that
# is master. Only a cluster that has no record anywhere and no data on any peer is brand new: there pod 0
# starts as master, after a bounded wait (PEER_WAIT_SECONDS) for its peers to prove they have neither. Pod 0
# with an empty (replaced) volume and peers holding data waits for their Sentinels' records instead; with none
# by the deadline, a peer holding data is master.
find_master() {
  _first=${PEER_HOSTS%% *}
  _deadline=$(($(date +%s) + ${PEER_WAIT_SECONDS:-30}))
  while :; do
    _rec=$(newest_record)
    if [ -n "$_rec" ]; then
      echo "${_rec#* } record"
      return 0
    fi
    _m=$(peer_master)
    if [ -n "$_m" ]; then
      echo "$_m peer"
      return 0
    fi
    if [ "$SELF_HOST" != "$_first" ]; then
      echo "$_first new"
      return 0
    fi
    _d=$(peer_with_data)
    if [ -z "$_d" ] && all_peers_empty; then
      echo "$_first new"
      return 0
    fi
    if [ "$(date +%s)" -ge "$_deadline" ]; then
      if [ -n "$_d" ]; then
        echo "$_d data"
        return 0
      fi
      # A peer still loading may hold the data: never start an empty cluster over it, however long it takes.
      if ! a_peer_loading; then
        echo "$_first new"
        return 0
      fi
    fi
    [ -n "${_said:-}" ] || log "no Sentinel record, and not every peer answers empty yet: waiting before starting a brand-new cluster"
    _said=1
    sleep 0.2
  done
}
