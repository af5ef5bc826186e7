import { describe, expect, it } from 'vitest';

import { AUTH_DENIAL_REASONS, createMetrics, RATE_LIMIT_KINDS } from './metrics.ts';

async function values(metrics: ReturnType<typeof createMetrics>, name: string) {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return Object.fromEntries(
    (m?.values ?? []).map((v) => [Object.values(v.labels).join(','), v.value]),
  );
}

describe('auth and rate-limit counters', () => {
  it('exist at zero for every reason and kind, so rates over them are defined from the start', async () => {
    const metrics = createMetrics({ version: '0.0.0', role: 'test' });
    expect(await values(metrics, 'kvq_auth_denials_total')).toEqual(
      Object.fromEntries(AUTH_DENIAL_REASONS.map((r) => [r, 0])),
    );
    expect(await values(metrics, 'kvq_rate_limited_requests_total')).toEqual({
      key: 0,
      address: 0,
    });
    expect(RATE_LIMIT_KINDS).toEqual(['key', 'address']);
  });

  it('count each denial under its reason and each 429 under its kind', async () => {
    const metrics = createMetrics({ version: '0.0.0', role: 'test' });
    metrics.observeAuthDenial('expired');
    metrics.observeAuthDenial('expired');
    metrics.observeAuthDenial('prefix_forbidden');
    metrics.observeRateLimited('address');
    const denials = await values(metrics, 'kvq_auth_denials_total');
    expect(denials.expired).toBe(2);
    expect(denials.prefix_forbidden).toBe(1);
    expect(denials.missing).toBe(0);
    expect(await values(metrics, 'kvq_rate_limited_requests_total')).toEqual({
      key: 0,
      address: 1,
    });
  });
});

describe('queue gauges', () => {
  it('keep the last reading when a reading fails, and say so in kvq_queue_metrics_up', async () => {
    const metrics = createMetrics({ version: '0.0.0', role: 'test' });
    metrics.recordQueue('q', {
      jobs: { waiting: 3, active: 1, delayed: 0, prioritized: 0, failed: 2 },
      oldestWaitingSeconds: 1.5,
      deadLetters: 4,
    });
    metrics.recordQueue('q', null);
    expect(await values(metrics, 'kvq_queue_metrics_up')).toEqual({ q: 0 });
    expect((await values(metrics, 'kvq_queue_jobs'))['q,waiting']).toBe(3);
    expect(await values(metrics, 'kvq_queue_oldest_waiting_job_age_seconds')).toEqual({ q: 1.5 });
    expect(await values(metrics, 'kvq_dead_letters')).toEqual({ q: 4 });
  });
});
