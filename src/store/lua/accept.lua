-- Accept a write on the queue Redis: assign the key's next version, count it as pending, create
-- the receipt, list it as open and remember the Idempotency-Key, all at once.
-- KEYS: 1 version hash, 2 receipt hash, 3 idempotency string (unused when ARGV[4] is ''),
--       4 open-ops zset
-- ARGV: 1 op id, 2 user key, 3 type, 4 request fingerprint ('' = no Idempotency-Key),
--       5 idempotency ttl seconds
-- Returns {'new', version, pendingBefore, acceptedAt} | {'dup', opId} | {'reused', opId}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] ~= '' then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    local sp = string.find(prev, ' ', 1, true)
    local id = string.sub(prev, sp + 1)
    if string.sub(prev, 1, sp - 1) == ARGV[4] then return {'dup', id} end
    return {'reused', id}
  end
end
local version = redis.call('HINCRBY', KEYS[1], 'n', 1)
local pending = redis.call('HINCRBY', KEYS[1], 'p', 1) - 1
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'key', ARGV[2], 'type', ARGV[3], 'version', version,
  'status', 'queued', 'attempts', 0, 'acceptedAt', now, 'job', ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4] .. ' ' .. ARGV[1], 'EX', tonumber(ARGV[5]))
end
return {'new', version, pending, now}
