/** The "Dead letters" folder: list, read, replay and discard real dead letters. */
import { deadLetterSummary, type Folder, receipt } from './shared.ts';

/** Setup lines: the newest own dead letter in `deadOpId`, `deadKey`, `deadVersion`. */
const takeDeadLetter = [
  `pm.variables.set('deadOpId', 'none-found');`,
  `pm.variables.set('deadLetterPrefix', deadLetterPrefix);`,
  `const d = await needDeadLetter();`,
  `pm.variables.set('deadOpId', d.id);`,
  `pm.variables.set('deadKey', d.key);`,
  `pm.variables.set('deadVersion', d.version);`,
];

/** After lines: the dead op's receipt still says dead (a dead op had no effect). */
const receiptStaysDead = [
  `const dead = await settled(pm.variables.get('deadOpId'));`,
  `pm.test('the dead op\\'s receipt stays dead', () => pm.expect(dead.status).to.eql('dead'));`,
];

const MAKE_ONE =
  'No request can make a dead letter: kvq dead-letters an op only when a worker could not apply ' +
  'it within its attempt budget (`JOB_ATTEMPTS` tries, backed off from `JOB_BACKOFF_MS`) and ' +
  'none of its applies ran: the data Redis was down, full, or refused writes. To make some on ' +
  'purpose, have the data Redis refuse writes for a moment (what a primary does when it lacks ' +
  'the replicas `min-replicas-to-write` asks for) and write keys under `deadLetterPrefix` ' +
  'meanwhile: `redis-cli -u <data Redis URL> CONFIG SET min-replicas-to-write 1`, a few ' +
  '`PUT /v1/keys/postman-dlq/…`, wait until their receipts say `dead` (`GET /v1/ops/{id}` with ' +
  '`Prefer: wait=30`; an attempt against a refusing data Redis takes seconds, so start kvq ' +
  'with `JOB_ATTEMPTS=2` rather than the default 8), then `CONFIG SET min-replicas-to-write 0`. ' +
  'From a checkout, ' +
  '`KV_REDIS_URL=<data Redis URL> npm run postman:dead-letters` does all of that; the README ' +
  '("Make a dead letter on purpose") has the commands for `kvq dev`.\n\n' +
  'Running this folder in order takes three dead letters (one replayed, one discarded, the ' +
  'rest replayed by "Replay all"); each request alone takes one. Without one, a request fails ' +
  'with a message saying so and is not sent.';

const NEEDS_ONE =
  "Needs a dead letter under `deadLetterPrefix`; the folder's description says how to make one.";

