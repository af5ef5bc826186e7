#!/usr/bin/env node
// Runs the built CLI when present (npm run build), else the TypeScript source directly: Node >= 22.18
// strips types natively (22.12-22.17 need --experimental-strip-types).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin/kvq.js', import.meta.url);
await import(existsSync(built) ? built.href : new URL('../src/bin/kvq.ts', import.meta.url).href);
