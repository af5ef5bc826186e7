import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { AppError } from '../core/index.ts';
import { MAX_JSON_DEPTH, readJsonBody } from './json-value.ts';

const valueOf = (text: string) => readJsonBody(text).valueJson;

function refusal(text: string): AppError {
  try {
    readJsonBody(text);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`accepted: ${text}`);
}

describe('readJsonBody keeps the value as written', () => {
  const kept: [string, string, string][] = [
    ['a 20-digit integer', '{"value":12345678901234567890}', '12345678901234567890'],
    ['a number over Number.MAX_VALUE', '{"value":1e400}', '1e400'],
    ['negative zero', '{"value":-0}', '-0'],
    ['a redundant exponent', '{"value":0.1e1}', '0.1e1'],
    ['trailing zeros', '{"value":[1.50,1E+2,-0.0e-0]}', '[1.50,1E+2,-0.0e-0]'],
    ['literals', '{"value":[true,false,null]}', '[true,false,null]'],
    ['a string', '{"value":"x"}', '"x"'],
    [
      'escapes as written',
      String.raw`{"value":"\u00e9\n\"\\\/\ud83d\ude00"}`,
      String.raw`"\u00e9\n\"\\\/\ud83d\ude00"`,
    ],
    ['a lone surrogate escape', String.raw`{"value":"\ud800"}`, String.raw`"\ud800"`],
    ['raw non-ASCII', '{"value":"é😀 ü"}', '"é😀 ü"'],
    [
      'a string ending in a backslash',
      String.raw`{"value":["a\\"," b "]}`,
      String.raw`["a\\"," b "]`,
    ],
    [
      'nested objects and arrays',
      '{"value":{"a":[1,{"b":{"c":[]}}],"d":{}}}',
      '{"a":[1,{"b":{"c":[]}}],"d":{}}',
    ],
    [
      'whitespace outside strings removed, inside kept',
      '\r\n\t{ "value" :\n [ 1 ,\t{ "a b" : " c  d " } , [ ] ]\r\n , "ttlSeconds" : 5 }  ',
      '[1,{"a b":" c  d "},[]]',
    ],
    ['value after other members', '{"ttlSeconds":5,"key":"k","value":  2  }', '2'],
    ['the same name in sibling objects', '{"value":[{"a":1},{"a":2}]}', '[{"a":1},{"a":2}]'],
    ['"value" nested is not the value', '{"x":{"value":1},"value":2}', '2'],
    ['an escaped "value" name', String.raw`{"\u0076alue":3}`, '3'],
  ];
  it.each(kept)('%s', (_name, body, text) => {
    expect(valueOf(body)).toBe(text);
  });

  it('gives any compact JSON back unchanged, and indented JSON compacted', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(valueOf(`{"value":${text}}`)).toBe(text);
        const indented = JSON.stringify({ value: JSON.parse(text) as unknown }, null, 2);
        expect(valueOf(indented)).toBe(JSON.stringify(JSON.parse(text)));
      }),
    );
  });

  it('gives the parsed body for the schema', () => {
    expect(readJsonBody('{"value":{"a":1},"ttlSeconds":7}').body).toEqual({
      value: { a: 1 },
      ttlSeconds: 7,
    });
  });

  it('has no value text without a top-level value member', () => {
    for (const body of ['{}', '{"x":{"value":1}}', '[{"value":1}]', '"value"', '1', 'null']) {
      expect(valueOf(body)).toBeUndefined();
    }
  });
});

describe('readJsonBody refuses what it cannot keep', () => {
  const duplicates: [string, string, string][] = [
    ['in the body', '{"value":1,"value":2}', 'value'],
    ['of other members of the body', '{"value":1,"ttlSeconds":1,"ttlSeconds":2}', 'ttlSeconds'],
    ['in the value', '{"value":{"a":1,"b":2,"a":3}}', 'value.a'],
    ['deep in the value', '{"value":[0,{"x":[{"y":1,"y":1}]}]}', 'value.1.x.0.y'],
    ['spelled differently', String.raw`{"value":{"é":1,"\u00e9":2}}`, 'value.é'],
    ['outside the value', '{"value":1,"other":{"a":1,"a":1}}', 'other.a'],
    ['in a body that is an array', '[{"a":1,"a":2}]', '0.a'],
  ];
  it.each(duplicates)('duplicate member names %s', (_name, body, path) => {
    const err = refusal(body);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    expect(err.errors).toEqual([{ path, message: expect.stringContaining('duplicate') }]);
  });

  const malformed: [string, string][] = [
    ['trailing garbage', '{"value":1} x'],
    ['a second document', '{"value":1}{"value":2}'],
    ['a trailing comma', '{"value":[1,],}'],
    ['a comment', '{"value":1 /* c */}'],
    ['an empty body', ''],
    ['only whitespace', ' \n'],
    ['single quotes', "{'value':1}"],
    ['NaN', '{"value":NaN}'],
    ['a leading zero', '{"value":01}'],
    ['a raw control character in a string', '{"value":"a\u0001b"}'],
    ['a non-JSON space', '{"value":\u00a01}'],
    // The transports decode bodies with UTF-8 decoders that drop one BOM (as before); a BOM left
    // in the text is not JSON whitespace.
    ['a BOM in the text', '\ufeff{"value":1}'],
  ];
  it.each(malformed)('%s', (_name, body) => {
    expect(refusal(body).code).toBe('MALFORMED_JSON');
  });

  it(`refuses nesting deeper than ${String(MAX_JSON_DEPTH)}, at any place`, () => {
    const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    // The body object is one level: the value may nest MAX_JSON_DEPTH - 1 more.
    expect(valueOf(`{"value":${nest(MAX_JSON_DEPTH - 1)}}`)).toBe(nest(MAX_JSON_DEPTH - 1));
    for (const body of [`{"value":${nest(MAX_JSON_DEPTH)}}`, `{"x":${nest(500)},"value":1}`]) {
      const err = refusal(body);
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.detail).toMatch(/nested deeper/);
    }
  });
});
