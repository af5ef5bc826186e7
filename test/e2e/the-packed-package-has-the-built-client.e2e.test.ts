import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, expect, it } from 'vitest';

/**
 * `npm pack` (and so `npm publish`, and installing from a git URL) builds dist/ first (the
 * prepack script), so that a packed kvq has what its package.json points at: `kvq/client` and
 * the `kvq` binary's built modules. The pack runs in a copy of the package, so that the
 * checkout's own dist/ (which bin/kvq.js would prefer to src/) is not touched. The copy lives under
 * node_modules/.cache, where it finds the checkout's dependencies by the usual lookup (a symlinked
 * node_modules would make the declaration build name dependencies by their real paths).
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const cache = join(ROOT, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'kvq-pack-'));
const app = mkdtempSync(join(tmpdir(), 'kvq-packed-'));
// npm's own shebang finds node on PATH: the node running the tests.
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` };

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(app, { recursive: true, force: true });
});

it('npm pack builds dist/ and the packed kvq/client imports and works', async () => {
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  for (const f of [
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'LICENSE',
    'README.md',
  ]) {
    cpSync(join(ROOT, f), join(pkg, f));
  }
  for (const d of ['bin', 'src']) cpSync(join(ROOT, d), join(pkg, d), { recursive: true });

  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: pkg,
    env,
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  // npm prints the prepack script's output before the JSON document.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed?.files.map((f) => f.path) ?? [];
  expect(files).toEqual(
    expect.arrayContaining([
      'bin/kvq.js',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/bin/kvq.js',
      'dist/bin/cli.js',
      'dist/cli/index.js',
      'package.json',
    ]),
  );
  expect(files.some((f) => f.startsWith('dist/store/lua/'))).toBe(true);
  expect(files.filter((f) => f.endsWith('.test.js'))).toEqual([]);

  // Installed as a dependency: `import ... from 'kvq/client'` resolves through "exports".
  const installed = join(app, 'node_modules', 'kvq');
  mkdirSync(installed, { recursive: true });
  await run('tar', [
    '-xzf',
    join(dir, packed?.filename ?? ''),
    '-C',
    installed,
    '--strip-components=1',
  ]);
  writeFileSync(
    join(app, 'use-client.mjs'),
    `import { createClient, KvqError } from 'kvq/client';
const err = await createClient({ url: 'nope' }).get('k').catch((e) => e);
console.log(err instanceof KvqError, err.code);
`,
  );
  const used = await run(process.execPath, ['use-client.mjs'], { cwd: app, timeout: 30_000 });
  expect(used.stdout.trim()).toBe('true INVALID_URL');
}, 300_000);
