import { AppError } from '../core/index.ts';

/** Deeper values are refused: they cost stack in every JSON implementation that touches them. */
export const MAX_JSON_DEPTH = 128;

/** A write's JSON body: parsed for the zod schema, and its value's source text for storage. */
export interface JsonBody {
  body: unknown;
  /**
   * The top-level `value` member exactly as the client wrote it, minus insignificant whitespace
   * (so `1e400`, `-0` and `"\u00e9"` keep their text); undefined when there is no such member.
   */
  valueJson: string | undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A body's bytes as text. Invalid UTF-8 is refused (400 MALFORMED_JSON) rather than replaced
 * with U+FFFD, which would change a value or a key the client sent. A leading BOM is dropped, as
 * the web Request API does.
 */
export function decodeBody(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new AppError('MALFORMED_JSON', 'the body is not valid UTF-8');
  }
}

/** The 400 for a body JSON.parse refused. */
export function malformedJson(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`);
}

/**
 * Reads a JSON body: JSON.parse checks the grammar (and gives zod the parsed body), then one scan
 * over the text refuses what JSON.parse would silently lose (duplicate member names, at any
 * depth: it keeps the last) or what is nested deeper than MAX_JSON_DEPTH, and copies out the
 * value's text. The value is stored as that text, never re-serialised from the parsed body,
 * because a JavaScript number cannot hold every JSON number.
 */
export function readJsonBody(text: string): JsonBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw malformedJson(err);
  }
  return { body, valueJson: scan(text) };
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isSpace = (c: number) => c === SPACE || c === LF || c === CR || c === TAB;

/** An open object or array; reused across siblings, so a scan allocates one per depth. */
interface Frame {
  object: boolean;
  /** Members read so far (objects) or the current element's index (arrays). */
  count: number;
  /** The current member's name (objects): the first needs no Set, nor does a 1-member object. */
  name: string;
  names: Set<string> | undefined;
}

/** The index just past the string whose opening quote is at `open` (text is valid JSON). */
function stringEnd(text: string, open: number): number {
  let q = open;
  for (;;) {
    q = text.indexOf('"', q + 1);
    if (q < 0) throw malformedJson(new Error('unterminated string'));
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
  }
}

function duplicate(frames: Frame[], depth: number, name: string): AppError {
  const path = frames
    .slice(0, depth)
    .map((f) => (f.object ? f.name : String(f.count)))
    .concat(name)
    .join('.');
  const message = `duplicate member name ${JSON.stringify(name)}`;
  return new AppError('VALIDATION_FAILED', `${path}: ${message}`, { errors: [{ path, message }] });
}

function tooDeep(): AppError {
  return new AppError(
    'VALIDATION_FAILED',
    `JSON nested deeper than ${String(MAX_JSON_DEPTH)} levels`,
    {
      errors: [{ path: '', message: `nesting depth over ${String(MAX_JSON_DEPTH)}` }],
    },
  );
}

/** The checks and the value's text, for text JSON.parse has accepted. */
function scan(text: string): string | undefined {
  const frames: Frame[] = [];
  let depth = 0;
  let expectName = false;
  let valueNext = false; // the top-level "value" name was just read: its text starts after ':'
  let copying = false;
  let from = 0; // start of value text not yet copied
  let copied = '';
  let valueJson: string | undefined;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      const start = i;
      do i++;
      while (i < n && isSpace(text.charCodeAt(i)));
      if (copying) {
        copied += text.slice(from, start);
        from = i;
      }
      continue;
    }
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectName) {
        expectName = false;
        const f = frames[depth - 1] as Frame;
        const raw = text.slice(i + 1, end - 1);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
        if (f.count > 0) {
          f.names ??= new Set([f.name]);
          if (f.names.has(name)) throw duplicate(frames, depth - 1, name);
          f.names.add(name);
        }
        f.name = name;
        f.count++;
        valueNext = depth === 1 && name === 'value';
      }
      i = end;
      continue;
    }
    if (c === COLON && valueNext) {
      valueNext = false;
      copying = true;
      from = i + 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= MAX_JSON_DEPTH) throw tooDeep();
      const f = frames[depth];
      const object = c === OPEN_OBJECT;
      if (f) {
        f.object = object;
        f.count = 0;
        f.names = undefined;
      } else {
        frames.push({ object, count: 0, name: '', names: undefined });
      }
      depth++;
      expectName = object;
    } else if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (copying && depth === 1) {
        valueJson = copied + text.slice(from, i);
        copying = false;
      }
      if (c !== COMMA) depth--;
      else if ((frames[depth - 1] as Frame).object) expectName = true;
      else (frames[depth - 1] as Frame).count++;
    }
    i++;
  }
  return valueJson;
}
