-- Take an op out of the dead-letter queue for a replay: reopen its receipt as queued (recreating
-- it if it expired), count it as pending again and return the original op. The caller enqueues it
-- under `job id`; if that fails it puts the entry back with finish.lua.
-- KEYS: 1 dead-letter hash, 2 dead-letter zset, 3 receipt hash, 4 version hash, 5 open-ops zset
-- ARGV: 1 op id, 2 new job id, 3 user key (from the entry), 4 type, 5 version, 6 acceptedAt
-- Returns the payload JSON, or false when there is no such entry.
local payload = redis.call('HGET', KEYS[1], 'payload')
if not payload then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'id', ARGV[1], 'key', ARGV[3], 'type', ARGV[4], 'version', ARGV[5],
  'status', 'queued', 'attempts', 0, 'acceptedAt', ARGV[6], 'job', ARGV[2], 'replayedAt', now)
redis.call('HINCRBY', KEYS[4], 'p', 1)
redis.call('ZADD', KEYS[5], now, ARGV[1])
return payload
