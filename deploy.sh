#!/usr/bin/env bash
# Run kvq on a local Kubernetes cluster (kind, minikube, k3d, Docker Desktop, OrbStack, Rancher
# Desktop), built with Docker or Podman. `./deploy.sh --help` lists the commands; docs/deploy.md
# explains them. Every command checks before it acts: the kubectl context (it exists, names a
# local cluster unless given with --context, the cluster answers) and, for `up`, the container
# engine and the cluster's CLI, all before the image is built.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./deploy.sh [command] [options]

Commands:
  up            check the engine and the cluster, build the image, load it into the cluster,
                apply the overlay, wait for every rollout, smoke-test PUT then GET (default);
                adds the monitoring (ServiceMonitors, alerts, Grafana dashboard) where the cluster
                runs the Prometheus Operator (kube-prometheus-stack)
  down          delete the kvq namespace: everything, with its volumes
  status        show what runs
  logs [ROLE]   follow the logs of every pod of ROLE: api (default), worker or autoscaler
  port-forward  forward 127.0.0.1:PORT to the kvq-api Service until Ctrl-C
  token         create an admin API key (kvq keys create in an API pod) and print it
  cluster       create a kind cluster from k8s/kind-config.yaml (the API's NodePort on
                127.0.0.1:30080); kind makes it the current context

Options:
  --overlay NAME  which of k8s/overlays/ up deploys: local (default), sentinel, cluster, keda
  --context NAME  the kubectl context to use. Without it, the current context must be a local
                  cluster: kind-*, minikube, k3d-*, docker-desktop, orbstack, rancher-desktop
  --engine NAME   docker or podman (default: docker if its daemon answers, else podman)
  --port N        local port of port-forward and of up's smoke test (default 18080)
  --dry-run       render and validate the manifests, print what would run; writes nothing and
                  needs no cluster
  -h, --help      show this text

Environment: ROLLOUT_TIMEOUT (default 180s), LOCAL_PORT (as --port), KVQ_ENGINE (as --engine),
KIND_CLUSTER_NAME (the cluster `cluster` creates, default kvq).
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OVERLAY=local
# Every overlay builds on overlays/local and the Secret it generates from this file.
SECRETS="$ROOT/k8s/overlays/local/secrets.env"
SECRET_KEYS="QUEUE_REDIS_PASSWORD KV_REDIS_PASSWORD API_TOKEN SENTINEL_PASSWORD"
NAMESPACE=kvq
IMAGE=kvq
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-180s}"
LOCAL_PORT="${LOCAL_PORT:-18080}"
ENGINE="${KVQ_ENGINE:-}"
CONTEXT=""
CONTEXT_GIVEN=0
ACTION=up
LOG_ROLE=api
DRY_RUN=0

die() {
  printf 'deploy.sh: %s\n' "$1" >&2
  exit "${2:-1}"
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    up | down | status | logs | port-forward | token | cluster) ACTION="$1" ;;
    api | worker | autoscaler)
      [ "$ACTION" = logs ] || die "unknown argument '$1' (see --help)" 2
      LOG_ROLE="$1"
      ;;
    --dry-run) DRY_RUN=1 ;;
    --overlay | --context | --engine | --port)
      [ "$#" -ge 2 ] || die "$1 needs a value (see --help)" 2
      case "$1" in
        --overlay) OVERLAY="$2" ;;
        --context) CONTEXT="$2" CONTEXT_GIVEN=1 ;;
        --engine) ENGINE="$2" ;;
        --port) LOCAL_PORT="$2" ;;
      esac
      shift
      ;;
    --overlay=*) OVERLAY="${1#--overlay=}" ;;
    --context=*) CONTEXT="${1#--context=}" CONTEXT_GIVEN=1 ;;
    --engine=*) ENGINE="${1#--engine=}" ;;
    --port=*) LOCAL_PORT="${1#--port=}" ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" 2 ;;
  esac
  shift
done
case "$OVERLAY" in
  local | sentinel | cluster | keda) ;;
  *) die "unknown overlay '$OVERLAY': use local, sentinel, cluster or keda" 2 ;;
esac
case "$ENGINE" in
  '' | docker | podman) ;;
  *) die "unknown engine '$ENGINE': use docker or podman" 2 ;;
esac
case "$LOCAL_PORT" in
  '' | *[!0-9]*) die "--port needs a port number, not '$LOCAL_PORT'" 2 ;;
