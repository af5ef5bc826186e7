import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { type K8sObject, render } from '../../scripts/k8s-checks.ts';

/**
 * The Sentinel and Cluster overlays, checked offline (no cluster here): every Redis is replicated
 * onto volumes, spread and protected by a PDB, refuses writes without a replica, is reached by kvq
 * through the right URL scheme at pods that exist, and the NetworkPolicies admit exactly the
 * traffic replication, failover and bootstrap need. The init and bootstrap scripts themselves were
 * run against loopback redis-server processes (docs/kubernetes-ha.md says how).
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
type Obj = K8sObject & { spec?: any; data?: Record<string, string> };
const rendered: Record<string, Obj[]> = {};

beforeAll(() => {
  const secrets = `${root}k8s/overlays/local/secrets.env`;
  const have = existsSync(secrets) ? readFileSync(secrets, 'utf8') : '';
  const missing = ['QUEUE_REDIS_PASSWORD', 'KV_REDIS_PASSWORD', 'API_TOKEN', 'SENTINEL_PASSWORD']
    .filter((k) => !new RegExp(`^${k}=`, 'm').test(have))
    .map((k) => `${k}=test\n`);
  if (missing.length > 0) {
    writeFileSync(secrets, `${have}${have && !have.endsWith('\n') ? '\n' : ''}${missing.join('')}`);
  }
  for (const o of ['sentinel', 'cluster']) rendered[o] = render(`${root}k8s/overlays/${o}`);
});

const all = (o: string) => rendered[o]!;
const find = (o: string, kind: string, name: string) =>
  all(o).find((x) => x.kind === kind && x.metadata.name === name);
const labelsMatch = (sel: any, labels: Record<string, string>) =>
  Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (sel.matchExpressions ?? []).every(
    (e: any) => e.operator === 'In' && e.values.includes(labels[e.key]),
  );
const podsOf = (o: string) =>
  all(o).filter((x) => ['Deployment', 'StatefulSet', 'Job'].includes(x.kind));
const podLabels = (name: string, o: string): Record<string, string> =>
  podsOf(o).find((w) => w.metadata.name === name)!.spec.template.metadata.labels;
const env = (c: any, name: string): string | undefined =>
  c.env?.find((e: any) => e.name === name)?.value;
/** The ConfigMap a pod mounts as `volume`, found through the generated (hashed) name. */
const mounted = (o: string, w: Obj, volume: string) => {
  const v = w.spec.template.spec.volumes.find((x: any) => x.name === volume);
  return find(o, 'ConfigMap', v.configMap.name)!.data!;
};

/**
 * Whether the NetworkPolicies let pods labelled `from` reach pods labelled `to` on `port`
 * (same namespace). A pod no policy selects is not isolated.
 */
function admits(o: string, from: Record<string, string>, to: Record<string, string>, port: number) {
  const policies = all(o).filter(
    (x) => x.kind === 'NetworkPolicy' && labelsMatch(x.spec.podSelector, to),
  );
  if (policies.length === 0) return true;
  return policies.some((p) =>
    (p.spec.ingress ?? []).some(
      (rule: any) =>
        (rule.from ?? []).some((f: any) => f.podSelector && labelsMatch(f.podSelector, from)) &&
        (rule.ports ?? []).some((x: any) => x.port === port),
    ),
  );
}

const KVQ = ['kvq-api', 'kvq-worker', 'kvq-autoscaler'];
const REDIS = ['kvq-queue-redis', 'kvq-data-redis'];
const EXPECTED = {
  sentinel: { replicas: 3, scheme: 'redis+sentinel:' },
  cluster: { replicas: 6, scheme: 'redis+cluster:' },
};

