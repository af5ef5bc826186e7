#!/usr/bin/env node
// In a checkout (src/ present) runs the TypeScript source directly (Node strips the types), so an
// edit takes effect on the next start even after `npm run build`; where there is no src/ (the
// installed package, the container image) runs the build in dist/. Plain JavaScript that any Node can parse, so that an old Node gets one
// line saying what to install instead of a syntax or option error.
import { existsSync } from 'node:fs';

// A dependency (undici) needs 22.19; running the TypeScript source needs 22.18.
const MIN = [22, 19];
const found = process.versions.node;
const [major, minor] = found.split('.').map(Number);
if (major < MIN[0] || (major === MIN[0] && minor < MIN[1])) {
  process.stderr.write(
    `kvq needs Node >= ${MIN.join('.')} (found ${found}); see .nvmrc (nvm install, or fnm use)\n`,
  );
  process.exit(1);
}

const checkout = existsSync(new URL('../src/bin/kvq.ts', import.meta.url));
const at = (path) =>
  new URL(checkout ? `../src/${path}.ts` : `../dist/${path}.js`, import.meta.url).href;
// Client commands (kvq get, put, ...) load only the HTTP client; the roles load the server.
const { isCliInvocation } = await import(at('cli/index'));
await import(at(isCliInvocation(process.argv.slice(2)) ? 'bin/cli' : 'bin/kvq'));
