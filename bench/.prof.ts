import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startRedisServer, freePort } from '/work/main/src/bin/redis-server.ts';

const mode = process.argv[2] ?? 'get';
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const q = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
const d = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
const port = await freePort();
const profDir = join(dir, 'cpu');
const api = spawn(
  process.execPath,
  [
    ...(process.env.NODEFLAGS ?? '').split(' ').filter(Boolean),
    '--cpu-prof',
    `--cpu-prof-dir=${profDir}`,
    '/work/main/dist/bin/kvq.js',
    'api',
  ],
  {
    env: {
      ...process.env,
      QUEUE_REDIS_URL: q.url,
      KV_REDIS_URL: d.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      MAX_BACKLOG: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
await new Promise<void>((r) =>
  api.stdout!.on('data', (b) => {
    if (String(b).includes('listening')) r();
  }),
);
const url = `http://127.0.0.1:${port}`;
const value = JSON.stringify({ name: 'bench', n: 42, tags: ['a', 'b'] });
if (mode === 'get') {
  // seed directly in data redis via a worker-less apply: use PUT + a worker? simpler: write records with HSET
  const { Redis } = await import('ioredis');
  const r = new Redis(d.url);
  for (let i = 0; i < 1000; i++)
    await r.hset(`kvq:r:r${i}`, 'v', 1, 'val', value, 'c', Date.now(), 'u', Date.now());
  r.disconnect();
}
const { writeFileSync } = await import('node:fs');
const { execFileSync } = await import('node:child_process');
writeFileSync(
  '/tmp/prof/s.lua',
  mode === 'get'
    ? 'local n=0\nrequest=function() n=n+1; return wrk.format("GET", "/v1/keys/r" .. (n % 1000)) end'
    : `local n=0\nwrk.method="PUT"\nwrk.body='{"value":${value}}'\nwrk.headers["Content-Type"]="application/json"\nrequest=function() n=n+1; return wrk.format(nil, "/v1/keys/w" .. (n % 5000)) end`,
);
const out = execFileSync('wrk', ['-t1', '-c64', '-d6s', '-s', '/tmp/prof/s.lua', url], {
  encoding: 'utf8',
});
console.log(mode, out.match(/Requests\/sec:.*/)?.[0], out.match(/Non-2xx.*/)?.[0] ?? '');
{
  const { Redis } = await import('ioredis');
  const r = new Redis(q.url);
  const info = await r.info('commandstats');
  console.log(
    info
      .split('\n')
      .filter((l) => /evalsha|eval|hget|zadd|hset/.test(l))
      .join('\n'),
  );
  console.log(
    (await r.info('cpu'))
      .split('\n')
      .filter((l) => /used_cpu_(sys|user):/.test(l))
      .join(' '),
  );
  r.disconnect();
}
const mem = readFileSync(`/proc/${api.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1];
console.log('rss MB', Number(mem) / 1024);
api.kill('SIGTERM');
await new Promise((r) => api.once('exit', r));
await q.stop();
await d.stop();
const file = readdirSync(profDir)[0]!;
const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
const self = new Map<string, number>();
const byId = new Map<number, any>(prof.nodes.map((nd: any) => [nd.id, nd]));
const dt = prof.timeDeltas as number[];
const counts = new Map<number, number>();
prof.samples.forEach((s: number, i: number) => counts.set(s, (counts.get(s) ?? 0) + (dt[i] ?? 0)));
let total = 0;
for (const [id, t] of counts) {
  const nd = byId.get(id);
  const cf = nd.callFrame;
  const k = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, '').replace('file:///work/main/', '')}:${cf.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + t);
  total += t;
}
const pkg = new Map<string, number>();
for (const [id, t] of counts) {
  const u = byId.get(id).callFrame.url as string;
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(u);
  const k = m
    ? m[1]
    : u.startsWith('node:')
      ? 'node:' + u.split('/')[0].slice(5)
      : u.includes('/dist/')
        ? 'kvq ' + u.split('/dist/')[1].split('/')[0]
        : u || byId.get(id).callFrame.functionName;
  pkg.set(k, (pkg.get(k) ?? 0) + t);
}
for (const [k, t] of [...pkg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log('PKG', ((100 * t) / total).toFixed(1).padStart(5), k);
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
for (const [k, t] of top) console.log(((100 * t) / total).toFixed(1).padStart(5), k);
