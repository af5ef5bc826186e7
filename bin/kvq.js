#!/usr/bin/env node
// Runs the built CLI when present (npm run build), else the TypeScript source directly: Node >= 22.18
// strips types natively (22.12-22.17 need --experimental-strip-types).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin/kvq.js', import.meta.url);
const at = (path) =>
  new URL(existsSync(built) ? `../dist/${path}.js` : `../src/${path}.ts`, import.meta.url).href;
// Client commands (kvq get, put, ...) load only the HTTP client; the roles load the server.
const { isCliInvocation } = await import(at('cli/index'));
await import(at(isCliInvocation(process.argv.slice(2)) ? 'bin/cli' : 'bin/kvq'));
