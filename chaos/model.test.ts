import { describe, expect, it } from 'vitest';

import {
  type AcceptedOp,
  check,
  type CheckInput,
  type EarlyAnswer,
  type FinalRead,
  MAX_STATES,
} from './model.ts';

const op = (version: number, o: Partial<AcceptedOp> = {}): AcceptedOp => ({
  id: `o${version}`,
  key: 'k',
  version,
  kind: 'put',
  valueJson: `${version}`,
  status: 'applied',
  ...o,
});
const ifMatch = (v: number) => ({ kind: 'version', version: v }) as const;
const failed = (errorCode: string): Partial<AcceptedOp> => ({ status: 'failed', errorCode });
const read = (status: 200 | 404, version?: number, valueJson?: string, at = 0): FinalRead =>
  status === 404
    ? { key: 'k', status, at }
    : { key: 'k', status, version: version ?? 0, valueJson: valueJson ?? `${version ?? 0}`, at };
const early = (e: Partial<EarlyAnswer>): EarlyAnswer => ({
  key: 'k',
  kind: 'put',
  httpStatus: 412,
  code: 'PRECONDITION_FAILED',
  decidedAfterVersion: 0,
  decidedAt: 0,
  ...e,
});
const run = (ops: AcceptedOp[], more: Partial<CheckInput> = {}) =>
  check({ ops, early: [], finals: [], ...more });
const violations = (ops: AcceptedOp[], more: Partial<CheckInput> = {}) => run(ops, more).violations;

describe('the serial model: replay in version order (rules 1 and 3)', () => {
  it('passes a CAS increment where only the If-Match on the current version succeeds', () => {
    const ops = [
      op(1, { valueJson: '0' }),
      op(2, { cond: ifMatch(1), valueJson: '1' }),
      op(3, { cond: ifMatch(1), valueJson: '1', ...failed('PRECONDITION_FAILED') }),
      op(4, { cond: ifMatch(2), valueJson: '2' }),
      op(5, { cond: ifMatch(2), valueJson: '2', ...failed('PRECONDITION_FAILED') }),
      op(7, { cond: ifMatch(4), valueJson: '3' }), // versions may have gaps
    ];
    expect(violations(ops, { finals: [read(200, 7, '3')] })).toEqual([]);
  });

  it('flags a lost update: two If-Match on the same version both applied', () => {
    const ops = [op(1), op(2, { cond: ifMatch(1) }), op(3, { cond: ifMatch(1) })];
    const v = violations(ops, { finals: [read(200, 3)] });
    expect(v).toHaveLength(1);
    expect(v[0]).toContain('op o3 (v3 put If-Match: "1")');
    expect(v[0]).toContain('did not take effect in serial order');
    expect(v[0]).toContain('PRECONDITION_FAILED');
  });

  it('replays in version order, not in the order ops are given', () => {
    const ops = [op(2, { cond: ifMatch(1) }), op(1)];
    expect(violations(ops, { finals: [read(200, 2)] })).toEqual([]);
  });

  it('flags a write reported failed that succeeds in serial order', () => {
    expect(violations([op(1, failed('PRECONDITION_FAILED'))])[0]).toContain(
      'reported failed PRECONDITION_FAILED, but serial order allows success',
    );
    expect(
      violations([op(1), op(2, { cond: ifMatch(1), ...failed('PRECONDITION_FAILED') })]),
    ).toHaveLength(1);
  });

  it('flags create twice both succeeded, passes the second failing with KEY_EXISTS', () => {
    const create = { kind: 'create' } as const;
    expect(violations([op(1, create), op(2, create)])[0]).toContain('op o2 (v2 create)');
    expect(violations([op(1, create), op(2, { ...create, ...failed('KEY_EXISTS') })])).toEqual([]);
  });

  it('flags a failure reported with the wrong code class', () => {
    const v = violations([op(1), op(2, { kind: 'create', ...failed('PRECONDITION_FAILED') })]);
    expect(v[0]).toContain('serial order allows KEY_EXISTS');
  });

  it('flags a delete of an absent key reported applied; KEY_NOT_FOUND passes', () => {
    expect(violations([op(1, { kind: 'delete' })])[0]).toContain(
      'serial order allows KEY_NOT_FOUND',
    );
    expect(violations([op(1, { kind: 'delete', ...failed('KEY_NOT_FOUND') })])).toEqual([]);
    expect(violations([op(1), op(2, { kind: 'delete' })], { finals: [read(404)] })).toEqual([]);
  });

  it('takes KEY_NOT_FOUND or PRECONDITION_FAILED for a conditional delete of an absent key', () => {
    for (const cond of [ifMatch(1), { kind: 'exists' } as const])
      for (const code of ['KEY_NOT_FOUND', 'PRECONDITION_FAILED'])
        expect(violations([op(1, { kind: 'delete', cond, ...failed(code) })])).toEqual([]);
  });

  it('flags KEY_NOT_FOUND for a conditional delete of a live key at another version', () => {
    const ops = [op(1), op(2, { kind: 'delete', cond: ifMatch(7), ...failed('KEY_NOT_FOUND') })];
    expect(violations(ops)).toHaveLength(1);
    const ok = [
      op(1),
      op(2, { kind: 'delete', cond: ifMatch(7), ...failed('PRECONDITION_FAILED') }),
    ];
    expect(violations(ok)).toEqual([]);
  });

  it('decides If-Match: * and If-None-Match: * on puts', () => {
    const exists = { kind: 'exists' } as const;
    const absent = { kind: 'absent' } as const;
    expect(violations([op(1, { cond: exists, ...failed('PRECONDITION_FAILED') })])).toEqual([]);
    expect(violations([op(1, { cond: exists })])).toHaveLength(1);
    expect(violations([op(1, { cond: absent }), op(2, { cond: exists })])).toEqual([]);
    expect(violations([op(1), op(2, { cond: absent })])).toHaveLength(1);
  });
});

