#!/usr/bin/env node
// Runs the built CLI when present (npm run build), else the TypeScript source directly (Node
// strips the types). Plain JavaScript that any Node can parse, so that an old Node gets one
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

const built = new URL('../dist/bin/kvq.js', import.meta.url);
await import(existsSync(built) ? built.href : new URL('../src/bin/kvq.ts', import.meta.url).href);
