#!/bin/sh
# The bootstrap Job of one Redis Cluster: waits until every node answers, then creates the cluster
# only if no node has joined one yet (CLUSTER INFO: cluster_known_nodes 1 and no slots assigned),
# then waits for cluster_state:ok on every node. Re-running it on a formed cluster changes
# nothing. A cluster that is partly formed (some nodes fresh, e.g. a pod whose volume was lost) is
# left alone and the Job fails with what to do: joining a node by hand is safer than guessing.
#
# Env: NODES (host:port of every node), REPLICAS (replicas per primary), REDISCLI_AUTH (the Redis
# password), WAIT_SECONDS (300).
set -eu
: "${NODES:?}" "${REPLICAS:?}"
deadline=$(($(date +%s) + ${WAIT_SECONDS:-300}))

cli() {
  node="$1"
  shift
  timeout 10 redis-cli --raw -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null | tr -d '\r'
}
field() { printf '%s\n' "$1" | sed -n "s/^$2://p"; }
overdue() { [ "$(date +%s)" -ge "$deadline" ]; }

for n in $NODES; do
  until [ "$(cli "$n" PING || true)" = PONG ]; do
    if overdue; then
      echo "$n does not answer PING" >&2
      exit 1
    fi
    sleep 2
  done
done
echo "every node answers"

fresh=""
joined=""
for n in $NODES; do
  info="$(cli "$n" CLUSTER INFO)"
  if [ "$(field "$info" cluster_known_nodes)" = 1 ] && [ "$(field "$info" cluster_slots_assigned)" = 0 ]; then
    fresh="$fresh $n"
  else
    joined="$joined $n"
  fi
done

if [ -z "$joined" ]; then
  # CLUSTER MEET takes addresses; the nodes announce their hostnames once they have met.
  addrs=""
  for n in $NODES; do
    ip="$(getent hosts "${n%:*}" | awk '{ print $1; exit }')"
    [ -n "$ip" ] || {
      echo "${n%:*} does not resolve" >&2
      exit 1
    }
    addrs="$addrs $ip:${n##*:}"
  done
  echo "creating the cluster:$addrs"
  # shellcheck disable=SC2086 # one argument per address
  redis-cli --cluster create $addrs --cluster-replicas "$REPLICAS" --cluster-yes
elif [ -n "$fresh" ]; then
  echo "the cluster is formed but these nodes are not in it:$fresh" >&2
  echo "join each by hand: redis-cli --cluster add-node <node> <member> --cluster-slave" >&2
  exit 1
else
  echo "the cluster is already formed: nothing to create"
fi

for n in $NODES; do
  until [ "$(field "$(cli "$n" CLUSTER INFO)" cluster_state)" = ok ]; do
    if overdue; then
      echo "$n: cluster_state is not ok" >&2
      exit 1
    fi
    sleep 2
  done
done
echo "cluster_state:ok on every node"