esac
if [ "$CONTEXT_GIVEN" = 1 ] && [ -z "$CONTEXT" ]; then die "--context needs a name" 2; fi

say() { printf '==> %s\n' "$*"; }
# In --dry-run mode, print what would run instead of running it.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}
# Every call to the cluster names the checked context, so nothing can reach another cluster
# (or, with no context at all, whatever answers on localhost:8080).
kc() { run kubectl --context "$CONTEXT" "$@"; }
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not on PATH: $2"
}

# The manifest check (scripts/*.ts) runs on Node's type stripping: the floor of bin/kvq.js.
# A Node without it would fail with a stack trace deep in the script; say so in one line first.
check_node() {
  command -v node >/dev/null 2>&1 || return 0
  local found major minor
  found="$(node -p process.versions.node 2>/dev/null)" || found=unknown
  major="${found%%.*}"
  minor="${found#*.}"
  minor="${minor%%.*}"
  case "$major$minor" in *[!0-9]* | "") die "needs Node >= 22.19 (found $found); see .nvmrc (nvm install, or fnm use)" ;; esac
  if [ "$major" -lt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -lt 19 ]; }; then
    die "needs Node >= 22.19 (found $found); see .nvmrc (nvm install, or fnm use)"
  fi
}

# Files made by this run (the dry-run render, a Podman image archive); removed on any exit.
WORK_TMP=""
PF_PID=""
cleanup() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; fi
  PF_PID=""
  if [ -n "$WORK_TMP" ]; then rm -rf "$WORK_TMP"; fi
}
trap cleanup EXIT
work_tmp() {
  if [ -z "$WORK_TMP" ]; then WORK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/kvq-deploy.XXXXXX")"; fi
}

# --- the kubectl context ---------------------------------------------------------------------

is_local_context() {
  case "$1" in
    kind-* | minikube | k3d-* | docker-desktop | orbstack | rancher-desktop) return 0 ;;
    *) return 1 ;;
  esac
}

# Sets CONTEXT: the one given with --context, or the current one if it is a local cluster's.
resolve_context() {
  local contexts
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  if [ "$CONTEXT_GIVEN" = 0 ]; then
    CONTEXT="$(kubectl config current-context 2>/dev/null)" || CONTEXT=""
    if [ -z "$CONTEXT" ]; then
      if [ "$DRY_RUN" = 1 ]; then
        CONTEXT="<current-context>"
        say "no kubectl context: without --dry-run this stops here"
        return
      fi
      die "no current kubectl context: start a local cluster first (./deploy.sh cluster creates a kind one) or name a context with --context" 2
    fi
    if ! is_local_context "$CONTEXT"; then
      die "the current kubectl context '$CONTEXT' is not a local cluster (kind-*, minikube, k3d-*, docker-desktop, orbstack, rancher-desktop): switch with kubectl config use-context, or name it with --context $CONTEXT if you mean it" 2
    fi
  fi
  # Read whole, then matched: grep -q ending a pipe early would fail it under pipefail.
  contexts="$(kubectl config get-contexts -o name 2>/dev/null)" || contexts=""
  if ! grep -qxF -- "$CONTEXT" <<<"$contexts"; then
    die "kubectl context '$CONTEXT' does not exist (kubectl config get-contexts lists them)" 2
  fi
}

start_hint() {
  case "$CONTEXT" in
    kind-*) echo "kind get clusters; ./deploy.sh cluster creates one" ;;
    minikube) echo "minikube status; minikube start" ;;
    k3d-*) echo "k3d cluster list; k3d cluster start ${CONTEXT#k3d-}" ;;
    *) echo "start it, or check kubectl cluster-info --context $CONTEXT" ;;
  esac
}

check_reachable() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] check: the cluster of context %s answers\n' "$CONTEXT"
    return
  fi
  kubectl --context "$CONTEXT" get --raw=/readyz --request-timeout=10s >/dev/null 2>&1 ||
    die "the cluster of context '$CONTEXT' does not answer: is it running? ($(start_hint))"
}

# What every command that talks to the cluster checks first.
preflight_cluster() {
  resolve_context
  check_reachable
}

# --- the container engine and the image ------------------------------------------------------

