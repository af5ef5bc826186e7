import type { Problem } from './types.ts';

/**
 * Codes the client gives answers that carry no problem document of kvq's: the server could not be
 * reached, the request timed out, or an answer (a HEAD, a proxy's error page) had no problem body.
 */
export const CLIENT_ERROR_CODES = {
  /** No HTTP answer: connection refused or reset, DNS failure. */
  UNREACHABLE: 'UNREACHABLE',
  /** No answer within the client's timeoutMs. */
  TIMEOUT: 'TIMEOUT',
  /** The client's url cannot be used (not an http(s) URL, or it carries credentials); nothing was sent. */
  INVALID_URL: 'INVALID_URL',
  /** An error status without a kvq problem body; the code is `HTTP_<status>`. */
  HTTP: 'HTTP',
} as const;

/**
 * Any failed request: a problem+json answer from kvq (code, status, detail, retryAfter as sent),
 * or one of CLIENT_ERROR_CODES (status 0 when there was no answer at all).
 */
export class KvqError extends Error {
  /**
   * kvq's error code (e.g. KEY_NOT_FOUND, PRECONDITION_FAILED; INVALID_KEY also when the client
   * refused a key itself), or UNREACHABLE, TIMEOUT, INVALID_URL, HTTP_<status>.
   */
  readonly code: string;
  /** The HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly requestId: string | undefined;
  /** Seconds, from Retry-After, when the server sent one. */
  readonly retryAfter: number | undefined;
  /** The problem document as sent (extension members included), when there was one. */
  readonly problem: Problem | undefined;

  constructor(
    init: {
      code: string;
      status: number;
      title?: string;
      detail: string;
      requestId?: string | undefined;
      retryAfter?: number | undefined;
      problem?: Problem | undefined;
    },
    options?: { cause?: unknown },
  ) {
    super(`${init.code}: ${init.detail}`, options);
    this.name = 'KvqError';
    this.code = init.code;
    this.status = init.status;
    this.title = init.title ?? init.code;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.problem = init.problem;
  }

  /** Per-field validation errors of a 400 VALIDATION_FAILED. */
  get errors(): readonly { path: string; message: string }[] {
    return this.problem?.errors ?? [];
  }

  /**
   * Whether the same request may succeed later (503s, 429 after `retryAfter`, timeouts, no answer;
   * not a bad url).
   */
  get retryable(): boolean {
    if (this.code === CLIENT_ERROR_CODES.INVALID_URL) return false;
    return this.status === 503 || this.status === 429 || this.status === 0;
  }
}

export function isKvqError(e: unknown): e is KvqError {
  return e instanceof KvqError;
}

/** Retry-After as seconds (a delay or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** A KvqError for an error answer: from its problem body when it has one. */
export async function errorFromResponse(res: Response): Promise<KvqError> {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
  const requestId = res.headers.get('X-Request-Id') ?? undefined;
  const text = await res.text().catch(() => '');
  if (/json/.test(res.headers.get('Content-Type') ?? '') && text !== '') {
    try {
      const body = JSON.parse(text) as Partial<Problem> | null;
      if (body && typeof body.code === 'string') {
        const problem = body as Problem;
        return new KvqError({
          code: problem.code,
          status: res.status,
          title: problem.title,
          detail: typeof problem.detail === 'string' ? problem.detail : problem.code,
          requestId: problem.requestId,
          retryAfter,
          problem,
        });
      }
    } catch {
      // Not a problem document: answered below as HTTP_<status>.
    }
  }
  return new KvqError({
    code: `HTTP_${String(res.status)}`,
    status: res.status,
    detail: `${String(res.status)} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`,
    requestId,
    retryAfter,
  });
}
