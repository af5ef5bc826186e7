import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig, requireRedisUrls, tracingSettings } from './config.ts';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      WORKER_CONCURRENCY: 64,
      MAX_KEY_BYTES: 512,
      MAX_VALUE_BYTES: 1048576,
      OP_RETENTION_SECONDS: 3600,
      FENCE_WINDOW_SECONDS: 86400,
      JOB_ATTEMPTS: 8,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('accepts redis:// and rediss:// URLs with a password, and coerces numbers', () => {
    const c = loadConfig({
      QUEUE_REDIS_URL: 'rediss://:s3cret@queue.example:6380/0',
      KV_REDIS_URL: 'redis://default:pw@127.0.0.1:6379',
      PORT: '9000',
    });
    expect(c.PORT).toBe(9000);
    expect(requireRedisUrls(c)).toEqual({
      queueUrl: 'rediss://:s3cret@queue.example:6380/0',
      kvUrl: 'redis://default:pw@127.0.0.1:6379',
    });
  });

  it('accepts Sentinel and cluster URLs, and SENTINEL_PASSWORD for the Sentinels', () => {
    const c = loadConfig({
      QUEUE_REDIS_URL: 'redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/kvq-queue?db=1',
      KV_REDIS_URL: 'rediss+cluster://10.0.1.1:6379,[::1]:6380',
      SENTINEL_PASSWORD: 'sentinel-pw',
    });
    expect(c.SENTINEL_PASSWORD).toBe('sentinel-pw');
    expect(c.KV_REDIS_URL).toBe('rediss+cluster://10.0.1.1:6379,[::1]:6380');
  });

  it('names what is wrong with each Redis URL, never the password', () => {
    try {
      loadConfig({
        QUEUE_REDIS_URL: 'redis+sentinel://:hunter2@a:1,,b:2/kvq',
        KV_REDIS_URL: 'redis+cluster://:hunter2@a:1?db=3',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems;
      expect(problems).toEqual([
        expect.stringMatching(/^QUEUE_REDIS_URL: host 2 of 3 is empty/),
        expect.stringMatching(/^KV_REDIS_URL: a cluster has only database 0/),
      ]);
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({
        QUEUE_REDIS_URL: 'http://x',
        PORT: 'eighty',
        WORKER_CONCURRENCY: '0',
        LOG_LEVEL: 'loud',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join('\n');
      for (const name of ['QUEUE_REDIS_URL', 'PORT', 'WORKER_CONCURRENCY', 'LOG_LEVEL']) {
        expect(problems).toContain(name);
      }
    }
  });

  it.each([
    ['PORT', 'abc', 'PORT: expected a port number, got "abc"'],
    ['PORT', '70000', 'PORT: expected a port number, got "70000"'],
    ['WORKER_HEALTH_PORT', '-1', 'WORKER_HEALTH_PORT: expected a port number, got "-1"'],
    ['DEV_WORKERS', '1.5', 'DEV_WORKERS: expected an integer from 1 to 16, got "1.5"'],
    [
      'SHUTDOWN_TIMEOUT_MS',
      '5s',
      'SHUTDOWN_TIMEOUT_MS: expected an integer from 100 to 600000, got "5s"',
    ],
    [
      'DOCS_ENABLED',
      'maybe',
      'DOCS_ENABLED: expected one of true, false, 1, 0, yes, no, got "maybe"',
    ],
    [
      'LOG_LEVEL',
      'loud',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ],
    ['LOG_FORMAT', 'xml', 'LOG_FORMAT: expected pretty or json, got "xml"'],
    ['QUEUE_NAME', 'a b', 'QUEUE_NAME: expected 1 to 64 of A-Z a-z 0-9 _ -, got "a b"'],
    ['KV_REDIS_URL', 'http://x', 'KV_REDIS_URL: '],
  ])('echoes the bad value of %s=%s', (name, value, expected) => {
    try {
      loadConfig({ [name]: value });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([expect.stringContaining(expected)]);
      expect((e as ConfigError).problems[0]).toContain(`got ${JSON.stringify(value)}`);
    }
  });

  it('echoes a Redis URL with its password masked, and never a secret', () => {
    try {
      loadConfig({ QUEUE_REDIS_URL: 'redis://app:hunter2@h:99999', API_TOKENS: 'bad token' });
      expect.unreachable();
    } catch (e) {
      const text = (e as Error).message;
      expect(text).toContain('got "redis://app:***@h:99999"');
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('bad token');
    }
  });

  it('takes LOG_FORMAT and ACCESS_LOG; unset, they are left to the role', () => {
    expect(loadConfig({}).LOG_FORMAT).toBeUndefined();
    expect(loadConfig({}).ACCESS_LOG).toBeUndefined();
    expect(loadConfig({ LOG_FORMAT: 'json', ACCESS_LOG: 'yes' })).toMatchObject({
      LOG_FORMAT: 'json',
      ACCESS_LOG: true,
    });
  });

  it('takes API_TOKENS as RFC 6750 b64tokens and names a bad one by position only', () => {
    expect(loadConfig({ API_TOKENS: ' a-b_c.d~e+f/g=, Zz09== ' }).API_TOKENS).toEqual([
      'a-b_c.d~e+f/g=',
      'Zz09==',
    ]);
    for (const bad of ['s3cr\u00e9t', 'has space', 'semi;colon', 'quote"d', '=lead', 'a=b']) {
      try {
        loadConfig({ API_TOKENS: `good-one,${bad}` });
        expect.unreachable(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        const problems = (e as ConfigError).problems;
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^API_TOKENS: entry 2 /);
        expect(problems[0]).not.toContain(bad);
        expect((e as Error).message).not.toContain(bad);
      }
    }
  });

  it('AUTH: off by default, keys when tokens or a keys file are set, never off with them', () => {
    expect(loadConfig({}).AUTH).toBe('off');
    expect(loadConfig({ AUTH: 'keys' }).AUTH).toBe('keys');
    expect(loadConfig({ API_TOKENS: 't' }).AUTH).toBe('keys');
    expect(loadConfig({ API_KEYS_FILE: '/run/keys.json' }).AUTH).toBe('keys');
    expect(loadConfig({}).KEY_CACHE_MS).toBe(5000);
    expect(() => loadConfig({ AUTH: 'off', API_TOKENS: 't' })).toThrow(/AUTH: off, but/);
    expect(() => loadConfig({ AUTH: 'on' })).toThrow(/AUTH: expected off or keys/);
  });

  it('requires both URLs for the api and worker roles', () => {
    expect(() => requireRedisUrls(loadConfig({}))).toThrow(/QUEUE_REDIS_URL[\s\S]*KV_REDIS_URL/);
  });
});

describe('write admission settings', () => {
  it('defaults: writes stop at 90 % of maxmemory, no separate queue budget, 100k unfinished ops', () => {
    expect(loadConfig({})).toMatchObject({
      WRITE_MEMORY_LIMIT_PERCENT: 90,
      QUEUE_MEMORY_MAX_BYTES: 0,
      MAX_BACKLOG: 100_000,
    });
  });

  it('accepts a percent in 10..100 and a byte budget', () => {
    const c = loadConfig({
      WRITE_MEMORY_LIMIT_PERCENT: '100',
      QUEUE_MEMORY_MAX_BYTES: '209715200',
    });
    expect(c.WRITE_MEMORY_LIMIT_PERCENT).toBe(100);
    expect(c.QUEUE_MEMORY_MAX_BYTES).toBe(209_715_200);
  });

  it.each([
    ['WRITE_MEMORY_LIMIT_PERCENT', '9'],
    ['WRITE_MEMORY_LIMIT_PERCENT', '101'],
    ['WRITE_MEMORY_LIMIT_PERCENT', '85.5'],
    ['QUEUE_MEMORY_MAX_BYTES', '-1'],
    ['QUEUE_MEMORY_MAX_BYTES', '200mb'],
    ['MAX_BACKLOG', '-1'],
    ['PARTITIONS', '0'],
    ['PARTITIONS', '1025'],
    ['MIN_REPLICA_ACKS', '-1'],
    ['REPLICA_ACK_TIMEOUT_MS', '5'],
  ])('rejects %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });

  it('partitions default to 12; replica acks are off unless asked for', () => {
    const c = loadConfig({});
    expect(c.PARTITIONS).toBe(12);
    expect(c.MIN_REPLICA_ACKS).toBe(0);
  });

  it('a replica-ack timeout must stay below the command timeout that would cut the WAIT short', () => {
    expect(() =>
      loadConfig({
        MIN_REPLICA_ACKS: '1',
        REPLICA_ACK_TIMEOUT_MS: '1500',
        REDIS_COMMAND_TIMEOUT_MS: '1500',
      }),
    ).toThrow(/REPLICA_ACK_TIMEOUT_MS: must be below REDIS_COMMAND_TIMEOUT_MS \(1500\)/);
    expect(
      loadConfig({ MIN_REPLICA_ACKS: '1', REPLICA_ACK_TIMEOUT_MS: '1000' }).REPLICA_ACK_TIMEOUT_MS,
    ).toBe(1000);
  });
});

describe('tracingSettings', () => {
  const settings = (env: Record<string, string>) => tracingSettings(loadConfig(env));

  it('is off unless an exporter or an OTLP endpoint is configured', () => {
    expect(settings({})).toBeUndefined();
    expect(settings({ OTEL_SERVICE_NAME: 'kvq-eu' })).toBeUndefined();
  });

  it('sends OTLP to <endpoint>/v1/traces, or to the traces endpoint as given', () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' })).toMatchObject({
      exporter: 'otlp',
      url: 'http://otel:4318/v1/traces',
      serviceName: 'kvq',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(
      settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example/custom',
      })?.url,
    ).toBe('https://collector.example/custom');
    expect(settings({ OTEL_TRACES_EXPORTER: 'otlp' })?.url).toBe('http://localhost:4318/v1/traces');
  });

  it('is off with OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true, whatever else is set', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' };
    expect(settings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(settings({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(settings({ OTEL_TRACES_EXPORTER: 'console' })?.exporter).toBe('console');
  });

  it('parses headers and resource attributes (percent-decoded), sampler and ratio', () => {
    expect(
      settings({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dcret, x-team=kv',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }),
    ).toMatchObject({
      headers: { 'api-key': 's=cret', 'x-team': 'kv' },
      resourceAttributes: { 'deployment.environment.name': 'prod' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('lists every bad tracing variable at once, never echoing the headers', () => {
    let err: unknown;
    try {
      loadConfig({
        OTEL_TRACES_EXPORTER: 'jaeger',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4317',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'secret-without-equals',
        OTEL_TRACES_SAMPLER_ARG: '2',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_HEADERS',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_TRACES_EXPORTER',
      'OTEL_TRACES_SAMPLER_ARG',
    ]);
    expect(problems.join('\n')).not.toContain('secret-without-equals');
  });
});

describe('rate limit settings', () => {
  it('are off by default: no rate per key or per address, no trusted proxy', () => {
    const c = loadConfig({});
    expect(c.RATE_LIMIT_PER_SECOND).toBe(0);
    expect(c.RATE_LIMIT_ANON_PER_SECOND).toBe(0);
    expect(c.TRUSTED_PROXIES).toEqual([]);
    expect(c.TRUSTED_PROXY_HEADER).toBe('x-forwarded-for');
  });

  it('take decimal rates and a list of addresses and CIDR networks', () => {
    const c = loadConfig({
      RATE_LIMIT_PER_SECOND: '0.5',
      RATE_LIMIT_ANON_PER_SECOND: '20',
      TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.1 ,fd00::/8,',
      TRUSTED_PROXY_HEADER: 'forwarded',
    });
    expect([c.RATE_LIMIT_PER_SECOND, c.RATE_LIMIT_ANON_PER_SECOND]).toEqual([0.5, 20]);
    expect(c.TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);
  });

  it('name each bad entry', () => {
    expect(() =>
      loadConfig({
        RATE_LIMIT_PER_SECOND: '-1',
        TRUSTED_PROXIES: '10.0.0.0/33,proxy.local,10.0.0.1/8/1',
        TRUSTED_PROXY_HEADER: 'x-real-ip',
      }),
    ).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringMatching(/^RATE_LIMIT_PER_SECOND: expected a number of requests/),
          expect.stringContaining('"10.0.0.0/33" is not an IP address or CIDR network'),
          expect.stringContaining('"proxy.local" is not an IP address or CIDR network'),
          expect.stringContaining('"10.0.0.1/8/1" is not an IP address or CIDR network'),
          expect.stringMatching(/^TRUSTED_PROXY_HEADER: expected x-forwarded-for or forwarded/),
        ],
      }),
    );
  });
});

describe('admin settings', () => {
  it('the queue dashboard follows authentication unless told; the audit log keeps 10k entries', () => {
    const c = loadConfig({});
    expect([c.ADMIN_UI, c.AUDIT_LOG_MAX_ENTRIES]).toEqual(['auto', 10_000]);
    expect(() => loadConfig({ ADMIN_UI: 'yes' })).toThrow(
      /ADMIN_UI: expected one of auto, on, off/,
    );
    expect(() => loadConfig({ AUDIT_LOG_MAX_ENTRIES: '0' })).toThrow(/AUDIT_LOG_MAX_ENTRIES/);
  });

  it('an open dashboard (ADMIN_UI=on without API_TOKENS) only on a loopback HOST', () => {
    expect(() => loadConfig({ ADMIN_UI: 'on', HOST: '0.0.0.0' })).toThrow(
      /ADMIN_UI: "on" without authentication \(AUTH=off\) needs a loopback HOST/,
    );
    for (const HOST of ['127.0.0.1', '::1', 'localhost']) {
      expect(loadConfig({ ADMIN_UI: 'on', HOST }).ADMIN_UI).toBe('on');
    }
    expect(loadConfig({ ADMIN_UI: 'on', HOST: '0.0.0.0', API_TOKENS: 't' }).ADMIN_UI).toBe('on');
  });
});
