import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * deploy.sh against recording fakes of kubectl, docker, kind, minikube, k3d and curl: no cluster
 * here, so the test checks what the script would run, in what order, for each kind of cluster.
 * kubectl's `kustomize` is passed through to the real kubectl so the real overlay is rendered.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
let work: string;
let fakes: string;
const realKubectl = spawnSync('sh', ['-c', 'command -v kubectl'], {
  encoding: 'utf8',
}).stdout.trim();

const FAKE = (name: string, body = '') => `#!/usr/bin/env bash
echo "${name} $*" >> "$FAKE_LOG"
${body}
exit 0
`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kvq-deploy-'));
  // A copy of what deploy.sh needs, so its generated secrets.env lands outside the repo.
  cpSync(join(root, 'deploy.sh'), join(work, 'deploy.sh'));
  cpSync(join(root, 'k8s'), join(work, 'k8s'), {
    recursive: true,
    filter: (p) => !p.endsWith('secrets.env'),
  });
  cpSync(join(root, 'scripts'), join(work, 'scripts'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
  fakes = join(work, 'fakes');
  cpSync(join(root, 'package.json'), join(work, 'package.json'));
  const files: Record<string, string> = {
    kubectl: FAKE(
      'kubectl',
      `case "$1 $2" in
  "config current-context") [ -n "$FAKE_CONTEXT" ] || exit 1; echo "$FAKE_CONTEXT"; exit 0 ;;
  "kustomize "*) exec "${realKubectl}" "$@" ;;
esac
case "$1" in
  apply) "${realKubectl}" kustomize "$3" > "$FAKE_APPLIED"; echo "applied" ;;
  port-forward) sleep 30 ;;
esac`,
    ),
    docker: FAKE('docker'),
    kind: FAKE('kind'),
    minikube: FAKE('minikube'),
    k3d: FAKE('k3d'),
    curl: FAKE(
      'curl',
      `case "$*" in
  *"-X PUT"*) printf 201 ;;
  *"%{http_code}"*) printf 200 ;;
esac`,
    ),
  };
  mkdirSync(fakes);
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(fakes, name), body);
    chmodSync(join(fakes, name), 0o755);
  }
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function deploy(args: string[], context: string) {
  const log = join(work, `log-${context || 'none'}-${args.join('_')}.txt`);
  const applied = join(work, `applied-${context || 'none'}.yaml`);
  writeFileSync(log, '');
  const r = spawnSync('bash', [join(work, 'deploy.sh'), ...args], {
    encoding: 'utf8',
    env: {
      PATH: `${fakes}:${process.env.PATH ?? ''}`,
      HOME: work,
      FAKE_LOG: log,
      FAKE_APPLIED: applied,
      FAKE_CONTEXT: context,
      TMPDIR: work,
    },
    timeout: 60_000,
  });
  const calls = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  const manifest = existsSync(applied) ? readFileSync(applied, 'utf8') : '';
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls, manifest };
}

const firstIndex = (calls: string[], re: RegExp) => calls.findIndex((c) => re.test(c));

describe.each([
  ['kind-dev', /^kind load docker-image kvq:\S+ --name dev$/],
  ['minikube', /^minikube image load kvq:\S+$/],
  ['k3d-mycluster', /^k3d image import kvq:\S+ -c mycluster$/],
  ['docker-desktop', null],
] as const)('up on %s', (context, loadCall) => {
  it('builds, loads the image the right way, applies, waits for every rollout, smoke-tests', () => {
    const r = deploy(['up'], context);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const build = firstIndex(r.calls, /^docker build -t kvq:\S+ /);
    const apply = firstIndex(r.calls, /^kubectl apply -k \S+\/k8s\/\.deploy$/);
    expect(build).toBeGreaterThanOrEqual(0);
    if (loadCall) {
      const load = firstIndex(r.calls, loadCall);
      expect(load, r.calls.join('\n')).toBeGreaterThan(build);
      expect(apply).toBeGreaterThan(load);
    } else {
      expect(r.calls.some((c) => /^(kind|minikube|k3d) /.test(c))).toBe(false);
      expect(r.stdout).toContain('Docker Desktop shares the Docker daemon');
    }
    const rollouts = r.calls.filter((c) => c.includes('rollout status'));
    expect(rollouts.map((c) => c.split(' ')[5])).toEqual([
      'statefulset/kvq-queue-redis',
      'statefulset/kvq-data-redis',
      'deployment/kvq-api',
      'deployment/kvq-worker',
      'deployment/kvq-autoscaler',
    ]);
    expect(rollouts.every((c) => c.includes('--timeout='))).toBe(true);
    expect(r.calls.some((c) => /^kubectl -n kvq port-forward svc\/kvq-api /.test(c))).toBe(true);
    expect(r.calls.some((c) => /^curl .*-X PUT .*\/v1\/keys\/deploy-smoke/.test(c))).toBe(true);
    expect(firstIndex(r.calls, /^curl .*-X PUT/)).toBeLessThan(
      r.calls.findLastIndex((c) => /^curl .*\/v1\/keys\/deploy-smoke/.test(c)),
    );
    // The applied manifest carries the image tag that was built and loaded.
    const tag = /^docker build -t (kvq:\S+)/.exec(r.calls[build] ?? '')?.[1];
    expect(r.manifest).toContain(`image: ${tag ?? 'missing'}`);
    expect(r.manifest).not.toContain('image: kvq:local');
    expect(r.stdout).toMatch(/Token:.*kvq-secrets/);
    expect(r.stdout).toMatch(/Postman:/);
  }, 60_000);
});

