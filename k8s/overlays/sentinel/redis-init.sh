#!/bin/sh
# Init container of every Redis pod in the Sentinel overlay: writes the Redis config the pod
# starts with. The primary is whichever pod the Sentinels name now (a failover may have moved it
# away from pod-0); when no Sentinel answers, a peer that is a primary; failing both (first start),
# pod-0. Every other pod starts as a replica of that primary, announcing its stable DNS name so
# the Sentinels and clients never see a pod IP that changes on restart. Safe to re-run: the config
# is written from scratch on every start (Redis and the Sentinels rewrite it while running).
#
# Env: SELF_HOST (this pod's DNS name), PRIMARY_FALLBACK (pod-0's host:port), MASTER_NAME,
# SENTINELS (host:port ...), SENTINEL_PASSWORD, PEERS (host:port of every Redis pod of this set),
# REDISCLI_AUTH (the Redis password), BASE_CONF (static settings), CONF (output), REDIS_PORT (6379).
set -eu
: "${SELF_HOST:?}" "${PRIMARY_FALLBACK:?}" "${MASTER_NAME:?}" "${SENTINELS:?}" "${BASE_CONF:?}" "${CONF:?}"
port="${REDIS_PORT:-6379}"
refused=""

# 1. The Sentinels' answer. A Sentinel that refuses us (a wrong password) must not lead to a second
# primary: the pod then fails to start instead of falling back.
primary=""
for s in $SENTINELS; do
  answer="$(REDISCLI_AUTH="${SENTINEL_PASSWORD:-}" timeout 5 redis-cli --raw -h "${s%:*}" -p "${s##*:}" \
    SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null || true)"
  host="$(printf '%s\n' "$answer" | sed -n 1p)"
  hport="$(printf '%s\n' "$answer" | sed -n 2p)"
  case "$hport" in
    '' | *[!0-9]*)
      # No answer or nil (a Sentinel not yet monitoring) is empty; anything else is an error reply.
      if [ -n "$host" ]; then refused="$refused $s: $host;"; fi
      continue
      ;;
  esac
  primary="$host:$hport"
  echo "sentinel $s names $primary as the primary of $MASTER_NAME"
  break
done

# 2. No Sentinel answered: a running peer that is a primary (Sentinels down after a failover).
if [ -z "$primary" ] && [ -z "$refused" ]; then
  for p in ${PEERS:-}; do
    [ "$p" = "$SELF_HOST:$port" ] && continue
    role="$(timeout 5 redis-cli --raw -h "${p%:*}" -p "${p##*:}" ROLE 2>/dev/null | sed -n 1p || true)"
    if [ "$role" = master ]; then
      primary="$p"
      echo "no sentinel answered; peer $p is a primary"
      break
    fi
  done
fi

if [ -n "$refused" ] && [ -z "$primary" ]; then
  echo "sentinels refused to name the primary of $MASTER_NAME:$refused" >&2
  exit 1
fi
# 3. First start: pod-0.
if [ -z "$primary" ]; then
  primary="$PRIMARY_FALLBACK"
  echo "no sentinel or peer knows $MASTER_NAME: $primary is the primary"
fi

cp "$BASE_CONF" "$CONF"
{
  echo "port $port"
  echo "replica-announce-ip $SELF_HOST"
  echo "replica-announce-port $port"
  if [ "$primary" != "$SELF_HOST:$port" ]; then echo "replicaof ${primary%:*} ${primary##*:}"; fi
} >>"$CONF"
if [ "$primary" = "$SELF_HOST:$port" ]; then echo "$SELF_HOST starts as the primary"; else echo "$SELF_HOST starts as a replica of $primary"; fi
