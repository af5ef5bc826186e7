/**
 * `npm run metrics:check`: starts `kvq dev` (its own two redis-server children, in a temporary
 * directory) with METRICS_PORT on a free loopback port and QUEUE_METRICS on (as the one role
 * that reads the queue), sends a little traffic through both transports, scrapes `/metrics`,
 * lints the scrape with `promtool check metrics` (Debian: `apt-get install prometheus`) and
 * checks that every metric the alerts and the dashboard use is in it
 * (k8s/components/monitoring). Exit 1 on any problem, or when promtool is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from '../src/redis/index.ts';
import { missingFromScrape } from './monitoring.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

if (spawnSync('promtool', ['--version']).status !== 0) {
  console.error('promtool not found: install it (Debian: apt-get install prometheus)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'kvq-metrics-'));
const [port, metricsPort] = [await freePort(), await freePort()];
const child = spawn(process.execPath, [join(root, 'src/bin/kvq.ts'), 'dev'], {
  env: {
    ...process.env,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    QUEUE_METRICS: 'true',
    HOST: '127.0.0.1',
    DEV_DATA_DIR: dir,
    LOG_LEVEL: 'fatal',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let code = 1;
try {
  const url = `http://127.0.0.1:${String(port)}`;
  if (!(await waitReady(url, 30_000))) throw new Error('kvq dev did not get ready');
  const json = { 'Content-Type': 'application/json', Prefer: 'wait=10' };
  const sent: [string, string, RequestInit][] = [
    ['PUT', '/v1/keys/metrics-check', { headers: json, body: '{"value":1}' }],
    ['GET', '/v1/keys/metrics-check', {}],
    ['GET', '/v1/keys/metrics-check?', {}],
    ['GET', '/v1/keys/never-written', {}],
    ['DELETE', '/v1/keys/metrics-check', { headers: { Prefer: 'wait=10' } }],
    ['GET', '/no-such-route', {}],
  ];
  for (const [method, path, init] of sent) {
    await (await fetch(url + path, { method, ...init })).arrayBuffer();
  }
  const scrape = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
  const problems = `${lint.stdout}${lint.stderr}`.trim();
  const series = scrape.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const missing = missingFromScrape(scrape);
  if (lint.status === 0 && problems === '') {
    console.log(`promtool check metrics: a scrape of ${String(series)} samples is clean`);
  } else {
    console.error(`promtool check metrics (exit ${String(lint.status)}):\n${problems}`);
  }
  if (missing.length === 0) {
    console.log('every metric the alerts and the dashboard use is in the scrape');
  } else {
    console.error(
      `used by alerts or the dashboard but not in the scrape:\n  ${missing.join('\n  ')}`,
    );
  }
  if (lint.status === 0 && problems === '' && missing.length === 0) code = 0;
} catch (err) {
  console.error(`metrics check: ${(err as Error).message}`);
} finally {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
