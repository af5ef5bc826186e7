/** `node bench/memory-per-key.ts [N=100000] [valueBytes=32]`: prints a markdown table. */
import { bytesPerKey } from './memory.ts';

const N = Number(process.argv[2] ?? 100_000);
const VALUE_BYTES = Number(process.argv[3] ?? 32);
const m = await bytesPerKey(N, VALUE_BYTES);
console.log(`| ${String(N)} keys, ${String(VALUE_BYTES)}-byte JSON value | bytes per key |`);
console.log('| --- | ---: |');
console.log(`| plain SET | ${m.plain.toFixed(0)} |`);
console.log(`| kvq live record (hash + listing index) | ${m.kvq.toFixed(0)} |`);
console.log(`| kvq tombstone (version only, for the fencing window) | ${m.tombstone.toFixed(0)} |`);
console.log(`| ratio kvq / plain | ${(m.kvq / m.plain).toFixed(2)}x |`);
