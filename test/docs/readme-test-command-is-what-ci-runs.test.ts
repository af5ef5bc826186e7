import { expect, it } from 'vitest';

import { prose, readDoc } from './markdown.ts';

it('the README gives `npm test` as the test command, and .ci/run runs it', () => {
  const readme = readDoc('README.md');
  expect(readme).toMatch(/^```sh\nnpm test\n```$/m);
  expect(prose(readme)).toMatch(/CI \(`\.ci\/run`\) runs exactly this/);
  const ci = readDoc('.ci/run')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'));
  expect(ci.some((line) => /^npm test( |$)/.test(line.trim()))).toBe(true);
  expect(JSON.parse(readDoc('package.json')).scripts.test).toBe('vitest run');
});
