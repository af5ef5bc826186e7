/**
 * `node scripts/validate-k8s.ts FILE.yaml`: schema-validate rendered manifests and check that no
 * Deployment has two scalers; exit 1 on problems.
 */
import { readFileSync } from 'node:fs';

import { parseObjects, scalerProblems, schemaProblems } from './k8s-checks.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: validate-k8s.ts rendered.yaml');
  process.exit(2);
}
const objects = parseObjects(readFileSync(file, 'utf8'));
const problems = [...schemaProblems(objects), ...scalerProblems(objects)];
for (const p of problems) console.error(`invalid: ${p}`);
console.log(
  `validated ${String(objects.length)} objects: ${problems.length === 0 ? 'ok' : `${String(problems.length)} problems`}`,
);
process.exit(problems.length === 0 ? 0 : 1);
