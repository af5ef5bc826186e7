import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clusterCalls, createSandbox, firstIndex, type Sandbox } from './deploy-fakes.ts';

/** deploy.sh up, for each kind of cluster, engine and overlay (see deploy-fakes.ts). */
let box: Sandbox;
beforeAll(() => {
  box = createSandbox();
});
afterAll(() => {
  box.remove();
});

/** What up waited for: `rollout status X` and `wait --for=condition=complete X`, in order. */
const waits = (calls: string[]) =>
  calls
    .filter((c) => c.includes(' rollout status ') || c.includes(' wait --for=condition=complete '))
    .map((c) => /(?:status|complete) (\S+)/.exec(c)?.[1]);

describe.each([
  ['kind-dev', /^kind load docker-image kvq:\S+ --name dev$/],
  ['minikube', /^minikube image load kvq:\S+$/],
  ['k3d-mycluster', /^k3d image import kvq:\S+ -c mycluster$/],
  ['docker-desktop', null],
  ['orbstack', null],
  ['rancher-desktop', null],
] as const)('up on %s with Docker', (context, loadCall) => {
  it('checks, builds, loads the image the right way, applies, waits for every rollout, smoke-tests', () => {
    const r = box.run(['up'], { context });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const build = firstIndex(r.calls, /^docker build -t kvq:\S+ /);
    const apply = firstIndex(r.calls, /^kubectl --context \S+ apply -k \S+\/k8s\/\.deploy$/);
    expect(build).toBeGreaterThanOrEqual(0);
    // The engine and the cluster were checked before the build.
    expect(firstIndex(r.calls, /^docker info$/)).toBeLessThan(build);
    expect(firstIndex(r.calls, /^kubectl --context \S+ get --raw=\/readyz /)).toBeLessThan(build);
    if (loadCall) {
      const load = firstIndex(r.calls, loadCall);
      expect(load, r.calls.join('\n')).toBeGreaterThan(build);
      expect(apply).toBeGreaterThan(load);
    } else {
      expect(r.calls.some((c) => /^(kind|minikube|k3d) /.test(c))).toBe(false);
      expect(r.stdout).toContain('shares the Docker daemon');
    }
    expect(waits(r.calls)).toEqual([
      'statefulset/kvq-queue-redis',
      'statefulset/kvq-data-redis',
      'deployment/kvq-api',
      'deployment/kvq-worker',
      'deployment/kvq-autoscaler',
    ]);
    const rollouts = r.calls.filter((c) => c.includes('rollout status'));
    expect(rollouts.every((c) => c.includes('--timeout='))).toBe(true);
    // Every call to the cluster names the context that was checked.
    const cluster = clusterCalls(r.calls);
    expect(cluster.length).toBeGreaterThan(5);
    for (const c of cluster) expect(c).toMatch(new RegExp(`^kubectl --context ${context} `));
    expect(
      r.calls.some((c) =>
        /^kubectl --context \S+ -n kvq port-forward --address 127\.0\.0\.1 svc\/kvq-api /.test(c),
      ),
    ).toBe(true);
    expect(r.calls.some((c) => /^curl .*-X PUT .*\/v1\/keys\/deploy-smoke/.test(c))).toBe(true);
    expect(firstIndex(r.calls, /^curl .*-X PUT/)).toBeLessThan(
      r.calls.findLastIndex((c) => /^curl .*\/v1\/keys\/deploy-smoke/.test(c)),
    );
    // The applied manifest carries the image tag that was built and loaded.
    const tag = /^docker build -t (kvq:\S+)/.exec(r.calls[build] ?? '')?.[1];
    expect(r.manifest).toContain(`image: ${tag ?? 'missing'}`);
    expect(r.manifest).not.toContain('image: kvq:local');
    expect(r.stdout).toMatch(/Token: +\.\/deploy\.sh token/);
    expect(r.stdout).toMatch(/Postman:/);
  }, 60_000);
});