engine_hint() {
  case "$1" in
    docker) echo "start Docker Desktop, OrbStack or the docker service" ;;
    podman) echo "on macOS and Windows: podman machine start" ;;
  esac
}

# Sets ENGINE: the one asked for, or docker if its daemon answers, else podman.
choose_engine() {
  local e
  if [ "$DRY_RUN" = 1 ]; then
    ENGINE="${ENGINE:-docker}"
    printf '[dry-run] check: %s info\n' "$ENGINE"
    return
  fi
  if [ -n "$ENGINE" ]; then
    need "$ENGINE" "install it, or choose the other engine with --engine"
    "$ENGINE" info >/dev/null 2>&1 || die "$ENGINE does not answer ($ENGINE info failed): $(engine_hint "$ENGINE")"
    return
  fi
  for e in docker podman; do
    if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then
      ENGINE="$e"
      return
    fi
  done
  for e in docker podman; do
    if command -v "$e" >/dev/null 2>&1; then
      die "$e is installed but does not answer ($e info failed): $(engine_hint "$e")"
    fi
  done
  die "no container engine: install Docker (https://docs.docker.com/get-docker/) or Podman (https://podman.io/docs/installation)"
}

# A hash of what differs from HEAD: tracked changes plus untracked files (not ignored ones).
worktree_hash() {
  {
    git -C "$ROOT" --no-optional-locks diff HEAD --binary
    git -C "$ROOT" ls-files --others --exclude-standard -z | while IFS= read -r -d '' f; do
      if [ -L "$ROOT/$f" ]; then
        printf '%s -> %s\n' "$f" "$(readlink "$ROOT/$f")"
      elif [ -f "$ROOT/$f" ]; then
        printf '%s %s\n' "$f" "$(git -C "$ROOT" hash-object -- "$f")"
      fi
    done
  } | git hash-object --stdin | cut -c1-12
}

# The commit; with uncommitted changes, a tag of their content as well, so that every edit
# gets a new tag and a new rollout (and the same content the same tag). Outside a git checkout
# nothing tells what changed: each build gets its own tag.
image_tag() {
  local sha
  if command -v git >/dev/null 2>&1 && sha="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null)"; then
    if [ -n "$(git -C "$ROOT" --no-optional-locks status --porcelain 2>/dev/null)" ]; then
      sha="$sha-dirty-$(worktree_hash)"
    fi
    printf '%s' "$sha"
  else
    date -u +dev-%Y%m%d%H%M%S
  fi
}

# How the image reaches the cluster: LOADER is kind, minikube, k3d or shared (the cluster runs on
# Docker's own daemon and sees its images).
LOADER=""
CLUSTER_NAME=""
choose_loader() {
  case "$CONTEXT" in
    kind-*) LOADER=kind CLUSTER_NAME="${CONTEXT#kind-}" ;;
    minikube) LOADER=minikube ;;
    k3d-*) LOADER=k3d CLUSTER_NAME="${CONTEXT#k3d-}" ;;
    docker-desktop | orbstack | rancher-desktop) LOADER=shared ;;
    "<current-context>") LOADER="" ;;
    *) die "up loads the image into a local cluster, and context '$CONTEXT' is not one (kind-*, minikube, k3d-*, docker-desktop, orbstack, rancher-desktop): for another cluster, push the image to a registry it pulls from and apply k8s/overlays/$OVERLAY yourself" 2 ;;
  esac
  case "$LOADER" in
    kind) need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    minikube) need minikube "https://minikube.sigs.k8s.io/docs/start/" ;;
    k3d) need k3d "https://k3d.io/#installation" ;;
  esac
}

load_image() {
  local archive=""
  if [ "$ENGINE" = podman ] && [ "$LOADER" != shared ] && [ -n "$LOADER" ]; then
    work_tmp
    archive="$WORK_TMP/kvq-image.tar"
    run podman save --format docker-archive -o "$archive" "$REF"
  fi
  case "$LOADER" in
    kind)
      if [ -n "$archive" ]; then
        run env KIND_EXPERIMENTAL_PROVIDER=podman kind load image-archive "$archive" --name "$CLUSTER_NAME"
      else
        run kind load docker-image "$REF" --name "$CLUSTER_NAME"
      fi
      ;;
    minikube) run minikube image load "${archive:-$REF}" ;;
    k3d) run k3d image import "${archive:-$REF}" -c "$CLUSTER_NAME" ;;
    shared) say "$CONTEXT shares the Docker daemon (Docker Desktop, OrbStack, Rancher Desktop with dockerd): no image load needed" ;;
    *) say "no kubectl context: no image load to show" ;;
  esac
}

