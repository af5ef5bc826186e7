-- Refuse a conditional write whose condition failed, if the decision still stands: the key's last
-- version is still `expected` with nothing pending (then the failure was decided against the state
-- that version left). With an Idempotency-Key the refusal is kept under it, like an acceptance, so
-- that every later attempt of the same request is answered with it: an earlier attempt of that
-- request that is still on its way (its client gave up on it) must not be accepted after the
-- client was told the write failed.
-- KEYS: 1 version hash, 2 idempotency hash (unused when ARGV[1] is '')
-- ARGV: 1 request fingerprint ('' = no Idempotency-Key), 2 expected last version,
--       3 the refusal (problem JSON), 4 how long it is kept (ms)
-- Returns {'refused'} | {'dup', opId} | {'reused', opId} | {'refused', earlier problem JSON}
--       (see idempotent_repeat)
--       | {'state', lastVersion, pending} (the decision is stale: decide again)
if ARGV[1] ~= '' then
  local repeated = idempotent_repeat(KEYS[2], ARGV[1])
  if repeated then return repeated end
end
local state = redis.call('HMGET', KEYS[1], 'n', 'p')
local last = tonumber(state[1]) or 0
local pending = math.max(0, tonumber(state[2]) or 0)
if last ~= nonneg(ARGV[2], 'expected version') or pending > 0 then
  return {'state', last, pending}
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[2], 'refusal:' .. ARGV[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], posint(ARGV[4], 'lifetime'))
end
return {'refused'}