describe.each([
  [
    'kind-dev',
    /^env KIND_EXPERIMENTAL_PROVIDER=podman$/,
    /^kind load image-archive (\S+\/kvq-image\.tar) --name dev$/,
  ],
  ['minikube', null, /^minikube image load (\S+\/kvq-image\.tar)$/],
  ['k3d-mycluster', null, /^k3d image import (\S+\/kvq-image\.tar) -c mycluster$/],
] as const)('up on %s with Podman', (context, envLine, loadCall) => {
  it('builds with podman under the name the cluster resolves, saves an archive and loads it', () => {
    // No docker at all: the engine is found by itself.
    const r = box.run(['up'], { context, without: ['docker'] });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const build = firstIndex(r.calls, /^podman build -t docker\.io\/library\/kvq:\S+ /);
    expect(build, r.calls.join('\n')).toBeGreaterThan(firstIndex(r.calls, /^podman info$/));
    const save = firstIndex(
      r.calls,
      /^podman save --format docker-archive -o \S+\/kvq-image\.tar docker\.io\/library\/kvq:\S+$/,
    );
    const load = firstIndex(r.calls, loadCall);
    expect(save).toBeGreaterThan(build);
    expect(load, r.calls.join('\n')).toBeGreaterThan(save);
    expect(loadCall.exec(r.calls[load] ?? '')?.[1]).toBe(/-o (\S+)/.exec(r.calls[save] ?? '')?.[1]);
    if (envLine) expect(r.calls[load + 1]).toMatch(envLine);
    expect(firstIndex(r.calls, /^kubectl --context \S+ apply -k /)).toBeGreaterThan(load);
    // kvq:TAG in the manifest is docker.io/library/kvq:TAG, the name the image was built with.
    const tag = /docker\.io\/library\/kvq:(\S+)/.exec(r.calls[build] ?? '')?.[1];
    expect(r.manifest).toContain(`image: kvq:${tag ?? 'missing'}`);
  }, 60_000);
});

it('up prefers Docker when its daemon answers, takes Podman when it does not, and obeys --engine', () => {
  const down = box.run(['up'], { env: { FAKE_DOCKER_DOWN: '1' } });
  expect(down.status, down.stderr).toBe(0);
  expect(down.calls.some((c) => c.startsWith('podman build '))).toBe(true);
  expect(down.calls.some((c) => c.startsWith('docker build '))).toBe(false);
  const asked = box.run(['up', '--engine', 'podman']);
  expect(asked.status, asked.stderr).toBe(0);
  expect(asked.calls.some((c) => c.startsWith('podman build '))).toBe(true);
  expect(asked.calls.some((c) => c.startsWith('docker '))).toBe(false);
}, 60_000);

it('the API CPU autoscaler is applied only where the metrics API is served; workers keep kvq-autoscaler', () => {
  const without = box.run(['up']);
  expect(without.status, without.stderr).toBe(0);
  expect(without.manifest).not.toContain('kind: HorizontalPodAutoscaler');
  // An HPA left from an earlier deploy is removed before the apply.
  const del = firstIndex(without.calls, /^kubectl --context kind-dev -n kvq delete hpa kvq-api /);
  expect(del).toBeGreaterThanOrEqual(0);
  expect(del).toBeLessThan(firstIndex(without.calls, / apply -k /));
  const withMetrics = box.run(['up'], { env: { FAKE_METRICS: '1' } });
  expect(withMetrics.status, withMetrics.stderr).toBe(0);
  expect(withMetrics.manifest).toMatch(/kind: HorizontalPodAutoscaler\n/);
  expect(withMetrics.manifest).toMatch(
    /scaleTargetRef:\n\s+apiVersion: apps\/v1\n\s+kind: Deployment\n\s+name: kvq-api\n/,
  );
  expect(withMetrics.manifest).toContain('name: kvq-autoscaler');
  expect(withMetrics.calls.some((c) => / delete hpa /.test(c))).toBe(false);
}, 60_000);

it('the monitoring (ServiceMonitors, PrometheusRule, dashboard) is applied only where the Prometheus Operator is installed', () => {
  const without = box.run(['up']);
  expect(without.status, without.stderr).toBe(0);
  expect(without.manifest).not.toContain('kind: ServiceMonitor');
  expect(without.manifest).not.toContain('kind: PrometheusRule');
  const withOperator = box.run(['up'], { env: { FAKE_MONITORING: '1' } });
  expect(withOperator.status, withOperator.stderr).toBe(0);
  const crd = firstIndex(
    withOperator.calls,
    /^kubectl --context kind-dev get crd servicemonitors\.monitoring\.coreos\.com prometheusrules\.monitoring\.coreos\.com$/,
  );
  expect(crd).toBeGreaterThanOrEqual(0);
  expect(crd).toBeLessThan(firstIndex(withOperator.calls, / apply -k /));
  expect(withOperator.manifest).toMatch(/kind: ServiceMonitor\n/);
  expect(withOperator.manifest).toMatch(/kind: PrometheusRule\n/);
  expect(withOperator.manifest).toContain('grafana_dashboard: "1"');
  expect(withOperator.stdout).toContain('with ServiceMonitors, alerts and dashboard');
}, 60_000);