describe.each(['sentinel', 'cluster'] as const)('overlays/%s', (o) => {
  it('each Redis is a replicated StatefulSet on volumes, spread over nodes, with a PDB', () => {
    for (const name of REDIS) {
      const sts = find(o, 'StatefulSet', name)!;
      expect(sts.spec.replicas, name).toBe(EXPECTED[o].replicas);
      expect(sts.spec.volumeClaimTemplates[0].spec.accessModes).toEqual(['ReadWriteOnce']);
      const mount = sts.spec.template.spec.containers[0].volumeMounts.find(
        (m: any) => m.name === sts.spec.volumeClaimTemplates[0].metadata.name,
      );
      expect(mount.mountPath).toBe('/data');
    }
    for (const sts of all(o).filter((x) => x.kind === 'StatefulSet')) {
      const name = sts.metadata.name;
      const terms =
        sts.spec.template.spec.affinity.podAntiAffinity
          .preferredDuringSchedulingIgnoredDuringExecution;
      expect(terms[0].podAffinityTerm.topologyKey, name).toBe('kubernetes.io/hostname');
      expect(
        labelsMatch(terms[0].podAffinityTerm.labelSelector, sts.spec.template.metadata.labels),
      ).toBe(true);
      const pdbs = all(o).filter(
        (x) =>
          x.kind === 'PodDisruptionBudget' &&
          labelsMatch(x.spec.selector, sts.spec.template.metadata.labels),
      );
      expect(
        pdbs.map((p) => p.spec.maxUnavailable),
        name,
      ).toEqual([1]);
      // Peers and clients resolve pods by name while they start.
      expect(find(o, 'Service', sts.spec.serviceName)!.spec.publishNotReadyAddresses, name).toBe(
        true,
      );
    }
    // No ClusterIP Service in front of a primary and its replicas.
    for (const name of REDIS) expect(find(o, 'Service', name), name).toBeUndefined();
  });

  it('every Redis starts from the generated config, which refuses writes without a replica', () => {
    for (const name of REDIS) {
      const sts = find(o, 'StatefulSet', name)!;
      const pod = sts.spec.template.spec;
      const init = pod.initContainers[0];
      const redis = pod.containers[0];
      expect(redis.args[0]).toBe(env(init, 'CONF'));
      expect(redis.args.join(' ')).toMatch(/--masterauth \$\(REDIS_PASSWORD\)/);
      // The config the init container starts from.
      const base = mounted(o, sts, 'scripts')[env(init, 'BASE_CONF')!.split('/').pop()!]!;
      expect(base).toMatch(/^min-replicas-to-write [1-9]/m);
      expect(base).toMatch(/^min-replicas-max-lag \d+/m);
      // The init script exists and announces the pod's stable name.
      const script = mounted(o, sts, 'scripts')[init.command[1].split('/').pop()]!;
      expect(script).toMatch(/announce-(ip|hostname) \$SELF_HOST/);
      expect(env(init, 'SELF_HOST')).toBe(
        `$(POD_NAME).${sts.spec.serviceName}.$(POD_NAMESPACE).svc`,
      );
      expect(init.image).toBe(redis.image);
    }
  });

  it("kvq's pods reach each Redis through the topology's URL scheme, at pods that exist", () => {
    const cm = find(o, 'ConfigMap', 'kvq-config')!;
    expect(cm.data!.MIN_REPLICA_ACKS).toBe('1');
    expect(Number(cm.data!.PARTITIONS)).toBeGreaterThan(0);
    for (const d of KVQ) {
      const c = find(o, 'Deployment', d)!.spec.template.spec.containers[0];
      for (const [var_, redis, password] of [
        ['QUEUE_REDIS_URL', 'kvq-queue-redis', 'QUEUE_REDIS_PASSWORD'],
        ['KV_REDIS_URL', 'kvq-data-redis', 'KV_REDIS_PASSWORD'],
      ] as const) {
        const url = env(c, var_)!;
        const m = /^(redis\+\w+:)\/\/:\$\((\w+)\)@([^/]+)(?:\/(.+))?$/.exec(url);
        expect(m, `${d} ${var_}: ${url}`).not.toBeNull();
        const [, scheme, pw, hosts, master] = m!;
        expect(scheme).toBe(EXPECTED[o].scheme);
        expect(pw).toBe(password);
        // Every seed is pod i < replicas of the StatefulSet it names, on a port it exposes.
        for (const hp of hosts!.split(',')) {
          const [host, port] = hp.split(':');
          const [pod, svc, ns, tail] = host!.split('.');
          expect([ns, tail]).toEqual(['kvq', 'svc']);
          const sts = all(o).find((x) => x.kind === 'StatefulSet' && x.spec.serviceName === svc)!;
          expect(sts, hp).toBeDefined();
          expect(pod).toMatch(new RegExp(`^${sts.metadata.name}-(\\d+)$`));
          expect(Number(pod!.split('-').pop())).toBeLessThan(sts.spec.replicas);
          const ports = sts.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort);
          expect(ports).toContain(Number(port));
          if (o === 'cluster') expect(sts.metadata.name).toBe(redis);
          else expect(sts.metadata.name).toBe('kvq-sentinel');
        }
        if (o === 'sentinel') {
          // The master name in the URL is the one the Redis pods and the Sentinels use.
          const init = find(o, 'StatefulSet', redis)!.spec.template.spec.initContainers[0];
          expect(master).toBe(env(init, 'MASTER_NAME'));
          const sInit = find(o, 'StatefulSet', 'kvq-sentinel')!.spec.template.spec
            .initContainers[0];
          const prefix = password.replace('_REDIS_PASSWORD', '');
          expect(env(sInit, `${prefix}_MASTER_NAME`)).toBe(master);
          expect(env(sInit, `${prefix}_PRIMARY_FALLBACK`)).toBe(env(init, 'PRIMARY_FALLBACK'));
          expect(c.env.some((e: any) => e.name === 'SENTINEL_PASSWORD')).toBe(true);
        } else {
          expect(master).toBeUndefined();
        }
      }
    }
  });

  it("NetworkPolicies admit kvq's pods, replication and failover traffic, and nothing else", () => {
    for (const r of REDIS) {
      const to = podLabels(r, o);
      for (const k of KVQ.filter((x) => x !== 'kvq-autoscaler' || r === 'kvq-queue-redis'))
        expect(admits(o, podLabels(k, o), to, 6379), `${k} -> ${r}`).toBe(true);
      expect(admits(o, to, to, 6379), `${r} replication`).toBe(true);
      // A pod of another app in the namespace is not admitted.
      expect(admits(o, { 'app.kubernetes.io/name': 'intruder' }, to, 6379)).toBe(false);
      if (o === 'cluster') {
        expect(admits(o, to, to, 16379), `${r} cluster bus`).toBe(true);
        expect(admits(o, podLabels(`${r}-bootstrap`, o), to, 6379), `${r} bootstrap`).toBe(true);
        const other = podLabels(
          REDIS.find((x) => x !== r)!,
          o,
        );
        expect(admits(o, other, to, 16379), `no bus between the two clusters`).toBe(false);
      } else {
        expect(admits(o, podLabels('kvq-sentinel', o), to, 6379), `sentinel -> ${r}`).toBe(true);
      }
    }
    if (o === 'sentinel') {
      const to = podLabels('kvq-sentinel', o);
      for (const k of [...KVQ, ...REDIS, 'kvq-sentinel'])
        expect(admits(o, podLabels(k, o), to, 26379), `${k} -> sentinel`).toBe(true);
      expect(admits(o, { 'app.kubernetes.io/name': 'intruder' }, to, 26379)).toBe(false);
    }
  });
});

