-- What a conditional write is decided against, on the queue side: a repeat of an earlier request
-- (Idempotency-Key), or the key's last issued version and how many of its writes are unfinished.
-- KEYS: 1 version hash, 2 idempotency hash (unused when ARGV[1] is '')
-- ARGV: 1 request fingerprint ('' = no Idempotency-Key)
-- Returns {'dup', opId} | {'reused', opId} | {'state', lastVersion, pending}
if ARGV[1] ~= '' then
  local repeated = idempotent_repeat(KEYS[2], ARGV[1])
  if repeated then return repeated end
end
local state = redis.call('HMGET', KEYS[1], 'n', 'p')
return {'state', tonumber(state[1]) or 0, math.max(0, tonumber(state[2]) or 0)}
