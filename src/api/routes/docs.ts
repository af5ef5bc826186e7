import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';

import { AppError } from '../../core/index.ts';
import { buildDocument } from '../openapi/document.ts';
import { responseHeaders } from '../openapi/headers.ts';
import { problemResponses } from '../openapi/problems.ts';
import { untyped } from '../render.ts';

/**
 * GET / (to the docs), the OpenAPI document, and Swagger UI served from the pinned
 * swagger-ui-dist package: the docs page loads nothing from any other origin, so it works
 * offline and behind an egress-less network.
 */

const DOCS_JS = `window.ui = SwaggerUIBundle({
  url: document.getElementById('swagger-ui').dataset.url,
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvq API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="/openapi.json"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

/** The assets under /docs/: a file of swagger-ui-dist, or text of our own. */
const ASSETS: Record<string, { type: string; file?: string; text?: string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', file: 'swagger-ui-bundle.js' },
  'favicon-32x32.png': { type: 'image/png', file: 'favicon-32x32.png' },
  'docs.js': { type: 'text/javascript; charset=utf-8', text: DOCS_JS },
};

const distDir = () =>
  dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const docsTag = { tags: ['docs'] };

const rootRoute = createRoute({
  ...docsTag,
  method: 'get',
  path: '/',
  operationId: 'root',
  summary: 'Where to start: the docs',
  description:
    '302 Found to /docs: a temporary redirect, because DOCS_ENABLED can switch the docs off ' +
    '(a permanent 301/308 would stay in browser caches), and only GET and HEAD are served here. ' +
    'With the docs off: 200 and a JSON pointer to the OpenAPI document.',
  responses: {
    302: { description: 'To /docs', headers: responseHeaders({ location: true }) },
    200: {
      description: 'The docs are off (DOCS_ENABLED=false): where the document is',
      headers: responseHeaders(),
      content: {
        'application/json': {
          schema: z
            .object({ name: z.literal('kvq'), openapi: z.string(), docs: z.null() })
            .openapi('Index', { example: { name: 'kvq', openapi: '/openapi.json', docs: null } }),
        },
      },
    },
    ...problemResponses([]),
  },
});

const documentRoute = createRoute({
  ...docsTag,
  method: 'get',
  path: '/openapi.json',
  operationId: 'openApiDocument',
  summary: 'This OpenAPI 3.1 document',
  responses: {
    200: {
      description: 'The document',
      headers: responseHeaders(),
      content: { 'application/json': { schema: { type: 'object' } } },
    },
    ...problemResponses([]),
  },
});

const docsRoute = createRoute({
  ...docsTag,
  method: 'get',
  path: '/docs',
  operationId: 'docsPage',
  summary: 'Swagger UI for this document (only with DOCS_ENABLED)',
  responses: {
    200: {
      description: 'The page; its scripts and styles come from /docs/{asset}',
      headers: responseHeaders(),
      content: { 'text/html': { schema: { type: 'string' } } },
    },
    ...problemResponses([]),
  },
});

const assetRoute = createRoute({
  ...docsTag,
  method: 'get',
  path: '/docs/{asset}',
  operationId: 'docsAsset',
  summary: 'A Swagger UI asset, from the pinned swagger-ui-dist package',
  request: {
    params: z.object({
      asset: z.string().openapi({
        param: { name: 'asset', in: 'path' },
        description: `One of: ${Object.keys(ASSETS).join(', ')}`,
        example: 'swagger-ui.css',
      }),
    }),
  },
  responses: {
    200: {
      description: 'The asset',
      headers: responseHeaders({ 'cache-control': true }),
      content: {
        'text/css': { schema: { type: 'string' } },
        'text/javascript': { schema: { type: 'string' } },
        'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
      },
    },
    ...problemResponses(['ROUTE_NOT_FOUND']),
  },
});

export function registerDocsRoutes(app: OpenAPIHono, docsEnabled: boolean): void {
  app.openapi(rootRoute, (c) =>
    docsEnabled
      ? untyped(c.redirect('/docs', 302))
      : c.json({ name: 'kvq' as const, openapi: '/openapi.json', docs: null }, 200),
  );
  let document: ReturnType<typeof buildDocument> | undefined;
  app.openapi(documentRoute, (c) => {
    document ??= buildDocument(app);
    return untyped(c.json(document, 200));
  });
  if (!docsEnabled) return;

  const files = new Map<string, Promise<Uint8Array | string>>();
  const load = (name: string, asset: { file?: string; text?: string }) => {
    let p = files.get(name);
    if (!p) {
      p =
        asset.text !== undefined
          ? Promise.resolve(asset.text)
          : readFile(join(distDir(), asset.file ?? name));
      // A failed read is not cached: the next request tries again.
      p.catch(() => files.delete(name));
      files.set(name, p);
    }
    return p;
  };
  app.openapi(docsRoute, (c) => untyped(c.html(DOCS_HTML, 200)));
  app.openapi(assetRoute, async (c) => {
    const { asset } = c.req.valid('param');
    const known = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!known) throw new AppError('ROUTE_NOT_FOUND', `no docs asset ${asset}`);
    const body = await load(asset, known);
    return untyped(
      c.body(body as never, 200, {
        'content-type': known.type,
        'cache-control': 'public, max-age=86400',
      }),
    );
  });
}
