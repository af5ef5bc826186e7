import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { apiKeyDigest } from '../../src/core/index.ts';
import { parseKeysFile } from '../../src/store/index.ts';
import { runKvq } from '../helpers/processes.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * `kvq keys create|list|revoke`, run as a user runs it (bin/kvq.js), against the stack's real data
 * Redis: the first admin key needs no API, and what it creates the API accepts.
 */

let s: Stack;
let env: Record<string, string>;
beforeAll(async () => {
  s = await startStack({ worker: false, env: { AUTH: 'keys', KEY_CACHE_MS: '0' } });
  env = { KV_REDIS_URL: s.kvUrl, KEY_PREFIX: s.config.KEY_PREFIX, LOG_LEVEL: 'silent' };
});
afterAll(async () => {
  await s.stop();
});

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

describe('kvq keys', () => {
  let admin: string;

  it('create prints the key alone on stdout; the API takes it at once', async () => {
    const r = await runKvq(['keys', 'create', '--name', 'first admin', '--scope', 'admin'], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kvq_[0-9A-Za-z]{36}\n$/);
    expect(r.stderr).toMatch(/^created key_[0-9A-Za-z]{12} "first admin", scope admin/);
    expect(r.stderr).toMatch(/shown this once/);
    admin = r.stdout.trim();
    const list = await call(s.url, 'GET', '/v1/admin/keys', { headers: bearer(admin) });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.text).not.toContain(admin);
  });

  it('prefixes, expiry and rate limit are stored; list --json never shows a secret', async () => {
    const r = await runKvq(
      [
        'keys',
        'create',
        '--name',
        'acme',
        '--scope',
        'write',
        '--prefix',
        'acme/',
        '--prefix',
        'acme/cfg/=read',
        '--expires-in',
        '30d',
        '--rate-limit',
        '10/s',
        '--json',
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout) as { key: { id: string; expiresAt: string }; secret: string };
    const days = (Date.parse(made.key.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const listed = await runKvq(['keys', 'list', '--json'], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(made.secret);
    expect(listed.stdout).not.toContain(apiKeyDigest(made.secret));
    const item = (JSON.parse(listed.stdout) as { items: { id: string }[] }).items.find(
      (k) => k.id === made.key.id,
    );
    expect(item).toMatchObject({
      name: 'acme',
      scope: 'write',
      prefixes: [
        { prefix: 'acme/', scope: 'write' },
        { prefix: 'acme/cfg/', scope: 'read' },
      ],
      rateLimitPerSecond: 10,
      revokedAt: null,
    });
    const human = await runKvq(['keys', 'list'], { env });
    expect(human.stdout).toContain(
      `${made.key.id} "acme", scope write, prefixes acme/ acme/cfg/=read`,
    );

    // The key works where its prefixes say, and nowhere else.
    const ok = await call(s.url, 'GET', '/v1/keys/acme/x', { headers: bearer(made.secret) });
    expect(ok.status).toBe(404);
    const no = await call(s.url, 'PUT', '/v1/keys/acme/cfg/x', {
      headers: bearer(made.secret),
      body: { value: 1 },
    });
    expect(no.body.code).toBe('KEY_FORBIDDEN');

    // Revoked: refused (KEY_CACHE_MS=0 here), and revoking again is no error.
    for (let i = 0; i < 2; i++) {
      const revoked = await runKvq(['keys', 'revoke', made.key.id], { env });
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.stdout).toMatch(/^revoked key_.* REVOKED /);
    }
    const after = await call(s.url, 'GET', '/v1/keys/acme/x', { headers: bearer(made.secret) });
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/revoked/);

    // Each create and revoke is in the audit log, read back through the admin API.
    const audit = await call(s.url, 'GET', '/v1/admin/audit?limit=100', { headers: bearer(admin) });
    expect(audit.status).toBe(200);
    const mine = (audit.body.items as { action: string; target: string; actor: string }[]).filter(
      (e) => e.target === made.key.id,
    );
    expect(mine.map((e) => e.action)).toEqual(['key.revoke', 'key.revoke', 'key.create']);
    for (const e of mine) expect(e.actor).toBe('kvq-keys');
  });

  it('answers usage problems with exit 2, an unknown id with 5', async () => {
    for (const args of [
      ['keys', 'create', '--name', 'x', '--scope', 'owner'],
      ['keys', 'create', '--scope', 'read'],
      ['keys', 'create', '--name', 'x', '--scope', 'admin', '--prefix', 'a/'],
      ['keys', 'create', '--name', 'x', '--scope', 'read', '--prefix', 'a/=write'],
      ['keys', 'create', '--name', 'x', '--scope', 'read', '--expires-in', 'soon'],
      ['keys', 'create', '--name', 'x', '--scope', 'read', '--bogus'],
      ['keys', 'create', '--name', 'x\u001b[2J', '--scope', 'read'],
      ['keys', 'frobnicate'],
      ['keys', 'revoke'],
    ]) {
      const r = await runKvq(args, { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^kvq keys: /);
    }
    expect((await runKvq(['keys', 'revoke', 'key_none'], { env })).code).toBe(5);
    const noRedis = await runKvq(['keys', 'list'], { env: { LOG_LEVEL: 'silent' } });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toMatch(/KV_REDIS_URL: required/);
  });

  it('create and revoke leave audit entries, as through the API', async () => {
    const made = await runKvq(
      ['keys', 'create', '--name', 'audited', '--scope', 'read', '--json'],
      {
        env,
      },
    );
    expect(made.code, made.stderr).toBe(0);
    const id = (JSON.parse(made.stdout) as { key: { id: string } }).key.id;
    expect((await runKvq(['keys', 'revoke', id], { env })).code).toBe(0);
    expect((await runKvq(['keys', 'revoke', 'key_unheard'], { env })).code).toBe(5);
    const audit = await call(s.url, 'GET', '/v1/admin/audit?limit=3', { headers: bearer(admin) });
    expect(audit.status).toBe(200);
    const entries = (audit.body.items as Record<string, unknown>[]).map((e) => [
      e.actor,
      e.action,
      e.target,
      e.outcome,
      e.code,
    ]);
    expect(entries).toEqual([
      ['kvq-keys', 'key.revoke', 'key_unheard', 'refused', 'API_KEY_NOT_FOUND'],
      ['kvq-keys', 'key.revoke', id, 'ok', undefined],
      ['kvq-keys', 'key.create', id, 'ok', undefined],
    ]);
  });

  it('--file-entry stores nothing and prints a keys-file entry for the key', async () => {
    const r = await runKvq(
      ['keys', 'create', '--name', 'ci', '--scope', 'read', '--prefix', 'ci/', '--file-entry'],
      { env: { LOG_LEVEL: 'silent' } },
    );
    expect(r.code, r.stderr).toBe(0);
    const [secret = '', entry = ''] = r.stdout.trim().split('\n');
    const [parsed] = parseKeysFile(`[${entry}]`);
    expect(parsed?.digest).toBe(apiKeyDigest(secret));
    expect(parsed?.prefixRules).toEqual([{ prefix: 'ci/', scope: 'read' }]);
    const listed = await runKvq(['keys', 'list', '--json'], { env });
    expect(listed.stdout).not.toContain(parsed?.id ?? 'none');
  });
});
