-- What a conditional write is decided against, on the queue side: a repeat of an earlier request
-- (Idempotency-Key), or the key's last issued version and how many of its writes are unfinished.
-- KEYS: 1 version hash, 2 idempotency hash (unused when ARGV[1] is '')
-- ARGV: 1 request fingerprint ('' = no Idempotency-Key)
-- Returns {'dup', opId} | {'reused', opId} | {'state', lastVersion, pending}
if ARGV[1] ~= '' then
  local prev = redis.call('HMGET', KEYS[2], 'fp', 'id')
  if prev[2] then
    if prev[1] == ARGV[1] then return {'dup', prev[2]} end
    return {'reused', prev[2]}
  end
end
local state = redis.call('HMGET', KEYS[1], 'n', 'p')
return {'state', tonumber(state[1]) or 0, math.max(0, tonumber(state[2]) or 0)}
