import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { KVQ_LAUNCHER } from '../helpers/processes.ts';

/**
 * bin/kvq.js in a checkout runs src/ even when dist/ exists (an edit takes effect after
 * `npm run build` too); the installed package and the container image have no src/ and run dist/.
 * Checked on a copy of the launcher beside stand-in trees that say which one ran.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kvq-launcher-'));
  dirs.push(root);
  mkdirSync(join(root, 'bin'));
  cpSync(KVQ_LAUNCHER, join(root, 'bin', 'kvq.js'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const stand = (name: string) => ({
  cli: 'export const isCliInvocation = () => false;\n',
  main: `process.stdout.write(${JSON.stringify(name)});\n`,
});
const SRC = {
  'src/cli/index.ts': stand('src').cli,
  'src/bin/kvq.ts': stand('src').main,
};
const DIST = {
  'dist/cli/index.js': stand('dist').cli,
  'dist/bin/kvq.js': stand('dist').main,
};

const launch = (root: string) =>
  spawnSync(process.execPath, [join(root, 'bin', 'kvq.js'), 'dev'], { encoding: 'utf8' });

it('a checkout that has been built runs src/, not the older dist/', () => {
  const r = launch(tree({ ...SRC, ...DIST }));
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('src');
});

it('without src/ (installed package, container image) runs dist/', () => {
  const r = launch(tree(DIST));
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('dist');
});