# --- manifests -------------------------------------------------------------------------------

# Random hex values: safe inside the redis:// URLs the manifests build from them. A key added
# since the file was written (SENTINEL_PASSWORD) is appended; existing values are kept.
ensure_secrets() {
  local key
  umask 077
  [ -f "$SECRETS" ] || say "generating $SECRETS (random passwords and API token; git-ignored)"
  touch "$SECRETS"
  for key in $SECRET_KEYS; do
    if ! grep -q "^$key=" "$SECRETS"; then
      printf '%s=%s\n' "$key" "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>"$SECRETS"
    fi
  done
}

# A kustomization on top of the chosen overlay that pins the image to the tag just built (and
# adds the API's CPU autoscaler where the cluster serves the metrics API, and the monitoring where
# it has the Prometheus Operator), so the cluster gets exactly that image through
# `kubectl apply -k`. Written to the git-ignored k8s/.deploy.
write_kustomization() {
  local dir="$1" hpa="$2" monitoring="${3:-0}"
  mkdir -p "$dir"
  {
    echo "# Generated by deploy.sh: overlays/$OVERLAY with the image tag of this deploy."
    echo 'apiVersion: kustomize.config.k8s.io/v1beta1'
    echo 'kind: Kustomization'
    echo 'resources:'
    echo "  - ../overlays/$OVERLAY"
    if [ "$hpa" = 1 ] || [ "$monitoring" = 1 ]; then echo 'components:'; fi
    if [ "$hpa" = 1 ]; then echo '  - ../components/api-cpu-hpa'; fi
    if [ "$monitoring" = 1 ]; then echo '  - ../components/monitoring'; fi
    echo 'images:'
    echo "  - name: $IMAGE"
    echo "    newTag: \"$TAG\""
  } >"$dir/kustomization.yaml"
}

# The HorizontalPodAutoscaler on the API's CPU needs the metrics API (metrics-server); local
# clusters often lack it, and an HPA without metrics never acts. The workers scale on the queue
# backlog (kvq-autoscaler, or KEDA) either way.
metrics_api_served() {
  [ "$(kubectl --context "$CONTEXT" get apiservice v1beta1.metrics.k8s.io \
    -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)" = True ]
}

# ServiceMonitors, the PrometheusRule and the dashboard (k8s/components/monitoring) need the
# Prometheus Operator's CRDs (kube-prometheus-stack installs them); a bare cluster lacks them, and
# an apply with them would fail half-way.
monitoring_served() {
  kubectl --context "$CONTEXT" get crd servicemonitors.monitoring.coreos.com \
    prometheusrules.monitoring.coreos.com >/dev/null 2>&1
}

# What `up` waits for, in order: Redis first (and, for Redis Cluster, its bootstrap Jobs), then kvq.
workloads() {
  case "$OVERLAY" in
    local | keda) echo statefulset/kvq-queue-redis statefulset/kvq-data-redis ;;
    sentinel) echo statefulset/kvq-queue-redis statefulset/kvq-data-redis statefulset/kvq-sentinel ;;
    cluster) echo statefulset/kvq-queue-redis statefulset/kvq-data-redis job/kvq-queue-redis-bootstrap job/kvq-data-redis-bootstrap ;;
  esac
  echo deployment/kvq-api deployment/kvq-worker
  if [ "$OVERLAY" != keda ]; then echo deployment/kvq-autoscaler; fi
}

# What an overlay needs before `kubectl apply`.
before_apply() {
  local hpa="$1"
  case "$OVERLAY" in
    keda)
      # Without KEDA's CRDs the apply fails half-way, with kvq-autoscaler already gone.
      if [ "$DRY_RUN" = 0 ] && ! kubectl --context "$CONTEXT" get crd scaledobjects.keda.sh >/dev/null 2>&1; then
        die "the keda overlay needs KEDA installed (https://keda.sh/docs/deploy/): no scaledobjects.keda.sh CRD" 2
      fi
      ;;
    cluster)
      # A Job's pod template cannot change in place; the bootstrap is idempotent, so a finished
      # one is deleted and runs again (on a formed cluster it only checks cluster_state).
      kc -n "$NAMESPACE" delete job -l app.kubernetes.io/component=redis-bootstrap --ignore-not-found
      ;;
  esac
  # `apply` does not delete: an API autoscaler left from an earlier deploy goes when it no
  # longer has metrics to act on.
  if [ "$hpa" = 0 ]; then kc -n "$NAMESPACE" delete hpa kvq-api --ignore-not-found; fi
}

