import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { render } from '../../scripts/k8s-checks.ts';
import { loadConfig, requireRedisUrls } from '../../src/core/index.ts';

/**
 * compose.yaml against the app and the image: every service's environment is a valid kvq config,
 * the Redis URLs name the Redis services with their passwords, ports and healthchecks are the
 * ones the image serves, and the API is published on loopback only. (CI also validates the file
 * against the Compose schema with `docker-compose config`.)
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const text = readFileSync(`${root}compose.yaml`, 'utf8');
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');

/** Compose's variable interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g,
      (m, name?: string, op?: string, arg?: string) => {
        if (m === '$$') return '$';
        const v = env[name!];
        if (v !== undefined && v !== '') return v;
        if (op === '?') throw new Error(`${name!}: ${arg ?? ''}`);
        return op === '-' ? (arg ?? '') : '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  read_only?: boolean;
  cap_drop?: string[];
  tmpfs?: string[];
  volumes?: string[];
}
const ENV = { KVQ_API_TOKEN: 'token-1', KVQ_REDIS_PASSWORD: 'secret-2' };
const compose = interpolate(parse(text, { merge: true }), ENV) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const svc = (name: string) => services[name]!;

const exposed = [...dockerfile.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) =>
  m[1]!.split(/\s+/).map(Number),
);
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

it('has the API, a worker, the queue Redis and the data Redis', () => {
  expect(Object.keys(services).sort()).toEqual(['api', 'data-redis', 'queue-redis', 'worker']);
});

it('refuses to start without the API token and the Redis password', () => {
  expect(() => interpolate(parse(text, { merge: true }), {})).toThrow(
    /KVQ_REDIS_PASSWORD|KVQ_API_TOKEN/,
  );
  expect(() => interpolate(parse(text, { merge: true }), { KVQ_REDIS_PASSWORD: 'x' })).toThrow(
    /KVQ_API_TOKEN: set KVQ_API_TOKEN/,
  );
});

describe.each(['api', 'worker'])('%s', (name) => {
  const s = svc(name);

  it("runs the Dockerfile's image with its role", () => {
    expect(s.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(s.image).toBe(svc('api').image);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["kvq"\]$/m);
    expect(s.command).toEqual([name]);
  });

  it('has an environment that is a valid kvq config, whose Redis URLs name the Redis services', () => {
    const config = loadConfig({ ...s.environment });
    const { queueUrl, kvUrl } = requireRedisUrls(config);
    for (const [url, redis] of [
      [queueUrl, 'queue-redis'],
      [kvUrl, 'data-redis'],
    ] as const) {
      const u = new URL(url);
      expect(u.hostname).toBe(redis);
      expect(u.port).toBe('6379');
      const args = svc(redis).command!;
      expect(decodeURIComponent(u.password)).toBe(argAfter(args, '--requirepass'));
      expect(s.depends_on?.[redis]).toEqual({ condition: 'service_healthy' });
    }
  });

  it('is hardened like the Kubernetes pods: read-only root, no capabilities, a /tmp tmpfs', () => {
    expect(s.read_only).toBe(true);
    expect(s.cap_drop).toEqual(['ALL']);
    expect(s.tmpfs).toEqual(['/tmp']);
  });

  it('is health-checked on its readiness endpoint, on a port the image exposes and the role serves', () => {
    const config = loadConfig({ ...s.environment });
    const port = name === 'api' ? config.PORT : config.WORKER_HEALTH_PORT;
    expect(exposed).toContain(port);
    const [kind, command] = s.healthcheck!.test;
    expect(kind).toBe('CMD-SHELL');
    expect(command).toContain(`fetch('http://127.0.0.1:${String(port)}/readyz')`);
    expect(command).toMatch(/^node -e "[^"]+"$/);
  });
});

it('the API requires the bearer token, listens on all interfaces in its container and is published on loopback only', () => {
  const api = svc('api');
  const config = loadConfig({ ...api.environment });
  expect(api.environment!.API_TOKENS).toBe(ENV.KVQ_API_TOKEN);
  expect(config.HOST).toBe('0.0.0.0');
  expect(api.ports).toEqual([`127.0.0.1:8080:${String(config.PORT)}`]);
  expect(interpolate(parse(text, { merge: true }), { ...ENV, KVQ_PORT: '9999' })).toMatchObject({
    services: { api: { ports: [`127.0.0.1:9999:${String(config.PORT)}`] } },
  });
  for (const name of ['worker', 'queue-redis', 'data-redis'])
    expect(svc(name).ports).toBeUndefined();
});

describe.each(['queue-redis', 'data-redis'])('%s', (name) => {
  const s = svc(name);
  const args = s.command!;

  it('is the Redis the Kubernetes manifests run, never evicts, keeps an append-only file on a volume', () => {
    const k8s = render(`${root}k8s/base`).find(
      (o) => o.kind === 'StatefulSet' && o.metadata.name === `kvq-${name}`,
    ) as unknown as {
      spec: { template: { spec: { containers: { image: string; args: string[] }[] } } };
    };
    const container = k8s.spec.template.spec.containers[0]!;
    expect(s.image).toBe(container.image);
    expect(args[0]).toBe('redis-server');
    expect(argAfter(args, '--maxmemory-policy')).toBe('noeviction');
    expect(argAfter(args, '--appendonly')).toBe('yes');
    expect(argAfter(args, '--maxmemory')).toBe(argAfter(container.args, '--maxmemory'));
    expect(s.volumes).toEqual([`${name}:/data`]);
    expect(Object.keys(compose.volumes)).toContain(name);
  });

  it('requires the password, which its healthcheck sends (REDISCLI_AUTH)', () => {
    expect(argAfter(args, '--requirepass')).toBe(ENV.KVQ_REDIS_PASSWORD);
    expect(s.environment?.REDISCLI_AUTH).toBe(ENV.KVQ_REDIS_PASSWORD);
    expect(s.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });
});
