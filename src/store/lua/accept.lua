-- Accept a write on the queue Redis: assign the key's next version, count it as pending, create
-- the receipt, list it as open and remember the Idempotency-Key, all at once.
-- KEYS: 1 version hash, 2 receipt hash, 3 idempotency hash (unused when ARGV[4] is ''),
--       4 open-ops zset
-- ARGV: 1 op id, 2 user key, 3 type (put|create|delete), 4 request fingerprint ('' = no
--       Idempotency-Key), 5 expected last version ('' = blind write: no check; else the key's
--       last issued version when its condition was decided, with nothing pending since),
--       6 decidedAt ms ('' = decided at apply time), 7 replayed op id ('' = none),
--       8 highest version the replayed op's key may be at ('' = no check)
-- Returns {'new', version, acceptedAt} | {'dup', opId} | {'reused', opId}
--       | {'moved', lastVersion, pending} (a conditional write whose decision is stale)
--       | {'newer', lastVersion} (a replay of an op the key has moved past)
local now = now_ms()
if ARGV[4] ~= '' then
  local repeated = idempotent_repeat(KEYS[3], ARGV[4])
  if repeated then return repeated end
end
local state = redis.call('HMGET', KEYS[1], 'n', 'p')
local last = tonumber(state[1]) or 0
local pending = tonumber(state[2]) or 0
if ARGV[5] ~= '' then
  if last ~= nonneg(ARGV[5], 'expected version') or pending > 0 then
    return {'moved', last, pending}
  end
end
if ARGV[8] ~= '' and last > nonneg(ARGV[8], 'replay version') then return {'newer', last} end
local version = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], 'p', 1)
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'key', ARGV[2], 'type', ARGV[3], 'version', version,
  'status', 'queued', 'attempts', 0, 'acceptedAt', now, 'job', ARGV[1])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'decidedAt', nonneg(ARGV[6], 'decidedAt')) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'replayOf', ARGV[7]) end
redis.call('ZADD', KEYS[4], now, ARGV[1])
if ARGV[4] ~= '' then
  -- Kept until the op is terminal; finish.lua then copies the receipt here and sets the expiry
  -- (a refusal of another request kept here set one: refuse.lua).
  redis.call('HSET', KEYS[3], 'fp', ARGV[4], 'id', ARGV[1])
  redis.call('PERSIST', KEYS[3])
  redis.call('HSET', KEYS[2], 'ik', KEYS[3])
end
return {'new', version, now}
