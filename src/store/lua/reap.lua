-- Turn records whose TTL has passed into tombstones: drop the value, keep the version until the
-- record's own Redis expiry (expiresAt + fencing window), and take the key out of the listing.
-- KEYS: 1 listing index zset, 2 expiry zset
-- ARGV: 1 record key prefix, 2 max records per call
-- Returns the number of records reaped.

local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, key in ipairs(due) do
  local rec = ARGV[1] .. key
  local e = tonumber(redis.call('HGET', rec, 'e'))
  if e == nil or e <= now then
    if e ~= nil then
      redis.call('HDEL', rec, 'val', 'c', 'e', 'cr')
      redis.call('HSET', rec, 'd', 1)
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
  end
end
return n
