/**
 * `npm run test:postman`: starts the local stack (`kvq dev`, own redis-servers, free port), runs
 * the Postman collection against it with newman, stops everything it started. Exit 1 on any
 * failed assertion. With BASE_URL set it runs against that server instead (e.g. the image).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import newman from 'newman';

import { freePort } from '../src/redis/index.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

function runNewman(baseUrl: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    newman.run(
      {
        collection: join(root, 'postman/kvq.postman_collection.json'),
        environment: join(root, 'postman/local.postman_environment.json'),
        envVar: [
          { key: 'baseUrl', value: baseUrl },
          { key: 'token', value: token },
        ],
        reporters: ['cli'],
        timeoutRequest: 30_000,
      },
      (err, summary) => {
        if (err) {
          console.error(err);
          resolve(1);
          return;
        }
        resolve(summary.run.failures.length === 0 ? 0 : 1);
      },
    );
  });
}

let code: number;
const external = process.env.BASE_URL;
if (external) {
  code = (await waitReady(external, 30_000))
    ? await runNewman(external, process.env.API_TOKEN ?? '')
    : 1;
} else {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-postman-'));
  const port = await freePort();
  const token = 'postman-test-token';
  const child = spawn(process.execPath, [join(root, 'src/bin/kvq.ts'), 'dev'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEV_DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      API_TOKENS: token,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${String(port)}`;
  try {
    code = (await waitReady(url, 30_000)) ? await runNewman(url, token) : 1;
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(code);