describe('no-effect and non-terminal outcomes (rule 2)', () => {
  it('flags a dead op whose value is visible at the end', () => {
    const v = violations([op(1), op(2, { status: 'dead' })], { finals: [read(200, 2)] });
    expect(v).toEqual(['key "k" final read at 0: got 200 v2 2, but the serial state is v1 1']);
  });

  it('treats dead and OP_EXPIRED ops as never having happened', () => {
    const ops = [
      op(1, { kind: 'create', status: 'dead' }),
      op(2, { kind: 'create', ...failed('OP_EXPIRED') }),
      op(3, { kind: 'create' }),
    ];
    expect(violations(ops, { finals: [read(200, 3)] })).toEqual([]);
  });

  it('flags a failure code it does not know', () => {
    expect(violations([op(1, failed('BOOM'))])[0]).toContain('unrecognised code BOOM');
  });

  it('flags ops left queued, active or without a receipt unless allowNonTerminal', () => {
    const ops = [
      op(1, { status: 'queued' }),
      op(2, { status: 'active' }),
      op(3, { status: undefined }),
    ];
    expect(violations(ops)).toHaveLength(3);
    expect(violations(ops, { allowNonTerminal: true })).toEqual([]);
  });

  it('with allowNonTerminal, forks on an unknown op and accepts either branch', () => {
    const create = { kind: 'create' } as const;
    for (const second of [op(2, create), op(2, { ...create, ...failed('KEY_EXISTS') })]) {
      const ops = [op(1, { status: 'queued' }), second];
      expect(violations(ops, { allowNonTerminal: true })).toEqual([]);
    }
    const pending = [op(1, { status: 'active' })];
    for (const r of [read(404), read(200, 1)])
      expect(violations(pending, { allowNonTerminal: true, finals: [r] })).toEqual([]);
  });

  it('narrows the fork by later outcomes', () => {
    // v2 failing its If-Match "1" means v1 did not take effect: a read of v1 is then wrong.
    const ops = [
      op(1, { status: 'queued' }),
      op(2, { cond: ifMatch(1), ...failed('PRECONDITION_FAILED') }),
    ];
    const v = violations(ops, { allowNonTerminal: true, finals: [read(200, 1)] });
    expect(v).toEqual(['key "k" final read at 0: got 200 v1 1, but the serial state is absent']);
  });

  it(`reports and stops checking a key past ${MAX_STATES} possible states`, () => {
    const ops = Array.from({ length: MAX_STATES + 5 }, (_, i) => op(i + 1, { status: 'queued' }));
    const { violations: v, stats } = run(ops, { allowNonTerminal: true, finals: [read(200, 999)] });
    expect(v).toHaveLength(1);
    expect(v[0]).toContain(`more than ${MAX_STATES} possible states after v${MAX_STATES}`);
    expect(stats.maxStates).toBe(MAX_STATES + 1);
  });
});