# --- commands --------------------------------------------------------------------------------

smoke_test() {
  local token="$1" status
  say "smoke test through a port-forward on 127.0.0.1:$LOCAL_PORT"
  kubectl --context "$CONTEXT" -n "$NAMESPACE" port-forward --address 127.0.0.1 svc/kvq-api "$LOCAL_PORT:80" >/dev/null 2>&1 &
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
  kill "$PF_PID" 2>/dev/null || true
  PF_PID=""
  say "smoke test passed: PUT then GET /v1/keys/deploy-smoke"
}

# --dry-run: render the overlay from a scratch copy of k8s/ with placeholder secrets, validate it,
# print what `up` would run. Nothing in the checkout is written.
up_dry_run() {
  local rendered
  check_node
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  TAG="$(image_tag)"
  work_tmp
  cp -R "$ROOT/k8s" "$WORK_TMP/k8s"
  rm -rf "$WORK_TMP/k8s/.deploy"
  for key in $SECRET_KEYS; do printf '%s=dry-run\n' "$key"; done >"$WORK_TMP/k8s/overlays/local/secrets.env"
  say "rendering and validating k8s/overlays/$OVERLAY (no cluster needed)"
  write_kustomization "$WORK_TMP/k8s/.deploy" 0
  rendered="$WORK_TMP/rendered.yaml"
  kubectl kustomize "$WORK_TMP/k8s/.deploy" >"$rendered"
  if command -v node >/dev/null 2>&1 && [ -f "$ROOT/scripts/validate-k8s.ts" ]; then
    node "$ROOT/scripts/validate-k8s.ts" "$rendered"
  fi
  say "rendered $(grep -c '^kind:' "$rendered") objects"
  resolve_context
  choose_loader
  choose_engine
  check_reachable
  REF="$IMAGE:$TAG"
  if [ "$ENGINE" = podman ]; then REF="docker.io/library/$REF"; fi
  if [ -f "$SECRETS" ]; then
    printf '[dry-run] keep %s (add any missing key)\n' "$SECRETS"
  else
    printf '[dry-run] write %s (random passwords and API token)\n' "$SECRETS"
  fi
  run "$ENGINE" build -t "$REF" --build-arg "REVISION=$TAG" "$ROOT"
  load_image
  printf '[dry-run] write %s\n' "$ROOT/k8s/.deploy/kustomization.yaml"
  before_apply 0
  kc apply -k "$ROOT/k8s/.deploy"
}

