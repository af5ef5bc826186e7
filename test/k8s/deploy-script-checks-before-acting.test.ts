import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clusterCalls, createSandbox, firstIndex, type Sandbox } from './deploy-fakes.ts';

/**
 * Every deploy.sh command checks the kubectl context (and `up` the engine and the cluster's CLI)
 * before it acts; --help and --dry-run change nothing; logs, port-forward, token and cluster do
 * what they say (see deploy-fakes.ts for the fakes).
 */
let box: Sandbox;
beforeAll(() => {
  box = createSandbox();
});
afterAll(() => {
  box.remove();
});

const COMMANDS = [['up'], ['down'], ['status'], ['logs'], ['port-forward'], ['token']];

describe.each(COMMANDS)('%s', (command) => {
  it('with no kubectl context: exits 2 and touches no cluster (kubectl would fall back to localhost:8080)', () => {
    const r = box.run([command], { context: '' });
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no current kubectl context/);
    expect(clusterCalls(r.calls)).toEqual([]);
    expect(r.calls.some((c) => /^(docker|podman) build /.test(c))).toBe(false);
  });

  it('with a current context that is no local cluster: exits 2 and touches no cluster', () => {
    const r = box.run([command], { context: 'gke_prod_cluster' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/current kubectl context 'gke_prod_cluster' is not a local cluster/);
    expect(r.stderr).toContain('--context gke_prod_cluster');
    expect(clusterCalls(r.calls)).toEqual([]);
  });

  it('with --context naming a context that does not exist: exits 2 and touches no cluster', () => {
    const r = box.run([command, '--context', 'kind-gone']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/kubectl context 'kind-gone' does not exist/);
    expect(clusterCalls(r.calls)).toEqual([]);
  });

  it('with a cluster that does not answer: fails, and asks nothing more of it', () => {
    const r = box.run([command], { env: { FAKE_UNREACHABLE: '1' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cluster of context 'kind-dev' does not answer.*kind get clusters/);
    expect(clusterCalls(r.calls)).toEqual([
      'kubectl --context kind-dev get --raw=/readyz --request-timeout=10s',
    ]);
    expect(r.calls.some((c) => /^(docker|podman) build /.test(c))).toBe(false);
  });
});

describe('a context named with --context', () => {
  it('is used even when it is no local cluster: down, status, logs, token', () => {
    const env = { FAKE_CONTEXTS: 'kind-dev staging', FAKE_TOKEN: 'kvq_tok' };
    for (const command of ['down', 'status', 'logs', 'token']) {
      const r = box.run([command, '--context', 'staging'], { env });
      expect(r.status, r.stderr).toBe(0);
      const cluster = clusterCalls(r.calls);
      expect(cluster.length).toBeGreaterThan(1);
      for (const c of cluster) expect(c).toMatch(/^kubectl --context staging /);
    }
  });

  it('wins over the current context', () => {
    const r = box.run(['down', '--context=minikube'], {
      env: { FAKE_CONTEXTS: 'kind-dev minikube' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain(
      'kubectl --context minikube delete namespace kvq --ignore-not-found --wait=true',
    );
  });

  it('up refuses one it cannot load an image into, before building', () => {
    const r = box.run(['up', '--context', 'staging'], { env: { FAKE_CONTEXTS: 'staging' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/context 'staging' is not one .*push the image to a registry/);
    expect(r.calls.some((c) => /^(docker|podman) /.test(c))).toBe(false);
    expect(clusterCalls(r.calls)).toEqual([]);
  });
});

describe('up checks everything before the build', () => {
  it('the container engine is running', () => {
    const r = box.run(['up'], { env: { FAKE_DOCKER_DOWN: '1' }, without: ['podman'] });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/docker is installed but does not answer/);
    expect(r.calls.some((c) => c.includes(' build '))).toBe(false);
    const asked = box.run(['up', '--engine', 'podman'], { env: { FAKE_PODMAN_DOWN: '1' } });
    expect(asked.status).toBe(1);
    expect(asked.stderr).toMatch(/podman does not answer.*podman machine start/);
    expect(asked.calls.some((c) => c.includes(' build '))).toBe(false);
  });

  it('a container engine is installed at all', () => {
    const r = box.run(['up'], { without: ['docker', 'podman'] });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no container engine: install Docker .* or Podman/);
    expect(clusterCalls(r.calls).filter((c) => !c.includes('/readyz'))).toEqual([]);
  });

  it.each([
    ['kind-dev', 'kind'],
    ['minikube', 'minikube'],
    ['k3d-mycluster', 'k3d'],
  ])('the cluster CLI that loads the image is installed (%s needs %s)', (context, cli) => {
    const r = box.run(['up'], { context, without: [cli] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`${cli} is required but not on PATH`));
    expect(r.calls.some((c) => c.includes(' build '))).toBe(false);
  });

  it('a cluster on the Docker daemon is not given a Podman build', () => {
    const r = box.run(['up', '--engine', 'podman'], { context: 'docker-desktop' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/does not see Podman's images: use --engine docker/);
    expect(r.calls.some((c) => c.includes(' build '))).toBe(false);
  });

  it('kubectl and curl are installed', () => {
    const noKubectl = box.run(['up'], { without: ['kubectl'] });
    expect(noKubectl.status).not.toBe(0);
    expect(noKubectl.stderr).toMatch(/kubectl is required/);
    const noCurl = box.run(['up'], { without: ['curl'] });
    expect(noCurl.status).not.toBe(0);
    expect(noCurl.stderr).toMatch(/curl is required/);
    expect([...noKubectl.calls, ...noCurl.calls]).toEqual([]);
  });
});

describe('--help and --dry-run', () => {
  it('--help prints the help and nothing else, wherever it stands', () => {
    const a = box.run(['--help']);
    expect(a.status).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.calls).toEqual([]);
    expect(a.stdout.startsWith('Usage: ./deploy.sh [command] [options]\n')).toBe(true);
    expect(
      a.stdout.endsWith('KIND_CLUSTER_NAME (the cluster `cluster` creates, default kvq).\n'),
    ).toBe(true);
    for (const c of ['up', 'down', 'status', 'logs', 'port-forward', 'token', 'cluster'])
      expect(a.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(a.stdout).not.toMatch(/set -euo|^#/m);
    expect(box.run(['down', '-h']).stdout).toBe(a.stdout);
    expect(box.run(['up', '--overlay', 'keda', '--help']).stdout).toBe(a.stdout);
  });

  it('--dry-run writes nothing, runs nothing on a cluster or engine, and prints what it would do', () => {
    const before = box.git('status', '--porcelain', '--ignored');
    const r = box.run(['up', '--dry-run']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(box.git('status', '--porcelain', '--ignored')).toBe(before);
    expect(existsSync(join(box.repo, 'k8s/overlays/local/secrets.env'))).toBe(false);
    expect(existsSync(join(box.repo, 'k8s/.deploy'))).toBe(false);
    expect(r.stdout).toMatch(/validated \d+ objects: ok/);
    expect(r.stdout).toMatch(/\[dry-run\] write \S+\/k8s\/overlays\/local\/secrets\.env/);
    expect(r.stdout).toMatch(/\[dry-run\] check: docker info/);
    expect(r.stdout).toMatch(/\[dry-run\] check: the cluster of context kind-dev answers/);
    expect(r.stdout).toMatch(/\[dry-run\] docker build -t kvq:/);
    expect(r.stdout).toMatch(/\[dry-run\] kind load docker-image kvq:\S+ --name dev/);
    expect(r.stdout).toMatch(/\[dry-run\] kubectl --context kind-dev apply -k \S+\/k8s\/\.deploy/);
    expect(r.calls.some((c) => /^(docker|podman|kind|minikube|k3d|curl) /.test(c))).toBe(false);
    expect(clusterCalls(r.calls)).toEqual([]);
    // Its scratch copy is gone too.
    expect(execFileSync('ls', [join(box.repo, '..')], { encoding: 'utf8' })).not.toMatch(
      /kvq-deploy\./,
    );
  }, 60_000);

  it('--dry-run with a Node too old for scripts/*.ts: one line naming the version, before any step', () => {
    const r = box.run(['up', '--dry-run'], { node: '20.20.2' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'deploy.sh: needs Node >= 22.19 (found 20.20.2); see .nvmrc (nvm install, or fnm use)',
    ]);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual(['node -p process.versions.node']);
  });

  it('--dry-run needs no kubectl context, and down --dry-run deletes nothing', () => {
    const r = box.run(['up', '--dry-run'], { context: '' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/no kubectl context: without --dry-run this stops here/);
    const d = box.run(['down', '--dry-run']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain(
      '[dry-run] kubectl --context kind-dev delete namespace kvq --ignore-not-found --wait=true',
    );
    expect(clusterCalls(d.calls)).toEqual([]);
  }, 60_000);
});

describe('logs, port-forward, token, cluster', () => {
  it('logs follows every pod of a role: api by default, worker or autoscaler when asked', () => {
    for (const [args, name] of [
      [['logs'], 'kvq-api'],
      [['logs', 'worker'], 'kvq-worker'],
      [['logs', 'autoscaler'], 'kvq-autoscaler'],
    ] as const) {
      const r = box.run([...args]);
      expect(r.status, r.stderr).toBe(0);
      const logs = r.calls.filter((c) => / logs /.test(c));
      expect(logs).toEqual([
        `kubectl --context kind-dev -n kvq logs --follow --selector app.kubernetes.io/name=${name} --all-containers --prefix --max-log-requests=20 --tail=200`,
      ]);
    }
    expect(box.run(['logs', 'redis']).status).toBe(2);
    expect(box.run(['status', 'worker']).status).toBe(2);
  });

  it('port-forward binds the API Service to 127.0.0.1 on the chosen port', () => {
    const r = box.run(['port-forward', '--port', '19090'], { env: { FAKE_PF_SLEEP: '0' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.filter((c) => c.includes('port-forward'))).toEqual([
      'kubectl --context kind-dev -n kvq port-forward --address 127.0.0.1 svc/kvq-api 19090:80',
    ]);
    expect(r.stdout).toContain('http://127.0.0.1:19090');
    expect(box.run(['port-forward', '--port', 'eighty']).status).toBe(2);
  });

  it('token creates an admin API key in an API pod and prints it alone on stdout', () => {
    const key = 'kvq_0123456789abcdefghijABCDEFGHIJklmnop';
    const r = box.run(['token'], { env: { FAKE_TOKEN: key } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${key}\n`);
    expect(firstIndex(r.calls, /get --raw=\/readyz/)).toBeLessThan(
      firstIndex(
        r.calls,
        /-n kvq exec deploy\/kvq-api -- kvq keys create --name deploy\.sh --scope admin$/,
      ),
    );
    const missing = box.run(['token']);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/could not create an API key .* deploy first/);
    const notAKey = box.run(['token'], { env: { FAKE_TOKEN: 'oops' } });
    expect(notAKey.status).toBe(1);
    expect(notAKey.stdout).toBe('');
  });

  it('cluster creates a kind cluster from k8s/kind-config.yaml once, on the engine found', () => {
    const r = box.run(['cluster'], { context: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain(
      `kind create cluster --name kvq --config ${box.repo}/k8s/kind-config.yaml --wait 120s`,
    );
    expect(firstIndex(r.calls, /^docker info$/)).toBeLessThan(firstIndex(r.calls, /^kind create /));
    const again = box.run(['cluster'], { env: { FAKE_KIND_CLUSTERS: 'kvq' } });
    expect(again.calls.some((c) => c.startsWith('kind create'))).toBe(false);
    expect(again.stdout).toContain('kind cluster kvq exists');
    const podman = box.run(['cluster'], {
      without: ['docker'],
      env: { KIND_CLUSTER_NAME: 'other' },
    });
    expect(podman.status, podman.stderr).toBe(0);
    const create = firstIndex(podman.calls, /^kind create cluster --name other /);
    expect(podman.calls[create + 1]).toBe('env KIND_EXPERIMENTAL_PROVIDER=podman');
    const noKind = box.run(['cluster'], { without: ['kind'] });
    expect(noKind.status).not.toBe(0);
    expect(noKind.stderr).toMatch(/kind is required/);
  });
});
