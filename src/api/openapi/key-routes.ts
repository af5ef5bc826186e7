import { createRoute } from '@hono/zod-openapi';

import {
  createBody,
  keyParam,
  listQuery,
  listResult,
  opEnvelope,
  putBody,
  readQuery,
  record,
} from '../schemas.ts';
import * as ex from './examples.ts';
import { headerParams, responseHeaders } from './headers.ts';
import { problemResponses, WRITE_UNAVAILABLE } from './problems.ts';

/**
 * The documented key routes. PUT, DELETE and GET of one key are served on `/v1/keys/*` (see
 * routes/keys.ts) and only registered here; the document names them `/v1/keys/{key}`.
 */

export const KEY_PATH = '/v1/keys/{key}';
const v1 = { security: [{ bearerAuth: [] }], tags: ['keys'] };

const accepted = (waits: boolean) => ({
  202: {
    description: waits
      ? 'Accepted: the op is queued (or still running after prefer: wait). location points at its receipt.'
      : 'Accepted: the op is queued. location points at its receipt.',
    headers: responseHeaders({ location: true, 'preference-applied': false }),
    content: { 'application/json': { schema: opEnvelope, example: { op: ex.queuedReceipt } } },
  },
});

/** 200 with the receipt: prefer: wait saw the op end without effect (superseded, failed, dead). */
const endedWithoutEffect = {
  description:
    'prefer: wait — the op ended without applying (superseded by a later version, failed, dead): its receipt',
  headers: responseHeaders({ 'preference-applied': true }),
  content: { 'application/json': { schema: opEnvelope } },
};

const waitedRecord = (what: string, created: boolean) => ({
  description: `prefer: wait — ${what}: the record, with the op that wrote it`,
  headers: responseHeaders({
    etag: true,
    'preference-applied': true,
    // A new key: where it is.
    ...(created ? { location: true } : {}),
  }),
  content: { 'application/json': { schema: record, example: ex.recordAfterWait } },
});

export const putRoute = createRoute({
  ...v1,
  method: 'put',
  path: KEY_PATH,
  operationId: 'putKey',
  summary: 'Create or replace a key (queued)',
  description:
    'Accepts the write with the next version of the key and queues it (202). With prefer: wait=N ' +
    'the answer is the outcome, if it comes within N seconds.',
  parameters: headerParams('IfMatch', 'IfNoneMatchWrite', 'IdempotencyKey', 'PreferWait'),
  request: {
    params: keyParam,
    body: {
      content: { 'application/json': { schema: putBody, example: ex.putBody } },
      required: true,
    },
  },
  responses: {
    ...accepted(true),
    200: {
      ...waitedRecord('replaced', false),
      content: {
        'application/json': {
          schema: {
            anyOf: [
              { $ref: '#/components/schemas/Record' },
              { $ref: '#/components/schemas/OpEnvelope' },
            ],
          },
          examples: {
            replaced: { value: ex.recordAfterWait },
            superseded: { value: { op: { ...ex.appliedReceipt, status: 'superseded' } } },
          },
        },
      },
      description: `${waitedRecord('replaced', false).description}; or ${endedWithoutEffect.description}`,
    },
    201: waitedRecord('created', true),
    ...problemResponses(
      [
        'MALFORMED_JSON',
        'VALIDATION_FAILED',
        'INVALID_KEY',
        'KEY_FORBIDDEN',
        'INVALID_HEADER',
        'OP_NOT_FOUND',
        'PRECONDITION_FAILED',
        'PAYLOAD_TOO_LARGE',
        'VALUE_TOO_LARGE',
        'KEY_TOO_LONG',
        'UNSUPPORTED_MEDIA_TYPE',
        'IDEMPOTENCY_KEY_REUSED',
        ...WRITE_UNAVAILABLE,
      ],
      { v1: true, waits: true },
    ),
  },
});

