/**
 * Example values of the OpenAPI document: one consistent story (key users/42, written as version
 * 3, its op id, its times), in the shapes render.ts and the routes produce.
 */

export const OP_ID = '4-5b1985c3-73ca-4f0f-af84-6e662f661dc6';
export const KEY = 'users/42';
export const VALUE = { name: 'Ada Lovelace', languages: ['en', 'fr'], admin: false };

export const queuedReceipt = {
  id: OP_ID,
  key: KEY,
  type: 'put',
  version: 3,
  status: 'queued',
  attempts: 0,
  acceptedAt: '2026-11-21T20:00:00.000Z',
} as const;

export const appliedReceipt = {
  ...queuedReceipt,
  status: 'applied',
  attempts: 1,
  appliedAt: '2026-11-21T20:00:00.042Z',
  expiresAt: '2026-11-21T21:00:00.042Z',
} as const;

export const record = {
  key: KEY,
  value: VALUE,
  version: 3,
  createdAt: '2026-11-20T09:30:00.000Z',
  updatedAt: '2026-11-21T20:00:00.042Z',
  expiresAt: '2026-11-21T21:00:00.042Z',
};

export const recordAfterWait = { ...record, op: appliedReceipt };

export const keyList = {
  items: [
    {
      key: 'users/41',
      version: 1,
      updatedAt: '2026-11-20T08:00:00.000Z',
      expiresAt: null,
    },
    {
      key: KEY,
      version: 3,
      updatedAt: '2026-11-21T20:00:00.042Z',
      expiresAt: '2026-11-21T21:00:00.042Z',
    },
  ],
  nextCursor: 'dXNlcnMvNDI',
};

export const putBody = { value: VALUE, ttlSeconds: 3600 };
export const createBody = { key: KEY, value: VALUE };

const deadError = { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' };

export const deadLetter = {
  id: OP_ID,
  key: KEY,
  type: 'put',
  version: 3,
  attempts: 8,
  acceptedAt: '2026-11-21T20:00:00.000Z',
  failedAt: '2026-11-21T20:00:09.512Z',
  error: deadError,
} as const;

export const deadLetterWithOp = {
  ...deadLetter,
  op: {
    id: OP_ID,
    key: KEY,
    type: 'put',
    version: 3,
    value: VALUE,
    ttlSeconds: 3600,
    acceptedAt: '2026-11-21T20:00:00.000Z',
  },
};