describe('superseded (rule 4)', () => {
  it('passes a superseded op followed by a later success', () => {
    const ops = [op(1, { status: 'superseded' }), op(2, failed('OP_EXPIRED')), op(3)];
    expect(violations(ops)).toEqual([]);
  });

  it('flags a superseded op with no later success', () => {
    const ops = [
      op(1, { status: 'superseded' }),
      op(2, { kind: 'create', ...failed('KEY_EXISTS') }),
    ];
    expect(violations(ops)).toEqual([
      'key "k" op o1 (v1): reported superseded, but no later write of the key succeeded',
    ]);
    expect(violations([op(1), op(2, { status: 'superseded' })])).toHaveLength(1);
  });

  it('with allowNonTerminal, a later unknown op may have superseded it', () => {
    const ops = [op(1, { status: 'superseded' }), op(2, { status: 'queued' })];
    expect(violations(ops, { allowNonTerminal: true })).toEqual([]);
  });
});

describe('HTTP answers (rule 5)', () => {
  it('flags a 2xx for a write that fails in serial order, even without a receipt', () => {
    const ops = [op(1), op(2, { kind: 'create', status: undefined, httpStatus: 201 })];
    expect(violations(ops)[0]).toContain('reported HTTP 201, a write that did not take effect');
  });

  it('passes 202 for any outcome and a 2xx that matches a success', () => {
    const ops = [
      op(1, { httpStatus: 200 }),
      op(2, { kind: 'create', httpStatus: 202, ...failed('KEY_EXISTS') }),
      op(3, { kind: 'delete', httpStatus: 204 }),
      op(4, { kind: 'create', status: undefined, httpStatus: 201 }),
    ];
    expect(violations(ops)).toEqual([]);
  });

  it('flags a terminal answer that contradicts the receipt', () => {
    expect(violations([op(1, { status: 'dead', httpStatus: 200 })])[0]).toContain(
      'answered HTTP 200 (ok) but its receipt says dead',
    );
    expect(violations([op(1, { status: 'queued', httpStatus: 200 })])).toHaveLength(1);
  });

  it('judges a 4xx answer to an accepted op like a failed receipt', () => {
    const ops = [op(1), op(2, { kind: 'create', status: undefined, httpStatus: 409 })];
    expect(violations(ops)).toEqual([]);
    expect(
      violations([op(1, { kind: 'create', status: undefined, httpStatus: 409 })]),
    ).toHaveLength(1);
  });
});

describe('early answers (rule 6)', () => {
  const ops = [op(1), op(3, { cond: ifMatch(1) })];

  it('passes an early 4xx that fails against the state after decidedAfterVersion', () => {
    const e = [
      early({ cond: ifMatch(1), decidedAfterVersion: 3 }),
      early({ cond: ifMatch(3), decidedAfterVersion: 2 }), // after v1 (v2 does not exist)
      early({ kind: 'create', httpStatus: 409, code: 'KEY_EXISTS', decidedAfterVersion: 1 }),
      early({ kind: 'delete', httpStatus: 404, code: 'KEY_NOT_FOUND', decidedAfterVersion: 0 }),
    ];
    expect(violations(ops, { early: e })).toEqual([]);
  });

  it('flags an early 4xx for a write that would have succeeded', () => {
    const e = [
      early({ cond: ifMatch(1), decidedAfterVersion: 2 }),
      early({ kind: 'create', httpStatus: 409, code: 'KEY_EXISTS' }),
      early({}), // a blind put never fails
    ];
    const v = violations(ops, { early: e });
    expect(v).toHaveLength(3);
    for (const x of v) expect(x).toContain('early 4xx for a write that would have succeeded');
  });

  it('flags an early answer with the wrong code or a mismatched status', () => {
    const wrongCode = early({ kind: 'create', decidedAfterVersion: 1 });
    expect(violations(ops, { early: [wrongCode] })[0]).toContain('the wrong code');
    const mismatched = early({ kind: 'create', code: 'KEY_EXISTS', decidedAfterVersion: 1 });
    expect(violations(ops, { early: [mismatched] })).toEqual([
      'key "k" early 412 KEY_EXISTS (create after v1 at 0): HTTP 412 does not go with KEY_EXISTS',
    ]);
  });
});

