-- Undo accept.lua when the job could not be enqueued (the client gets a 503, so the write was
-- never accepted). The version number stays used: gaps are harmless.
-- KEYS: 1 version hash, 2 receipt hash, 3 idempotency hash, 4 open-ops zset
-- ARGV: 1 op id
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[2])
  if redis.call('HINCRBY', KEYS[1], 'p', -1) < 0 then redis.call('HSET', KEYS[1], 'p', 0) end
end
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('HGET', KEYS[3], 'id') == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
