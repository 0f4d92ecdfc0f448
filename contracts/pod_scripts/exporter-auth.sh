#!/bin/sh
# Init container: write redis_exporter's password file (JSON, address -> password) from the mounted Secrets,
# so no password is an environment variable or a command-line argument. Its own environment:
#   SECRETS_DIR             the password files
#   EXPORTER_TARGETS        space-separated ADDRESS=FILE pairs: each exporter target and its password file
#   EXPORTER_PASSWORD_FILE  where to write the file (an in-memory folder the exporters mount read-only)
# A password JSON cannot carry as written costs that target's metrics (redis_up 0), never the pod: an init
# container that fails would keep Redis from starting.
set -eu
: "${SECRETS_DIR:?}" "${EXPORTER_TARGETS:?}" "${EXPORTER_PASSWORD_FILE:?}"

entries=""
for pair in $EXPORTER_TARGETS; do
  addr=${pair%%=*} file="$SECRETS_DIR/${pair#*=}"
  value=$(cat "$file")  # trailing newlines dropped, as every other reader of these files does
  case $value in
    *[[:cntrl:]]*)
      echo "exporter-auth: $file holds a control character; $addr is scraped without a password" >&2
      continue ;;
  esac
  json=$(printf '%s' "$value" | sed 's/\\/\\\\/g; s/"/\\"/g')
  entries="$entries${entries:+,}\"$addr\":\"$json\""
done

umask 077
printf '{%s}\n' "$entries" >"$EXPORTER_PASSWORD_FILE.tmp"
mv "$EXPORTER_PASSWORD_FILE.tmp" "$EXPORTER_PASSWORD_FILE"