describe('--overlay', () => {
  /** What up waited for: `rollout status X` and `wait --for=condition=complete X`, in order. */
  const waits = (calls: string[]) =>
    calls
      .filter((c) => c.includes('rollout status') || c.includes(' wait --for=condition=complete'))
      .map((c) => c.split(' ')[5]);

  it('sentinel: applies overlays/sentinel, waits for the Sentinels too; kvq gets redis+sentinel:// URLs', () => {
    const r = deploy(['up', '--overlay', 'sentinel'], 'kind-dev');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(waits(r.calls)).toEqual([
      'statefulset/kvq-queue-redis',
      'statefulset/kvq-data-redis',
      'statefulset/kvq-sentinel',
      'deployment/kvq-api',
      'deployment/kvq-worker',
      'deployment/kvq-autoscaler',
    ]);
    expect(r.manifest).toContain('redis+sentinel://');
    expect(r.manifest).toMatch(/^ {2}name: kvq-sentinel$/m);
    expect(readFileSync(join(work, 'k8s/.deploy/kustomization.yaml'), 'utf8')).toContain(
      '../overlays/sentinel',
    );
    expect(r.stdout).toContain('applying k8s/overlays/sentinel');
  }, 60_000);

  it('cluster: deletes a finished bootstrap Job before applying, waits for both Jobs before kvq', () => {
    const r = deploy(['up', '--overlay=cluster'], 'kind-dev');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const del = firstIndex(
      r.calls,
      /^kubectl -n kvq delete job -l app.kubernetes.io\/component=redis-bootstrap --ignore-not-found$/,
    );
    const apply = firstIndex(r.calls, /^kubectl apply -k /);
    expect(del).toBeGreaterThanOrEqual(0);
    expect(del).toBeLessThan(apply);
    expect(waits(r.calls)).toEqual([
      'statefulset/kvq-queue-redis',
      'statefulset/kvq-data-redis',
      'job/kvq-queue-redis-bootstrap',
      'job/kvq-data-redis-bootstrap',
      'deployment/kvq-api',
      'deployment/kvq-worker',
      'deployment/kvq-autoscaler',
    ]);
    expect(r.manifest).toContain('redis+cluster://');
    expect(r.manifest).toContain('kind: Job');
  }, 60_000);

  it('keda: checks that KEDA is installed before applying, and waits for no kvq-autoscaler', () => {
    const r = deploy(['up', '--overlay', 'keda'], 'kind-dev');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const crd = firstIndex(r.calls, /^kubectl get crd scaledobjects\.keda\.sh$/);
    expect(crd).toBeGreaterThanOrEqual(0);
    expect(crd).toBeLessThan(firstIndex(r.calls, /^kubectl apply -k /));
    expect(waits(r.calls)).not.toContain('deployment/kvq-autoscaler');
    expect(r.manifest).toContain('kind: ScaledObject');
    const s = deploy(['status', '--overlay', 'keda'], 'kind-dev');
    expect(s.calls.some((c) => /^kubectl -n kvq get \S*scaledobjects/.test(c))).toBe(true);
  }, 60_000);

  it('--dry-run renders and validates each overlay without a cluster', () => {
    for (const o of ['sentinel', 'cluster', 'keda']) {
      const r = deploy(['up', '--dry-run', '--overlay', o], '');
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`rendering and validating k8s/overlays/${o}`);
      expect(r.stdout).toMatch(/validated \d+ objects: ok/);
      expect(r.calls.some((c) => c.startsWith('kubectl apply') || c.startsWith('kubectl -n'))).toBe(
        false,
      );
    }
  }, 120_000);

  it('an unknown overlay, or --overlay without a name, exits 2 before doing anything', () => {
    for (const args of [
      ['up', '--overlay', 'sentinal'],
      ['up', '--overlay'],
    ]) {
      const r = deploy(args, 'kind-dev');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/overlay/);
      expect(r.calls).toEqual([]);
    }
  });

  it('adds SENTINEL_PASSWORD to a secrets.env written before it existed, keeping the rest', () => {
    const file = join(work, 'k8s/overlays/local/secrets.env');
    writeFileSync(file, 'QUEUE_REDIS_PASSWORD=q\nKV_REDIS_PASSWORD=k\nAPI_TOKEN=t\n');
    const r = deploy(['up', '--dry-run', '--overlay', 'sentinel'], '');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'QUEUE_REDIS_PASSWORD=q',
      'KV_REDIS_PASSWORD=k',
      'API_TOKEN=t',
    ]);
    expect(lines[3]).toMatch(/^SENTINEL_PASSWORD=[0-9a-f]{48}$/);
    rmSync(file);
  }, 60_000);
});

