#!/bin/sh
# Copy the newest verified snapshot that backup.sh left in BACKUP_DIR to an S3-compatible bucket with rclone
# (which compares the uploaded object's checksum with the file's), check it again as the bucket lists it, then
# keep the newest S3_RETENTION snapshots there. Prints the object's s3:// address on stdout. Runs in rclone's
# image (busybox sh), after backup.sh, in the same pod:
#   BACKUP_DIR     where backup.sh left its snapshots (dump-<UTC time>.rdb)
#   SECRETS_DIR    the credential files s3-access-key-id and s3-secret-access-key (from Secrets)
#   S3_ENDPOINT    the S3 API's URL
#   S3_BUCKET      the bucket
#   S3_PREFIX      optional: a folder in the bucket, ending in '/'
#   S3_REGION      optional: the region (empty: the endpoint's default)
#   S3_PATH_STYLE  optional: true (default: https://endpoint/bucket/key) or false (https://bucket.endpoint/key)
#   S3_RETENTION   how many snapshots to keep in the bucket
set -eu
: "${BACKUP_DIR:?}" "${SECRETS_DIR:?}" "${S3_ENDPOINT:?}" "${S3_BUCKET:?}" "${S3_RETENTION:?}"

log() {
  echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') $*" >&2
}

credential() {
  if [ ! -r "$SECRETS_DIR/$1" ]; then
    log "cannot read $SECRETS_DIR/$1: is the Secret mounted with that key?"
    exit 1
  fi
  cat "$SECRETS_DIR/$1"
}
key_id=$(credential s3-access-key-id) || exit 1
secret=$(credential s3-secret-access-key) || exit 1

# s3 ARGS...: rclone against the bucket; the credentials reach only this rclone process's environment.
s3() {
  RCLONE_CONFIG_BUCKET_TYPE=s3 RCLONE_CONFIG_BUCKET_PROVIDER=Other RCLONE_CONFIG_BUCKET_ENDPOINT="$S3_ENDPOINT" \
    RCLONE_CONFIG_BUCKET_REGION="${S3_REGION:-}" RCLONE_CONFIG_BUCKET_FORCE_PATH_STYLE="${S3_PATH_STYLE:-true}" \
    RCLONE_CONFIG_BUCKET_NO_CHECK_BUCKET=true RCLONE_CONFIG_BUCKET_ACCESS_KEY_ID="$key_id" \
    RCLONE_CONFIG_BUCKET_SECRET_ACCESS_KEY="$secret" rclone --config /dev/null --retries 3 "$@"
}

snapshot=""
for f in "$BACKUP_DIR"/dump-*.rdb; do  # the glob sorts: the last one is the newest
  if [ -f "$f" ]; then snapshot=$(basename "$f"); fi
done
if [ -z "$snapshot" ]; then
  log "no snapshot in $BACKUP_DIR: nothing to upload"
  exit 1
fi
target="bucket:$S3_BUCKET/${S3_PREFIX:-}"
if ! s3 copyto "$BACKUP_DIR/$snapshot" "$target$snapshot"; then
  log "uploading $snapshot to $S3_ENDPOINT failed"
  exit 1
fi
if ! s3 check "$BACKUP_DIR" "$target" --one-way --include "$snapshot" >/dev/null 2>&1; then
  log "the bucket's copy of $snapshot differs from the file: not counting it as a backup"
  exit 1
fi
log "uploaded $snapshot to s3://$S3_BUCKET/${S3_PREFIX:-}$snapshot ($S3_ENDPOINT), checksum verified"

# Retention: the names sort by time; only snapshots of ours are ever deleted.
listing=$(s3 lsf "$target" --files-only --include 'dump-*.rdb' | grep -E '^dump-[0-9]{8}T[0-9]+Z\.rdb$' | sort) || true
count=$(printf '%s\n' "$listing" | grep -c . || true)
if [ "$count" -gt "$S3_RETENTION" ]; then
  printf '%s\n' "$listing" | head -n "$((count - S3_RETENTION))" | while read -r old; do
    s3 deletefile "$target$old" && log "removed s3://$S3_BUCKET/${S3_PREFIX:-}$old"
  done
fi
echo "s3://$S3_BUCKET/${S3_PREFIX:-}$snapshot"