export const createKeyRoute = createRoute({
  ...v1,
  method: 'post',
  path: '/v1/keys',
  operationId: 'createKey',
  summary: 'Create a key that must not exist yet (queued)',
  description:
    'Like PUT with if-none-match: *, but the key is in the body and an existing key is 409 ' +
    'KEY_EXISTS. The receipt says type "create".',
  parameters: headerParams('IdempotencyKey', 'PreferWait'),
  request: {
    body: {
      content: { 'application/json': { schema: createBody, example: ex.createBody } },
      required: true,
    },
  },
  responses: {
    ...accepted(true),
    200: endedWithoutEffect,
    201: waitedRecord('created', true),
    ...problemResponses(
      [
        'MALFORMED_JSON',
        'VALIDATION_FAILED',
        'INVALID_KEY',
        'KEY_FORBIDDEN',
        'INVALID_HEADER',
        'OP_NOT_FOUND',
        'KEY_EXISTS',
        'PAYLOAD_TOO_LARGE',
        'VALUE_TOO_LARGE',
        'UNSUPPORTED_MEDIA_TYPE',
        'IDEMPOTENCY_KEY_REUSED',
        ...WRITE_UNAVAILABLE,
      ],
      { v1: true, waits: true },
    ),
  },
});

export const deleteRoute = createRoute({
  ...v1,
  method: 'delete',
  path: KEY_PATH,
  operationId: 'deleteKey',
  summary: 'Delete a key (queued; leaves a tombstone)',
  description: 'Decided once the key has no pending writes: 404 KEY_NOT_FOUND if it is not live.',
  parameters: headerParams('IfMatch', 'IdempotencyKey', 'PreferWait'),
  request: { params: keyParam },
  responses: {
    ...accepted(true),
    200: endedWithoutEffect,
    204: {
      description: 'prefer: wait — deleted',
      headers: responseHeaders({ 'preference-applied': true }),
    },
    ...problemResponses(
      [
        'INVALID_KEY',
        'KEY_FORBIDDEN',
        'INVALID_HEADER',
        'KEY_NOT_FOUND',
        'OP_NOT_FOUND',
        'PRECONDITION_FAILED',
        'KEY_TOO_LONG',
        'IDEMPOTENCY_KEY_REUSED',
        ...WRITE_UNAVAILABLE,
      ],
      { v1: true, waits: true },
    ),
  },
});

export const getRoute = createRoute({
  ...v1,
  method: 'get',
  path: KEY_PATH,
  operationId: 'getKey',
  summary: 'Read a key',
  description:
    'With ?after=<op id>, first waits (bounded) until that op is terminal: read-your-writes. With ?consistency=replicated, answers only what MIN_REPLICA_ACKS replicas of the data Redis hold too.',
  parameters: headerParams('IfNoneMatchRead', 'PreferWait'),
  request: { params: keyParam, query: readQuery },
  responses: {
    200: {
      description: 'The record; etag is its version',
      headers: responseHeaders({ etag: true }),
      content: { 'application/json': { schema: record, example: ex.record } },
    },
    304: {
      description: 'if-none-match named the version',
      headers: responseHeaders({ etag: true }),
    },
    ...problemResponses(
      [
        'INVALID_KEY',
        'KEY_FORBIDDEN',
        'KEY_NOT_FOUND',
        'OP_NOT_FOUND',
        'KEY_TOO_LONG',
        'VALIDATION_FAILED',
        'OP_PENDING',
        'READ_NOT_REPLICATED',
        'QUEUE_UNAVAILABLE',
        'DATA_UNAVAILABLE',
      ],
      { v1: true },
    ),
  },
});

export const listRoute = createRoute({
  ...v1,
  method: 'get',
  path: '/v1/keys',
  operationId: 'listKeys',
  summary: 'List live keys in byte order',
  request: { query: listQuery },
  responses: {
    200: {
      description: 'A page of keys',
      headers: responseHeaders(),
      content: { 'application/json': { schema: listResult, example: ex.keyList } },
    },
    ...problemResponses(
      ['VALIDATION_FAILED', 'INVALID_CURSOR', 'KEY_FORBIDDEN', 'DATA_UNAVAILABLE'],
      { v1: true },
    ),
  },
});