describe('final reads (rule 7)', () => {
  it('passes reads that match the final state', () => {
    expect(violations([op(1), op(2)], { finals: [read(200, 2)] })).toEqual([]);
    expect(violations([], { finals: [read(404)] })).toEqual([]);
  });

  it('flags a wrong version, a wrong value, a 404 for a live key and a 200 for a missing one', () => {
    const finals = [read(200, 1), read(200, 2, '"x"'), read(404)];
    expect(violations([op(1), op(2)], { finals })).toHaveLength(3);
    expect(violations([], { finals: [read(200, 1)] })).toHaveLength(1);
  });
});

describe('versions (rule 8)', () => {
  it('flags versions that are not positive integers and a version given to two ops', () => {
    const v = violations([op(0), op(1.5), op(2), op(2, { id: 'other' })]);
    expect(v).toEqual([
      'key "k" op o0: version 0 is not a positive integer',
      'key "k" op o1.5: version 1.5 is not a positive integer',
      'key "k": version 2 given to ops o2 and other',
    ]);
  });

  it('ignores an op reported twice, flags one id for two writes', () => {
    expect(violations([op(1), op(1)])).toEqual([]);
    expect(violations([op(1), op(2, { id: 'o1' })])).toHaveLength(1);
  });
});

describe('TTL', () => {
  const ttl = { ttlMs: 1000, expiresAt: 5000 };
  const create = (decidedAt: number, o: Partial<AcceptedOp> = {}) =>
    op(2, { kind: 'create', decidedAt, ...o });

  it('treats an expired key as absent for a create decided after expiry', () => {
    expect(violations([op(1, ttl), create(6000)], { finals: [read(200, 2, '2', 7000)] })).toEqual(
      [],
    );
    expect(violations([op(1, ttl), create(5000)])).toEqual([]); // expiresAt is not live
    expect(violations([op(1, ttl), create(4999)])).toHaveLength(1);
    expect(violations([op(1, ttl), create(6000, failed('KEY_EXISTS'))])).toHaveLength(1);
  });

  it('reads an expired key as 404', () => {
    expect(violations([op(1, ttl)], { finals: [read(404, 0, '', 5000)] })).toEqual([]);
    expect(violations([op(1, ttl)], { finals: [read(200, 1, '1', 5000)] })).toHaveLength(1);
    expect(violations([op(1, ttl)], { finals: [read(404, 0, '', 4999)] })).toHaveLength(1);
  });

  it('accepts either answer when a decision hangs on an expiry that is not known', () => {
    const unknown = op(1, { ttlMs: 1000, status: 'applied' });
    for (const second of [create(6000), create(6000, failed('KEY_EXISTS'))])
      expect(violations([unknown, second])).toEqual([]);
    for (const r of [read(404, 0, '', 9000), read(200, 1, '1', 9000)])
      expect(violations([unknown], { finals: [r] })).toEqual([]);
    // but a version that does not match fails whatever the expiry
    const wrong = op(2, { cond: ifMatch(7), decidedAt: 6000 });
    expect(violations([unknown, wrong])).toHaveLength(1);
  });
});

describe('stats', () => {
  it('counts outcomes', () => {
    const ops = [
      op(1, { status: 'superseded' }),
      op(2),
      op(3, { kind: 'create', ...failed('KEY_EXISTS') }),
      op(4, { status: 'dead' }),
      op(5, { status: 'queued' }),
      op(1, { key: 'j', id: 'j1' }),
    ];
    const { stats } = run(ops, {
      allowNonTerminal: true,
      early: [early({ decidedAfterVersion: 9 })],
    });
    expect(stats).toMatchObject({
      keys: 2,
      ops: 6,
      applied: 2,
      superseded: 1,
      failed: 1,
      noEffect: 1,
      nonTerminal: 1,
      early: 1,
      finals: 0,
      maxStates: 2,
    });
  });
});
