# shellcheck shell=sh
# Helpers shared by the pod scripts. They read only environment variables, so the same files run in a
# Kubernetes pod and in the local cluster (`redis-gitops local up`):
#   SELF_HOST          name this pod announces (its headless-Service FQDN in Kubernetes)
#   PEER_HOSTS         every pod's announced name, in ordinal order (SELF_HOST among them)
#   LOCAL_HOST         address of this pod's own Redis and Sentinel (default 127.0.0.1)
#   REDIS_PORT SENTINEL_PORT MASTER_NAME
#   REDIS_PASSWORD SENTINEL_PASSWORD   from Kubernetes Secrets
#   CONFIG_DIR         read-only templates (redis.conf, sentinel.conf)
#   RUNTIME_DIR        writable folder for the rendered files (passwords live only here)
#   DATA_DIR           Redis's persistent folder (the PersistentVolumeClaim)
#   BIND_ADDRESS       optional: listen only here (the local cluster gives each "pod" its own address)

: "${SELF_HOST:?}" "${PEER_HOSTS:?}" "${REDIS_PORT:?}" "${SENTINEL_PORT:?}" "${MASTER_NAME:?}"
: "${REDIS_PASSWORD:?}" "${SENTINEL_PASSWORD:?}"
LOCAL_HOST=${LOCAL_HOST:-127.0.0.1}

log() {
  echo "$(date -u '+%Y-%m-%dT%H:%M:%S.%3NZ') $*" >&2
}

# rcli HOST PORT PASSWORD ARGS...: the password goes through the environment, never the command line.
rcli() {
  _host=$1 _port=$2 _pass=$3
  shift 3
  REDISCLI_AUTH="$_pass" timeout "${CLI_TIMEOUT:-3}" redis-cli --no-auth-warning -h "$_host" -p "$_port" "$@"
}

redis_cli() {
  _h=$1
  shift
  rcli "$_h" "$REDIS_PORT" "$REDIS_PASSWORD" "$@"
}

sentinel_cli() {
  _h=$1
  shift
  rcli "$_h" "$SENTINEL_PORT" "$SENTINEL_PASSWORD" "$@"
}

# info_field NAME: value of NAME in INFO output read from stdin.
info_field() {
  tr -d '\r' | sed -n "s/^$1://p"
}

# master_seen_by HOST: the master address a Sentinel gives clients (SENTINEL MASTER's ip), or nothing while
# it is still running a failover. Clients (redis-py, kombu) read this, not get-master-addr-by-name, which
# the leading Sentinel answers with the promoted replica seconds before it finishes the failover.
master_seen_by() {
  sentinel_cli "$1" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | tr -d '\r' |
    awk 'NR % 2 == 1 { k = $0; next } { v[k] = $0 } END { if (v["flags"] !~ /failover_in_progress/) print v["ip"] }'
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

# find_master: who is master now. The Sentinels first (after a failover they hold the truth), then any
# peer Redis that says it is master, and only for a brand-new cluster the first pod.
find_master() {
  for _h in $PEER_HOSTS; do
    _m=$(sentinel_cli "$_h" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || true
    if is_host "$_m"; then
      echo "$_m"
      return 0
    fi
  done
  for _h in $PEER_HOSTS; do
    [ "$_h" = "$SELF_HOST" ] && continue
    _role=$(redis_cli "$_h" INFO replication 2>/dev/null | info_field role) || true
    if [ "$_role" = master ]; then
      echo "$_h"
      return 0
    fi
  done
  for _h in $PEER_HOSTS; do
    echo "$_h"
    return 0
  done
}
