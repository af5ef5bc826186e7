#!/bin/sh
# Init container of every Sentinel pod: writes sentinel.conf. Each monitored primary is the one
# the other Sentinels name now; when none answers (first start), pod-0 of that Redis. The config
# is written from scratch on every start, so a Sentinel never restarts with a stale primary; its
# peers, replicas and epoch are learnt again from the others within seconds.
#
# Env: SELF_HOST, SENTINEL_PORT (26379), PEERS (host:port of every Sentinel), QUORUM,
# DOWN_AFTER_MS, SENTINEL_PASSWORD, CONF, and for each Redis: QUEUE_MASTER_NAME,
# QUEUE_PRIMARY_FALLBACK (host:port), QUEUE_REDIS_PASSWORD; KV_MASTER_NAME, KV_PRIMARY_FALLBACK,
# KV_REDIS_PASSWORD.
set -eu
: "${SELF_HOST:?}" "${PEERS:?}" "${CONF:?}" "${SENTINEL_PASSWORD:?}"
port="${SENTINEL_PORT:-26379}"

current_primary() {
  for s in $PEERS; do
    [ "$s" = "$SELF_HOST:$port" ] && continue
    answer="$(REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout 5 redis-cli --raw -h "${s%:*}" -p "${s##*:}" \
      SENTINEL get-master-addr-by-name "$1" 2>/dev/null || true)"
    hport="$(printf '%s\n' "$answer" | sed -n 2p)"
    case "$hport" in '' | *[!0-9]*) continue ;; esac
    printf '%s:%s\n' "$(printf '%s\n' "$answer" | sed -n 1p)" "$hport"
    return
  done
  printf '%s\n' "$2"
}

# Sentinel resolves a monitored host when it loads its config and refuses to start if it cannot:
# wait for the DNS record (the headless Service publishes pods before they are ready).
wait_resolvable() {
  i=0
  until getent hosts "$1" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 120 ]; then
      echo "$1 does not resolve after 120 s" >&2
      return 1
    fi
    sleep 1
  done
}

monitor() {
  primary="$(current_primary "$1" "$2")"
  echo "monitoring $1 at $primary" >&2
  wait_resolvable "${primary%:*}"
  cat <<CONF
sentinel monitor $1 ${primary%:*} ${primary##*:} ${QUORUM:-2}
sentinel auth-pass $1 $3
sentinel down-after-milliseconds $1 ${DOWN_AFTER_MS:-5000}
sentinel failover-timeout $1 60000
sentinel parallel-syncs $1 1
CONF
}

umask 077
{
  echo "port $port"
  echo "dir $(dirname "$CONF")"
  echo "sentinel resolve-hostnames yes"
  echo "sentinel announce-hostnames yes"
  echo "sentinel announce-ip $SELF_HOST"
  echo "sentinel announce-port $port"
  echo "requirepass $SENTINEL_PASSWORD"
  monitor "${QUEUE_MASTER_NAME:?}" "${QUEUE_PRIMARY_FALLBACK:?}" "${QUEUE_REDIS_PASSWORD:?}"
  monitor "${KV_MASTER_NAME:?}" "${KV_PRIMARY_FALLBACK:?}" "${KV_REDIS_PASSWORD:?}"
} >"$CONF.tmp"
mv "$CONF.tmp" "$CONF"
