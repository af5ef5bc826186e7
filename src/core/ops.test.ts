import { describe, expect, it } from 'vitest';

import { jobPayloadSchema } from './ops.ts';

describe('jobPayloadSchema: request id and trace context', () => {
  const base = { opId: 'op-1', key: 'k', type: 'put', value: '1' };

  it('keeps them when well-formed', () => {
    const trace = { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'x=1' };
    expect(jobPayloadSchema.parse({ ...base, requestId: 'r-1', trace })).toEqual({
      ...base,
      requestId: 'r-1',
      trace,
    });
  });

  it.each([
    ['absent (an older job)', {}],
    ['not an object', { trace: 'traceparent', requestId: 42 }],
    ['without traceparent', { trace: { tracestate: 'x=1' }, requestId: '' }],
  ])('ignores them when %s: the op is still valid', (_name, extra) => {
    const r = jobPayloadSchema.safeParse({ ...base, ...extra });
    expect(r.success).toBe(true);
    expect(r.data).toEqual(base);
  });
});