it('refuses an unknown context with exit 2, before building anything', () => {
  const r = deploy(['up'], 'gke_prod_cluster');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/unknown kubectl context 'gke_prod_cluster'/);
  expect(r.calls.some((c) => c.startsWith('docker '))).toBe(false);
  expect(r.calls.some((c) => c.startsWith('kubectl apply'))).toBe(false);
});

it('re-running up is idempotent: the same apply, secrets kept', () => {
  const a = deploy(['up'], 'kind-dev');
  const secretsBefore = readFileSync(join(work, 'k8s/overlays/local/secrets.env'), 'utf8');
  const b = deploy(['up'], 'kind-dev');
  expect(b.status).toBe(0);
  expect(readFileSync(join(work, 'k8s/overlays/local/secrets.env'), 'utf8')).toBe(secretsBefore);
  expect(b.manifest).toBe(a.manifest);
}, 60_000);

it('--dry-run renders and validates without a cluster and runs nothing', () => {
  const r = deploy(['up', '--dry-run'], '');
  expect(r.status, r.stderr + r.stdout).toBe(0);
  expect(r.stdout).toMatch(/validated \d+ objects: ok/);
  expect(r.stdout).toMatch(/\[dry-run\] docker build -t kvq:/);
  expect(r.stdout).toMatch(/\[dry-run\] kubectl apply -k \S+\/k8s\/\.deploy/);
  expect(r.calls.some((c) => c.startsWith('docker ') || c.startsWith('kubectl apply'))).toBe(false);
}, 60_000);

it('down deletes the namespace; status lists the workloads; a bad argument exits 2', () => {
  const d = deploy(['down'], 'kind-dev');
  expect(d.status).toBe(0);
  expect(d.calls).toContain('kubectl delete namespace kvq --ignore-not-found --wait=true');
  const s = deploy(['status'], 'kind-dev');
  expect(s.status).toBe(0);
  expect(s.calls.some((c) => c.startsWith('kubectl -n kvq get deployments,statefulsets'))).toBe(
    true,
  );
  expect(deploy(['sideways'], 'kind-dev').status).toBe(2);
});

it('says what is missing when a prerequisite is not installed', () => {
  const r = spawnSync('bash', [join(work, 'deploy.sh'), 'up'], {
    encoding: 'utf8',
    env: {
      PATH: '/usr/bin:/bin'
        .split(':')
        .filter((p) => p)
        .join(':'),
      HOME: work,
    },
  });
  if (spawnSync('sh', ['-c', 'PATH=/usr/bin:/bin command -v kubectl']).status === 0) {
    // With kubectl in /usr/bin, docker is the first thing missing.
    expect(r.stderr).toMatch(/(docker|no current kubectl context)/);
  } else {
    expect(r.stderr).toMatch(/kubectl is required/);
  }
  expect(r.status).not.toBe(0);
});
