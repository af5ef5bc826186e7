/**
 * `npm run chaos [-- --duration 60 --rate 1500 --keys 100 --partitions 12 --topology sentinel]`: see
 * chaos.ts (--partitions defaults to $PARTITIONS, else kvq's default). Exits 1 on any violation,
 * after writing the whole history (ops, early answers, final reads) to a JSON file to study.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { flaggedKeysDump, runChaos, summaryTable } from './chaos.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    rate: { type: 'string', default: '1500' },
    keys: { type: 'string', default: '100' },
    partitions: { type: 'string' },
    topology: { type: 'string', default: 'standalone' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(
    'npm run chaos -- [--duration s=60] [--rate writes/s=1500] [--keys n=100] [--partitions P=$PARTITIONS or 12] [--topology standalone|sentinel|cluster]',
  );
  process.exit(0);
}
const partitions = values.partitions ?? process.env.PARTITIONS;
const topology = values.topology;
if (topology !== 'standalone' && topology !== 'sentinel' && topology !== 'cluster') {
  console.error(`--topology must be standalone, sentinel or cluster, got ${topology}`);
  process.exit(2);
}

const result = await runChaos({
  ...(partitions === undefined ? {} : { partitions: Number(partitions) }),
  topology,
  durationMs: Number(values.duration) * 1000,
  rate: Number(values.rate),
  keys: Number(values.keys),
  apis: 2,
  workers: 3,
  killEveryMs: 2000,
  restartRedis: true,
  drainTimeoutMs: 180_000,
  log: (l) => {
    console.log(l);
  },
});
console.log(`\n${summaryTable(result)}\n`);
for (const v of result.violations.slice(0, 20)) console.log(`VIOLATION: ${v}`);
if (!result.ok) {
  console.log(flaggedKeysDump(result));
  const file = join(tmpdir(), `kvq-chaos-history-${String(Date.now())}.json`);
  const { history, finals, violations } = result;
  writeFileSync(
    file,
    JSON.stringify({ ops: [...history.ops.values()], early: history.early, finals, violations }),
  );
  console.log(`history written to ${file}`);
}
process.exit(result.ok ? 0 : 1);
