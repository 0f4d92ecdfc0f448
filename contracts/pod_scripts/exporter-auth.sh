#!/bin/sh
# Init container: write redis_exporter's password file (JSON, address -> password) from the mounted Secrets,
# so no password is an environment variable or a command-line argument. Its own environment:
#   SECRETS_DIR             the password files (redis-password, sentinel-password)
#   REDIS_ADDR              the exporter's own target (its REDIS_ADDR)
#   SENTINEL_ADDR           this pod's Sentinel, scraped as another target with Sentinel's password
#   EXPORTER_PASSWORD_FILE  where to write the file (an in-memory folder the exporter mounts read-only)
# A password JSON cannot carry as written costs that target's metrics (redis_up 0), never the pod: an init
# container that fails would keep Redis from starting.
set -eu
: "${SECRETS_DIR:?}" "${REDIS_ADDR:?}" "${SENTINEL_ADDR:?}" "${EXPORTER_PASSWORD_FILE:?}"

entries=""
add() {
  _addr=$1 _file=$2
  _value=$(cat "$_file")  # trailing newlines dropped, as every other reader of these files does
  case $_value in
    *[[:cntrl:]]*)
      echo "exporter-auth: $_file holds a control character; $_addr is scraped without a password" >&2
      return 0 ;;
  esac
  _json=$(printf '%s' "$_value" | sed 's/\\/\\\\/g; s/"/\\"/g')
  entries="$entries${entries:+,}\"$_addr\":\"$_json\""
}
add "$REDIS_ADDR" "$SECRETS_DIR/redis-password"
add "$SENTINEL_ADDR" "$SECRETS_DIR/sentinel-password"

umask 077
printf '{%s}\n' "$entries" >"$EXPORTER_PASSWORD_FILE.tmp"
mv "$EXPORTER_PASSWORD_FILE.tmp" "$EXPORTER_PASSWORD_FILE"
