#!/usr/bin/env node
/**
 * Composition root of the client commands (`kvq get`, `kvq put`, ...). bin/kvq.js comes here for
 * them, so that a command loads the HTTP client only, none of the server's modules.
 */
import { runCli } from '../cli/index.ts';

const { stdin, stdout, stderr } = process;
runCli(process.argv.slice(2), { env: process.env, stdin, stdout, stderr }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `kvq: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
