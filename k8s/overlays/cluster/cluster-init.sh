#!/bin/sh
# Init container of every Redis pod in the Cluster overlay: writes the Redis config (static
# settings, the port, the hostname this node announces) and, when the node already belongs to a
# cluster, refreshes the IP of every node in its nodes.conf from that node's hostname. The cluster
# bus connects by IP and pods get new IPs when they restart; if several restart at once, their
# old IPs would leave them unable to find each other. Safe to re-run.
#
# Env: SELF_HOST (this pod's DNS name), BASE_CONF, CONF (output), DATA_DIR (holds nodes.conf),
# REDIS_PORT (6379).
set -eu
: "${SELF_HOST:?}" "${BASE_CONF:?}" "${CONF:?}" "${DATA_DIR:?}"
port="${REDIS_PORT:-6379}"

cp "$BASE_CONF" "$CONF"
{
  echo "port $port"
  echo "cluster-announce-hostname $SELF_HOST"
} >>"$CONF"

nodes="$DATA_DIR/nodes.conf"
[ -f "$nodes" ] || exit 0
tmp="$nodes.init-tmp"
: >"$tmp"
# A node line: <id> <ip>:<port>@<bus port>,<hostname> <flags> ... (the "vars" line passes as is).
while read -r id addr rest; do
  [ -n "$id" ] || continue
  case "$addr" in
    *@*,?*)
      host="${addr#*,}"
      host="${host%%,*}"
      ip="$(getent hosts "$host" | awk '{ print $1; exit }' || true)"
      if [ -n "$ip" ]; then
        ipport="${addr%%@*}"
        new="$ip:${ipport##*:}@${addr#*@}"
        if [ "$new" != "$addr" ]; then echo "$host: ${ipport%:*} -> $ip"; fi
        addr="$new"
      fi
      ;;
  esac
  printf '%s %s %s\n' "$id" "$addr" "$rest" >>"$tmp"
done <"$nodes"
mv "$tmp" "$nodes"
