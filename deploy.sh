#!/usr/bin/env bash
# Deploy kvq to the local Kubernetes cluster of the current kubectl context
# (kind, minikube, k3d or Docker Desktop).
#
#   ./deploy.sh [up|down|status] [--dry-run]
#
#   up        build the image (tagged with the git commit), load it into the cluster, apply
#             k8s/overlays/local, wait for every rollout, smoke-test PUT then GET (default)
#   down      delete everything (the kvq namespace, with its volumes)
#   status    show what runs
#   --dry-run render and validate the manifests and print the commands; needs no cluster
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OVERLAY="$ROOT/k8s/overlays/local"
SECRETS="$OVERLAY/secrets.env"
NAMESPACE=kvq
IMAGE=kvq
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-180s}"
LOCAL_PORT="${LOCAL_PORT:-18080}"

ACTION=up
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    up | down | status) ACTION="$arg" ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "deploy.sh: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'deploy.sh: %s\n' "$1" >&2
  exit "${2:-1}"
}
# In --dry-run mode, print what would run instead of running it.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not on PATH: $2"
}

tag() {
  local sha
  sha="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)"
  if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then sha="$sha-dirty"; fi
  printf '%s' "$sha"
}

ensure_secrets() {
  if [ ! -f "$SECRETS" ]; then
    say "generating $SECRETS (random passwords and API token; git-ignored)"
    umask 077
    {
      printf 'QUEUE_REDIS_PASSWORD=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
      printf 'KV_REDIS_PASSWORD=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
      printf 'API_TOKEN=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    } >"$SECRETS"
  fi
}

render() {
  kubectl kustomize "$OVERLAY" | sed "s#image: $IMAGE:local#image: $IMAGE:$1#"
}

# How the image gets into the cluster depends on what the cluster is.
load_image() {
  local ref="$1" context="$2"
  case "$context" in
    kind-*)
      need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
      run kind load docker-image "$ref" --name "${context#kind-}"
      ;;
    minikube)
      need minikube "https://minikube.sigs.k8s.io/docs/start/"
      run minikube image load "$ref"
      ;;
    k3d-*)
      need k3d "https://k3d.io/#installation"
      run k3d image import "$ref" -c "${context#k3d-}"
      ;;
    docker-desktop)
      say "Docker Desktop shares the Docker daemon: no image load needed"
      ;;
    *)
      die "unknown kubectl context '$context': use kind-*, minikube, k3d-* or docker-desktop (kubectl config use-context ...)" 2
      ;;
  esac
}

# The port-forward started for the smoke test; ended on any exit.
PF_PID=""
stop_port_forward() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; fi
  PF_PID=""
}
trap stop_port_forward EXIT

smoke_test() {
  local token="$1" status
  say "smoke test through a port-forward on 127.0.0.1:$LOCAL_PORT"
  kubectl -n "$NAMESPACE" port-forward svc/kvq-api "$LOCAL_PORT:80" >/dev/null 2>&1 &
  PF_PID=$!
  for _ in $(seq 1 30); do
    if curl -fsS "http://127.0.0.1:$LOCAL_PORT/healthz" >/dev/null 2>&1; then break; fi
    sleep 1
  done
  status="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$LOCAL_PORT/v1/keys/deploy-smoke" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -H 'Prefer: wait=10' \
    -d '{"value":"ok"}')"
  case "$status" in 200 | 201) ;; *) die "smoke test: PUT answered $status" ;; esac
  status="$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LOCAL_PORT/v1/keys/deploy-smoke" \
    -H "Authorization: Bearer $token")"
  [ "$status" = 200 ] || die "smoke test: GET answered $status"
  stop_port_forward
  say "smoke test passed: PUT then GET /v1/keys/deploy-smoke"
}

up() {
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  need git "install git"
  local ref context token
  ref="$IMAGE:$(tag)"
  ensure_secrets
  if [ "$DRY_RUN" = 1 ]; then
    say "rendering and validating k8s/overlays/local (no cluster needed)"
    render "$(tag)" >"${TMPDIR:-/tmp}/kvq-rendered.yaml"
    if command -v node >/dev/null 2>&1 && [ -f "$ROOT/scripts/validate-k8s.ts" ]; then
      node "$ROOT/scripts/validate-k8s.ts" "${TMPDIR:-/tmp}/kvq-rendered.yaml"
    fi
    say "rendered $(grep -c '^kind:' "${TMPDIR:-/tmp}/kvq-rendered.yaml") objects to ${TMPDIR:-/tmp}/kvq-rendered.yaml"
    context="$(kubectl config current-context 2>/dev/null || echo none)"
    run docker build -t "$ref" --build-arg "REVISION=$(tag)" "$ROOT"
    if [ "$context" != none ]; then load_image "$ref" "$context"; fi
    run kubectl apply -f "${TMPDIR:-/tmp}/kvq-rendered.yaml"
    return
  fi
  need docker "https://docs.docker.com/get-docker/"
  need curl "install curl"
  context="$(kubectl config current-context 2>/dev/null)" || die "no current kubectl context: start a local cluster first"
  say "context: $context, image: $ref"
  # An unknown context fails here (exit 2), before a slow image build.
  case "$context" in kind-* | minikube | k3d-* | docker-desktop) ;; *) load_image "$ref" "$context" ;; esac
  say "building $ref"
  docker build -t "$ref" --build-arg "REVISION=$(tag)" "$ROOT"
  say "loading $ref into the cluster"
  load_image "$ref" "$context"
  say "applying k8s/overlays/local"
  render "$(tag)" | kubectl apply -f -
  for workload in statefulset/kvq-queue-redis statefulset/kvq-data-redis deployment/kvq-api deployment/kvq-worker deployment/kvq-autoscaler; do
    say "waiting for $workload (timeout $ROLLOUT_TIMEOUT)"
    kubectl -n "$NAMESPACE" rollout status "$workload" --timeout="$ROLLOUT_TIMEOUT"
  done
  token="$(sed -n 's/^API_TOKEN=//p' "$SECRETS")"
  smoke_test "$token"
  cat <<EOF

kvq is running in namespace $NAMESPACE.
  API:      kubectl -n $NAMESPACE port-forward svc/kvq-api $LOCAL_PORT:80   then http://127.0.0.1:$LOCAL_PORT
            (NodePort 30080 on the node as well; kind needs an extraPortMapping to reach it)
  Token:    kubectl -n $NAMESPACE get secret kvq-secrets -o jsonpath='{.data.API_TOKEN}' | base64 -d
  Postman:  import postman/kvq.postman_collection.json and postman/local.postman_environment.json,
            set baseUrl to http://127.0.0.1:$LOCAL_PORT and token to the value above
  Docs:     http://127.0.0.1:$LOCAL_PORT/docs
EOF
}

down() {
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  say "deleting namespace $NAMESPACE (and its volumes)"
  run kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=true
}

status() {
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  run kubectl -n "$NAMESPACE" get deployments,statefulsets,pods,services,pvc,hpa,pdb
}

case "$ACTION" in
  up) up ;;
  down) down ;;
  status) status ;;
esac