up() {
  local hpa=0 monitoring=0 with="" token
  if [ "$DRY_RUN" = 1 ]; then
    up_dry_run
    return
  fi
  need curl "install curl"
  # Everything is checked before the (slow) image build.
  resolve_context
  choose_loader
  choose_engine
  if [ "$LOADER" = shared ] && [ "$ENGINE" != docker ]; then
    die "$CONTEXT runs on Docker's daemon and does not see Podman's images: use --engine docker" 2
  fi
  check_reachable
  TAG="$(image_tag)"
  # kvq:TAG means docker.io/library/kvq:TAG to the cluster; Podman would name it localhost/kvq.
  REF="$IMAGE:$TAG"
  if [ "$ENGINE" = podman ]; then REF="docker.io/library/$REF"; fi
  say "context: $CONTEXT, engine: $ENGINE, image: $REF"
  ensure_secrets
  say "building $REF"
  "$ENGINE" build -t "$REF" --build-arg "REVISION=$TAG" "$ROOT"
  say "loading $REF into the cluster"
  load_image
  if metrics_api_served; then hpa=1 with=", with the API's CPU autoscaler"; fi
  if monitoring_served; then monitoring=1 with="$with, with ServiceMonitors, alerts and dashboard"; fi
  say "applying k8s/overlays/$OVERLAY (image $REF$with)"
  write_kustomization "$ROOT/k8s/.deploy" "$hpa" "$monitoring"
  before_apply "$hpa"
  kc apply -k "$ROOT/k8s/.deploy"
  for workload in $(workloads); do
    say "waiting for $workload (timeout $ROLLOUT_TIMEOUT)"
    case "$workload" in
      job/*) kc -n "$NAMESPACE" wait --for=condition=complete "$workload" --timeout="$ROLLOUT_TIMEOUT" ;;
      *) kc -n "$NAMESPACE" rollout status "$workload" --timeout="$ROLLOUT_TIMEOUT" ;;
    esac
  done
  token="$(sed -n 's/^API_TOKEN=//p' "$SECRETS")"
  smoke_test "$token"
  cat <<EOF

kvq is running in namespace $NAMESPACE (context $CONTEXT, image $REF).
  API:      ./deploy.sh port-forward   then http://127.0.0.1:$LOCAL_PORT
            (NodePort 30080 as well: http://127.0.0.1:30080 on a cluster from ./deploy.sh cluster)
  Token:    ./deploy.sh token
  Logs:     ./deploy.sh logs api   or   ./deploy.sh logs worker
  Postman:  import postman/kvq.postman_collection.json and postman/local.postman_environment.json,
            set baseUrl to http://127.0.0.1:$LOCAL_PORT and token to ./deploy.sh token
  Docs:     http://127.0.0.1:$LOCAL_PORT/docs
EOF
}

down() {
  preflight_cluster
  say "deleting namespace $NAMESPACE (and its volumes) in context $CONTEXT"
  kc delete namespace "$NAMESPACE" --ignore-not-found --wait=true
}

status() {
  local kinds=deployments,statefulsets,jobs,pods,services,pvc,hpa,pdb
  preflight_cluster
  if [ "$OVERLAY" = keda ]; then kinds="$kinds,scaledobjects"; fi
  kc -n "$NAMESPACE" get "$kinds"
}

logs() {
  preflight_cluster
  kc -n "$NAMESPACE" logs --follow --selector "app.kubernetes.io/name=kvq-$LOG_ROLE" \
    --all-containers --prefix --max-log-requests=20 --tail=200
}

port_forward() {
  preflight_cluster
  say "http://127.0.0.1:$LOCAL_PORT -> svc/kvq-api in context $CONTEXT (Ctrl-C stops; the token: ./deploy.sh token)"
  kc -n "$NAMESPACE" port-forward --address 127.0.0.1 svc/kvq-api "$LOCAL_PORT:80"
}

# A new admin API key, alone on stdout: `kvq keys create` in an API pod, which writes it straight
# to the data Redis (what it is goes to stderr). Each call makes another key; list and revoke them
# with `kubectl exec deploy/kvq-api -- kvq keys list` / `kvq keys revoke <id>`.
token() {
  local key
  preflight_cluster
  if [ "$DRY_RUN" = 1 ]; then
    kc -n "$NAMESPACE" exec deploy/kvq-api -- kvq keys create --name deploy.sh --scope admin
    return
  fi
  key="$(kubectl --context "$CONTEXT" -n "$NAMESPACE" exec deploy/kvq-api -- kvq keys create --name deploy.sh --scope admin)" ||
    die "could not create an API key in deploy/kvq-api (namespace $NAMESPACE of context $CONTEXT): deploy first (./deploy.sh up)"
  [[ "$key" == kvq_* ]] || die "kvq keys create answered no key"
  printf '%s\n' "$key"
}

cluster() {
  local name="${KIND_CLUSTER_NAME:-kvq}" clusters=""
  need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  choose_engine
  # kind finds its node containers through Docker unless told to use Podman.
  if [ "$ENGINE" = podman ]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
  if [ "$DRY_RUN" = 0 ]; then clusters="$(kind get clusters 2>/dev/null)" || clusters=""; fi
  if grep -qxF -- "$name" <<<"$clusters"; then
    say "kind cluster $name exists (context kind-$name)"
  else
    say "creating kind cluster $name from k8s/kind-config.yaml (engine $ENGINE)"
    run kind create cluster --name "$name" --config "$ROOT/k8s/kind-config.yaml" --wait 120s
  fi
  say "next: ./deploy.sh up --context kind-$name"
}

case "$ACTION" in
  up) up ;;
  down) down ;;
  status) status ;;
  logs) logs ;;
  port-forward) port_forward ;;
  token) token ;;
  cluster) cluster ;;
esac
