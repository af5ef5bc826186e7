import { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * Holds real HTTP exchanges against an OpenAPI document: which documented operation a request
 * is, and whether the answer (status, headers, problem code, body) is what that operation says.
 */

export type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { parameters: Record<string, Parameter> };
};
export interface Parameter {
  name: string;
  in: string;
}
export interface Response {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, { schema: unknown }>;
}
export interface Operation {
  operationId: string;
  parameters?: (Parameter | { $ref: string })[];
  responses: Record<string, Response>;
}

export interface Exchange {
  method: string;
  path: string;
  sentRequestId: string | undefined;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Headers Node's HTTP writer and the adapter add on their own (not kvq's to document). */
export const TRANSPORT_HEADERS = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
]);

/** `/v1/keys/{key}` as a regexp: `{key}` may hold "/", other parameters may not. */
function templateRegExp(template: string): RegExp {
  const src = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      if (part === '{key}') return '.+';
      if (part.startsWith('{')) return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${src}$`);
}

/** The documented operation a request is (the most literal matching template first). */
export function operationOf(doc: Doc, method: string, path: string) {
  const pathOnly = path.split('?')[0] ?? path;
  const candidates = Object.keys(doc.paths)
    .filter((t) => templateRegExp(t).test(pathOnly) && doc.paths[t]?.[method.toLowerCase()])
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  const template = candidates[0];
  if (template === undefined) return undefined;
  return { template, op: doc.paths[template]![method.toLowerCase()]! };
}

/** Resolves an operation's parameters (`$ref`s into components.parameters). */
export function parametersOf(doc: Doc, op: Operation): Parameter[] {
  return (op.parameters ?? []).map((p) =>
    '$ref' in p ? doc.components.parameters[p.$ref.split('/').pop()!]! : p,
  );
}

/** The `code` enum of a documented problem response. */
export function documentedCodes(response: Response | undefined): string[] {
  const schema = response?.content?.['application/problem+json']?.schema as
    { allOf?: { properties?: { code?: { enum?: string[] } } }[] } | undefined;
  return schema?.allOf?.[1]?.properties?.code?.enum ?? [];
}

/** A validator of response bodies against the document's own schemas (JSON Schema 2020-12). */
export function bodyValidator(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'kvq-openapi', components: (doc as { components: object }).components });
  return (schema: unknown, body: unknown): string | undefined => {
    const rebased = JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/', '"kvq-openapi#/components/'),
    ) as object;
    const validate = ajv.compile(rebased);
    return validate(body) ? undefined : ajv.errorsText(validate.errors);
  };
}

/**
 * Everything wrong with one exchange against the document: an undocumented operation or
 * status, a problem code the status does not list, a kvq header the status does not document,
 * a required header missing, a body its schema refuses, a request id not echoed.
 */
export function contractErrors(
  doc: Doc,
  e: Exchange,
  validate: ReturnType<typeof bodyValidator>,
): string[] {
  const where = `${e.method} ${e.path} -> ${String(e.status)}`;
  const found = operationOf(doc, e.method, e.path);
  if (!found) return [`${where}: no documented operation`];
  const response = found.op.responses[String(e.status)];
  if (!response) return [`${where}: status not documented for ${found.op.operationId}`];
  const errors: string[] = [];
  const documented = response.headers ?? {};
  for (const name of Object.keys(e.headers)) {
    if (!TRANSPORT_HEADERS.has(name) && !(name in documented))
      errors.push(`${where}: header ${name} not documented`);
  }
  for (const [name, h] of Object.entries(documented)) {
    if (h.required && e.headers[name] === undefined)
      errors.push(`${where}: required header ${name} missing`);
  }
  const type = (e.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (e.method !== 'HEAD' && type) {
    const media = response.content?.[type];
    if (!media) errors.push(`${where}: ${type} not documented`);
    else if (type.endsWith('json')) {
      const invalid = validate(media.schema, e.body);
      if (invalid) errors.push(`${where}: body does not match its schema: ${invalid}`);
    }
  }
  if (type === 'application/problem+json' && e.method !== 'HEAD') {
    const code = (e.body as { code?: string }).code ?? '';
    if (!documentedCodes(response).includes(code))
      errors.push(`${where}: code ${code} not listed for ${found.op.operationId}`);
  }
  if (e.sentRequestId !== undefined && e.headers['x-request-id'] !== e.sentRequestId)
    errors.push(`${where}: x-request-id not echoed`);
  return errors;
}
