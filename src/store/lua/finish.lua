-- Record an op's terminal status once: later calls for the same op change nothing. A dead op with
-- its payload also lands in the dead-letter queue, keyed by op id, in the same step (so moving to
-- the DLQ is idempotent and never half done).
-- KEYS: 1 receipt hash, 2 version hash, 3 finished zset, 4 open-ops zset, 5 dead-letter hash,
--       6 dead-letter zset
-- ARGV: 1 op id, 2 status, 3 error code, 4 error message, 5 retention ms, 6 count cap,
--       7 receipt key prefix, 8 notify channel, 9 created (0|1), 10 createdAt, 11 expiresAt,
--       12 attempts, 13 appliedAt ms (the data Redis' apply time; '' = now),
--       14 dead-letter payload JSON ('' = none), 15 user key
-- The receipt's 'ik' names the op's Idempotency-Key record, if any (see accept.lua).
-- Returns the op's terminal status (the earlier one when it had finished already).
local st = redis.call('HGET', KEYS[1], 'status')
local now = now_ms()

if ARGV[2] == 'dead' and ARGV[14] ~= '' and (not st or st == 'queued' or st == 'active' or st == 'dead')
  and redis.call('EXISTS', KEYS[5]) == 0 then
  -- The entry's summary sits beside the payload so that listing never reads values: the op's
  -- type, version and acceptance time from its receipt, else from the job ('' when unknown).
  local sum = redis.call('HMGET', KEYS[1], 'type', 'version', 'acceptedAt')
  if not sum[2] then
    local ok, op = pcall(cjson.decode, ARGV[14])
    sum = {}
    for i, f in ipairs({'type', 'version', 'acceptedAt'}) do
      local v = ok and type(op) == 'table' and op[f]
      if type(v) == 'number' then v = string.format('%d', v) end
      sum[i] = type(v) == 'string' and v or ''
    end
  end
  redis.call('HSET', KEYS[5], 'payload', ARGV[14], 'key', ARGV[15], 'errCode', ARGV[3],
    'errMsg', ARGV[4], 'attempts', ARGV[12], 'failedAt', now,
    'type', sum[1] or '', 'version', sum[2] or '', 'acceptedAt', sum[3] or '')
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
  -- The Idempotency-Key answers with this receipt for the retention period from now, even after
  -- the receipt itself is trimmed by count. (Accepted with the op, so it shares its slot.)
  local ik = redis.call('HGET', KEYS[1], 'ik')
  if ik and redis.call('HGET', ik, 'id') == ARGV[1] then
    redis.call('HSET', ik, unpack(redis.call('HGETALL', KEYS[1])))
    redis.call('PEXPIRE', ik, tonumber(ARGV[5]))
  end
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
-- Sharded pub/sub: the channel carries the partition's tag, so it lives in this slot.
redis.call('SPUBLISH', ARGV[8], ARGV[2])
return ARGV[2]