export function deadLetterFolder(): Folder {
  return {
    name: 'Dead letters',
    description:
      'The dead-letter queue (`/v1/dlq`) holds ops that ran out of attempts without being ' +
      'applied, with the original write, the last error, attempts and times. A dead op had no ' +
      'effect and its receipt says `dead`; replaying it submits the same write again as a new ' +
      'op.\n\n' +
      MAKE_ONE +
      '\n\nEach request works on the newest dead letter under `deadLetterPrefix`; the replays ' +
      'write their keys, and the test scripts delete them.',
    items: [
      {
        name: 'List dead letters',
        description:
          '`GET /v1/dlq?limit=…&cursor=…`: summaries, newest first, without values; pass ' +
          '`nextCursor` as `cursor` for the next page.\n\nExpected: **200** `{items: [{id, key, ' +
          'type, version, attempts, acceptedAt, failedAt, error: {code, message}}], nextCursor}` ' +
          'including a dead letter under `deadLetterPrefix`.\n\n' +
          NEEDS_ONE,
        method: 'GET',
        path: '/v1/dlq?limit=100',
        helpers: ['deadLetters'],
        setup: takeDeadLetter,
        tests: [
          `pm.test('200 with the dead letter, as a summary', () => {`,
          `  pm.response.to.have.status(200);`,
          `  const body = pm.response.json();`,
          `  pm.expect(body).to.have.property('nextCursor');`,
          `  const d = body.items.find((i) => i.id === pm.variables.get('deadOpId'));`,
          `  pm.expect(d, 'the dead letter is listed').to.be.an('object');`,
          `  pm.expect(d.key).to.eql(pm.variables.get('deadKey'));`,
          `  pm.expect(d.error.code).to.be.a('string');`,
          `  pm.expect(d).to.not.have.property('op');`,
          `});`,
        ],
        example: { status: 200, body: { items: [deadLetterSummary], nextCursor: null } },
      },
      {
        name: 'Read one dead letter',
        description:
          '`GET /v1/dlq/{opId}`: one entry with the original op (value included) and why it ' +
          'died. The op\'s receipt (`GET /v1/ops/{opId}`) says `status: "dead"` with the same ' +
          'error.\n\nExpected: **200** with `op: {key, type, version, value, …}` and ' +
          '`error.code` (e.g. `DATA_UNAVAILABLE`).\n\n' +
          NEEDS_ONE,
        method: 'GET',
        path: '/v1/dlq/{{deadOpId}}',
        helpers: ['deadLetters'],
        setup: takeDeadLetter,
        tests: [
          `pm.test('200 with the original write and the error', () => {`,
          `  pm.response.to.have.status(200);`,
          `  const d = pm.response.json();`,
          `  pm.expect(d).to.include({ id: pm.variables.get('deadOpId'), key: pm.variables.get('deadKey') });`,
          `  pm.expect(d.op).to.include({ key: pm.variables.get('deadKey') });`,
          `  pm.expect(d.op).to.have.property('value');`,
          `  pm.expect(d.attempts).to.be.at.least(1);`,
          `  pm.expect(d.error.code).to.be.a('string');`,
          `});`,
        ],
        after: receiptStaysDead,
        example: {
          status: 200,
          body: {
            ...deadLetterSummary,
            op: {
              opId: deadLetterSummary.id,
              key: deadLetterSummary.key,
              type: 'put',
              value: { note: 'never applied: the data Redis refused it' },
              version: 1,
              acceptedAt: 1795384800000,
            },
          },
        },
      },
      {
        name: 'Replay one dead letter',
        description:
          "`POST /v1/dlq/{opId}/retry`: submits the dead op's write again as a new op (new id, " +
          'next version, `replayOf` = the dead op) and removes the entry. Refused with 409 ' +
          '`NOT_REPLAYABLE` if the key accepted a write after the dead op, unless `?force=true`. ' +
          '`Prefer: wait=N` works as on any write.\n\nExpected: **202** with `Location` and the ' +
          "new op's receipt; polled, it is `applied` with `replayOf`. The entry is gone (404), " +
          "the dead op's receipt stays `dead`, and the key holds the replayed value (the test " +
          'script deletes it).\n\n' +
          NEEDS_ONE,
        method: 'POST',
        path: '/v1/dlq/{{deadOpId}}/retry',
        helpers: ['deadLetters'],
        setup: takeDeadLetter,
        tests: [
          `pm.test('202: a new op for the same key', () => {`,
          `  pm.response.to.have.status(202);`,
          `  const op = pm.response.json().op;`,
          `  pm.expect(pm.response.headers.get('Location')).to.eql('/v1/ops/' + op.id);`,
          `  pm.expect(op.key).to.eql(pm.variables.get('deadKey'));`,
          `  pm.expect(op.id).to.not.eql(pm.variables.get('deadOpId'));`,
          `  pm.expect(op.version).to.be.above(Number(pm.variables.get('deadVersion')));`,
          `});`,
        ],
        after: [
          `const replay = await settled(pm.response.json().op.id);`,
          `pm.test('the replay is applied, with replayOf', () => {`,
          `  pm.expect(replay.status).to.eql('applied');`,
          `  pm.expect(replay.replayOf).to.eql(pm.variables.get('deadOpId'));`,
          `});`,
          `const entry = await send('GET', '/v1/dlq/' + pm.variables.get('deadOpId'));`,
          `pm.test('the entry left the queue', () => pm.expect(entry.code).to.eql(404));`,
          ...receiptStaysDead,
          `const rec = await send('GET', '/v1/keys/' + pm.variables.get('deadKey'));`,
          `pm.test('the key holds the replayed write', () => pm.expect(rec.code).to.eql(200));`,
          `await removeKey(pm.variables.get('deadKey'));`,
        ],
        example: {
          status: 202,
          body: {
            op: { ...receipt.op, key: deadLetterSummary.key, version: 2, replayOf: '0190f3c2-…' },
          },
          headers: { 'Content-Type': 'application/json', Location: '/v1/ops/0190f3c5-…' },
        },
      },
      {
        name: 'Discard one dead letter',
        description:
          '`DELETE /v1/dlq/{opId}`: drops the entry without replaying it.\n\nExpected: **204**; ' +
          "the entry then answers 404, the op's receipt stays `dead`, and its key was never " +
          'written.\n\n' +
          NEEDS_ONE,
        method: 'DELETE',
        path: '/v1/dlq/{{deadOpId}}',
        helpers: ['deadLetters'],
        setup: takeDeadLetter,
        tests: [`pm.test('204', () => pm.response.to.have.status(204));`],
        after: [
          `const entry = await send('GET', '/v1/dlq/' + pm.variables.get('deadOpId'));`,
          `pm.test('the entry is gone', () => pm.expect(entry.code).to.eql(404));`,
          ...receiptStaysDead,
          `const rec = await send('GET', '/v1/keys/' + pm.variables.get('deadKey'));`,
          `pm.test('the dead write had no effect', () => pm.expect(rec.code).to.eql(404));`,
        ],
        example: { status: 204 },
      },
      {
        name: 'Replay all dead letters under a prefix',
        description:
          '`POST /v1/dlq/retry?prefix=…`: replays every entry whose key starts with the prefix ' +
          '(all entries without one), each as in "Replay one". Entries whose write would be ' +
          'refused now (a later write to the key, unless `force=true`) stay and are counted as ' +
          'skipped.\n\nExpected: **200** `{retried, skipped}` with every entry under ' +
          '`deadLetterPrefix` retried; none is left, and the replayed keys appear (the test ' +
          'script deletes them).\n\n' +
          NEEDS_ONE,
        method: 'POST',
        path: '/v1/dlq/retry?prefix={{deadLetterPrefix}}',
        helpers: ['deadLetters'],
        setup: [
          ...takeDeadLetter,
          `const keys = (await ownDeadLetters()).map((d) => d.key);`,
          `pm.variables.set('deadKeys', JSON.stringify(keys));`,
        ],
        tests: [
          `pm.test('200: every entry under the prefix retried', () => {`,
          `  pm.response.to.have.status(200);`,
          `  const keys = JSON.parse(pm.variables.get('deadKeys'));`,
          `  pm.expect(pm.response.json()).to.eql({ retried: keys.length, skipped: 0 });`,
          `});`,
        ],
        after: [
          `const left = await ownDeadLetters();`,
          `pm.test('none left under the prefix', () => pm.expect(left.length).to.eql(0));`,
          `for (const key of JSON.parse(pm.variables.get('deadKeys'))) {`,
          `  let code = 0;`,
          `  for (let i = 0; i < 50 && code !== 200; i++) {`,
          `    if (i > 0) await new Promise((ok) => setTimeout(ok, 200));`,
          `    code = (await send('GET', '/v1/keys/' + key)).code;`,
          `  }`,
          `  pm.test('replayed: ' + key, () => pm.expect(code).to.eql(200));`,
          `  await removeKey(key);`,
          `}`,
        ],
        example: { status: 200, body: { retried: 2, skipped: 0 } },
      },
    ],
  };
}
