-- Record an op's terminal status once: later calls for the same op change nothing. A dead op with
-- its payload also lands in the dead-letter queue, keyed by op id, in the same step (so moving to
-- the DLQ is idempotent and never half done).
-- KEYS: 1 receipt hash, 2 version hash, 3 finished zset, 4 open-ops zset, 5 dead-letter hash,
--       6 dead-letter zset
-- ARGV: 1 op id, 2 status, 3 error code, 4 error message, 5 retention ms, 6 count cap,
--       7 receipt key prefix, 8 notify channel, 9 created (0|1), 10 createdAt, 11 expiresAt,
--       12 attempts, 13 appliedAt ms (the data Redis' apply time; '' = now),
--       14 dead-letter payload JSON ('' = none), 15 user key
-- Returns the op's terminal status (the earlier one when it had finished already).
local st = redis.call('HGET', KEYS[1], 'status')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

if ARGV[2] == 'dead' and ARGV[14] ~= '' and (not st or st == 'queued' or st == 'active' or st == 'dead')
  and redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('HSET', KEYS[5], 'payload', ARGV[14], 'key', ARGV[15], 'errCode', ARGV[3],
    'errMsg', ARGV[4], 'attempts', ARGV[12], 'failedAt', now)
  redis.call('ZADD', KEYS[6], now, ARGV[1])
end

if st and st ~= 'queued' and st ~= 'active' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return st
end
if st then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finishedAt', now, 'attempts', ARGV[12])
  if ARGV[2] == 'applied' then
    local at = tonumber(ARGV[13]) or now
    redis.call('HSET', KEYS[1], 'appliedAt', at, 'created', ARGV[9], 'c', ARGV[10], 'e', ARGV[11])
  end
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'errCode', ARGV[3], 'errMsg', ARGV[4]) end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
  if redis.call('HINCRBY', KEYS[2], 'p', -1) < 0 then redis.call('HSET', KEYS[2], 'p', 0) end
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[5]))
  local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[6])
  if over > 0 then
    local old = redis.call('ZPOPMIN', KEYS[3], over)
    for i = 1, #old, 2 do redis.call('DEL', ARGV[7] .. old[i]) end
  end
end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', ARGV[8], ARGV[2])
return ARGV[2]