describe('--overlay', () => {
  it('sentinel: applies overlays/sentinel, waits for the Sentinels too; kvq gets redis+sentinel:// URLs', () => {
    const r = box.run(['up', '--overlay', 'sentinel']);
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
    expect(readFileSync(join(box.repo, 'k8s/.deploy/kustomization.yaml'), 'utf8')).toContain(
      '../overlays/sentinel',
    );
    expect(r.stdout).toContain('applying k8s/overlays/sentinel');
  }, 60_000);

  it('cluster: deletes a finished bootstrap Job before applying, waits for both Jobs before kvq', () => {
    const r = box.run(['up', '--overlay=cluster']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const del = firstIndex(
      r.calls,
      /^kubectl --context kind-dev -n kvq delete job -l app.kubernetes.io\/component=redis-bootstrap --ignore-not-found$/,
    );
    const apply = firstIndex(r.calls, / apply -k /);
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
    const r = box.run(['up', '--overlay', 'keda']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const crd = firstIndex(r.calls, /^kubectl --context kind-dev get crd scaledobjects\.keda\.sh$/);
    expect(crd).toBeGreaterThanOrEqual(0);
    expect(crd).toBeLessThan(firstIndex(r.calls, / apply -k /));
    expect(waits(r.calls)).not.toContain('deployment/kvq-autoscaler');
    expect(r.manifest).toContain('kind: ScaledObject');
    const s = box.run(['status', '--overlay', 'keda']);
    expect(
      s.calls.some((c) => /^kubectl --context kind-dev -n kvq get \S*scaledobjects/.test(c)),
    ).toBe(true);
  }, 60_000);

  it('--dry-run renders and validates each overlay without a cluster', () => {
    for (const o of ['sentinel', 'cluster', 'keda']) {
      const r = box.run(['up', '--dry-run', '--overlay', o], { context: '' });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`rendering and validating k8s/overlays/${o}`);
      expect(r.stdout).toMatch(/validated \d+ objects: ok/);
      expect(clusterCalls(r.calls)).toEqual([]);
    }
  }, 120_000);

  it('an unknown overlay, or --overlay without a name, exits 2 before doing anything', () => {
    for (const args of [
      ['up', '--overlay', 'sentinal'],
      ['up', '--overlay'],
    ]) {
      const r = box.run(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/overlay/);
      expect(r.calls).toEqual([]);
    }
  });
});

it('adds SENTINEL_PASSWORD to a secrets.env written before it existed, keeping the rest', () => {
  const file = join(box.repo, 'k8s/overlays/local/secrets.env');
  writeFileSync(file, 'QUEUE_REDIS_PASSWORD=q\nKV_REDIS_PASSWORD=k\nAPI_TOKEN=t\n');
  const r = box.run(['up', '--overlay', 'sentinel']);
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

it('re-running up on an unchanged tree is idempotent: the same tag and apply, secrets kept', () => {
  const a = box.run(['up']);
  const secretsBefore = readFileSync(join(box.repo, 'k8s/overlays/local/secrets.env'), 'utf8');
  const b = box.run(['up']);
  expect(b.status).toBe(0);
  expect(readFileSync(join(box.repo, 'k8s/overlays/local/secrets.env'), 'utf8')).toBe(
    secretsBefore,
  );
  expect(b.manifest).toBe(a.manifest);
  // A clean tree: the tag is the commit.
  expect(b.manifest).toContain(`image: kvq:${box.git('rev-parse', '--short=12', 'HEAD')}\n`);
}, 60_000);

it('an edited tree gets a new tag for each edit, so the Deployments roll', () => {
  const sha = box.git('rev-parse', '--short=12', 'HEAD');
  const image = (manifest: string) =>
    /name: kvq-api[\s\S]*?image: (kvq:\S+)/.exec(manifest)?.[1] ?? 'missing';
  try {
    writeFileSync(join(box.repo, 'src/app.ts'), 'export const version = 2;\n');
    const first = box.run(['up']);
    expect(first.status, first.stderr).toBe(0);
    expect(image(first.manifest)).toMatch(new RegExp(`^kvq:${sha}-dirty-[0-9a-f]{12}$`));
    writeFileSync(join(box.repo, 'src/app.ts'), 'export const version = 3;\n');
    const second = box.run(['up']);
    expect(image(second.manifest)).toMatch(new RegExp(`^kvq:${sha}-dirty-[0-9a-f]{12}$`));
    expect(image(second.manifest)).not.toBe(image(first.manifest));
    // A new untracked file changes it too.
    writeFileSync(join(box.repo, 'src/new.ts'), 'export {};\n');
    const third = box.run(['up']);
    expect(image(third.manifest)).not.toBe(image(second.manifest));
    // The same content again is the same image: no needless rollout.
    rmSync(join(box.repo, 'src/new.ts'));
    const again = box.run(['up']);
    expect(image(again.manifest)).toBe(image(second.manifest));
    // Every kvq Deployment runs the new image.
    expect(second.manifest.match(/image: kvq:\S+/g)).toEqual(
      Array(3).fill(`image: ${image(second.manifest)}`),
    );
  } finally {
    box.git('checkout', '--', 'src/app.ts');
    rmSync(join(box.repo, 'src/new.ts'), { force: true });
  }
}, 120_000);