describe('overlays/sentinel', () => {
  it('three Sentinels, a majority quorum, their config rebuilt from peers at each start', () => {
    const sts = find('sentinel', 'StatefulSet', 'kvq-sentinel')!;
    const init = sts.spec.template.spec.initContainers[0];
    const quorum = Number(env(init, 'QUORUM'));
    expect(sts.spec.replicas).toBe(3);
    expect(quorum).toBeGreaterThan(sts.spec.replicas / 2);
    expect(quorum).toBeLessThanOrEqual(sts.spec.replicas);
    expect(env(init, 'PEERS')!.split(' ')).toHaveLength(sts.spec.replicas);
    const script = mounted('sentinel', sts, 'scripts')['sentinel-init.sh']!;
    expect(script).toMatch(/SENTINEL get-master-addr-by-name/);
    expect(script).toMatch(/sentinel resolve-hostnames yes/);
    expect(script).toMatch(/sentinel announce-hostnames yes/);
    // The Redis pods ask the Sentinels first, and refuse to start rather than guess when refused.
    const redisInit = mounted(
      'sentinel',
      find('sentinel', 'StatefulSet', 'kvq-queue-redis')!,
      'scripts',
    )['redis-init.sh']!;
    expect(redisInit.indexOf('get-master-addr-by-name')).toBeLessThan(
      redisInit.indexOf('PRIMARY_FALLBACK"'),
    );
    expect(redisInit).toMatch(/refused.*\n\s+exit 1/);
  });
});

describe('overlays/cluster', () => {
  it('an idempotent bootstrap Job per cluster, over every node, creating only a fresh cluster', () => {
    for (const r of REDIS) {
      const job = find('cluster', 'Job', `${r}-bootstrap`)!;
      const sts = find('cluster', 'StatefulSet', r)!;
      const pod = job.spec.template.spec;
      const c = pod.containers[0];
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.env.find((e: any) => e.name === 'REDISCLI_AUTH').valueFrom.secretKeyRef.key).toBe(
        r === 'kvq-queue-redis' ? 'QUEUE_REDIS_PASSWORD' : 'KV_REDIS_PASSWORD',
      );
      const nodes = env(c, 'NODES')!.split(' ');
      expect(nodes).toEqual(
        Array.from(
          { length: sts.spec.replicas },
          (_, i) => `${r}-${String(i)}.${String(sts.spec.serviceName)}.$(POD_NAMESPACE).svc:6379`,
        ),
      );
      expect(sts.spec.replicas % (Number(env(c, 'REPLICAS')) + 1)).toBe(0);
      const script = mounted('cluster', job, 'scripts')[c.command[1].split('/').pop()]!;
      const create = script.indexOf('redis-cli --cluster create');
      expect(create).toBeGreaterThan(0);
      // The formed check comes before the create, and guards it.
      expect(script.indexOf('cluster_known_nodes')).toBeLessThan(create);
      expect(script.indexOf('cluster_slots_assigned')).toBeLessThan(create);
      expect(script.slice(0, create)).toMatch(/if \[ -z "\$joined" \]; then/);
      expect(script).toMatch(/cluster_state\)" = ok/);
      expect(script).toContain('--cluster-yes');
    }
    const conf = mounted('cluster', find('cluster', 'StatefulSet', 'kvq-queue-redis')!, 'scripts')[
      'redis.conf'
    ]!;
    expect(conf).toMatch(/^cluster-enabled yes$/m);
    expect(conf).toMatch(/^cluster-preferred-endpoint-type hostname$/m);
    // nodes.conf is relative to --dir /data: on the volume.
    expect(conf).toMatch(/^cluster-config-file nodes\.conf$/m);
  });
});
