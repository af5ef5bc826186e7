import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

import { AppError } from '../../core/index.ts';

export const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
/** Deeper values are refused: they cost stack in every JSON implementation that touches them. */
export const MAX_JSON_DEPTH = 128;

function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/** The body limit of writes: room for the envelope around the largest value and key. */
export function maxWriteBodyBytes(limits: { maxKeyBytes: number; maxValueBytes: number }): number {
  return limits.maxValueBytes + limits.maxKeyBytes * 6 + 4096;
}

/** The 400 for a body JSON.parse refused. */
export function malformedJson(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`);
}

/** Refuses parsed JSON nested deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(body: unknown): void {
  if (depthExceeds(body, MAX_JSON_DEPTH)) {
    throw new AppError(
      'VALIDATION_FAILED',
      `JSON nested deeper than ${String(MAX_JSON_DEPTH)} levels`,
      { errors: [{ path: '', message: `nesting depth over ${String(MAX_JSON_DEPTH)}` }] },
    );
  }
}

/**
 * For writes with a JSON body: 415 unless the body is JSON, 413 before reading a body over the
 * limit (Content-Length is checked first, a chunked body is counted as it streams), 400 for
 * malformed or too deeply nested JSON. The parsed body is cached for the zod validator.
 */
export function jsonBody(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `the request body is over the ${String(maxBytes)}-byte limit`,
      );
    },
  });
  return async (c, next) => {
    const type = c.req.header('Content-Type');
    if (!type || !JSON_TYPE.test(type)) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    }
    const declared = c.req.header('Content-Length');
    if (declared !== undefined && !/^\d+$/.test(declared.trim())) {
      throw new AppError('INVALID_HEADER', 'Content-Length is not a number');
    }
    const parse = async () => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch (err) {
        throw malformedJson(err);
      }
      checkJsonDepth(body);
      await next();
    };
    // With a Content-Length (the usual case) the limit is a header check, and the body is read
    // on @hono/node-server's fast path; touching `req.raw.body`, as bodyLimit does, would turn
    // every request into a web-stream Request (measured: ~3x slower writes). Node's parser
    // guarantees the body is exactly that long. Chunked bodies are counted as they stream.
    if (declared !== undefined && !c.req.header('Transfer-Encoding')) {
      if (Number(declared) > maxBytes) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `the request body is over the ${String(maxBytes)}-byte limit`,
        );
      }
      await parse();
      return;
    }
    await limit(c, parse);
  };
}
