import { expect, it } from 'vitest';

import { flaggedKeysDump, runChaos, summaryTable } from '../../chaos/chaos.ts';

/**
 * The short variant of `npm run chaos -- --topology sentinel|cluster`: the primaries of the queue
 * and the data Redis fail (SIGKILL, SIGSTOP) while APIs and workers are SIGKILLed, with replica
 * acks on. The sequential model judges every answer, receipt and final read; no read may return
 * less than a version already reported applied when it started.
 */
type Failover = { which: 'queue' | 'data'; signal: 'SIGKILL' | 'SIGSTOP' };
const cases: { topology: 'sentinel' | 'cluster'; failovers: Failover[] }[] = [
  {
    topology: 'sentinel',
    failovers: [
      { which: 'queue', signal: 'SIGKILL' },
      { which: 'data', signal: 'SIGSTOP' },
    ],
  },
  {
    topology: 'cluster',
    failovers: [
      { which: 'data', signal: 'SIGKILL' },
      { which: 'queue', signal: 'SIGSTOP' },
    ],
  },
];

it.each(cases)(
  '$topology: primary failovers under load lose no acknowledged write and forge no outcome',
  async ({ topology, failovers }) => {
    const result = await runChaos({
      topology,
      failovers,
      durationMs: 15_000,
      keys: 60,
      rate: 300,
      apis: 2,
      workers: 2,
      killEveryMs: 3000,
      restartRedis: true,
      drainTimeoutMs: 60_000,
      log: () => undefined,
    });
    console.log(summaryTable(result));
    // What the model judged for each flagged key: its ops, answers and final read.
    if (!result.ok) console.log(flaggedKeysDump(result));
    expect(result.violations.slice(0, 20)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(
      result.stats[
        'stale reads (below a version reported applied, or read replicated, before the read)'
      ],
    ).toBe(0);
    // Replicated reads ran (every other read), so their floors were checked too.
    expect(
      result.stats['reads with consistency=replicated / answered 503 READ_NOT_REPLICATED'],
    ).toMatch(/^[1-9]\d* \/ \d+$/);
    // The faults met real traffic (not a speed check): writes were accepted, both failovers ran.
    expect(result.history.ops.size).toBeGreaterThan(0);
    expect(result.stats['primary failures (replica promoted, old primary back as a replica)']).toBe(
      failovers.map((f) => `${f.which} ${f.signal}`).join(', '),
    );
  },
  // Generous: two failovers, each bounded (promotion 45 s, rejoin 20 s, recovery probe 60 s), on
  // a CI host whose cores the rest of the suite shares.
  420_000,
);
