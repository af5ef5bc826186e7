-- Raise a key's version counter to at least ARGV[1]. After a failover of the queue Redis lost
-- acceptances, the counter may be below a version the data Redis already holds; the next write
-- must be issued a higher one (apply.lua reported the clash as a conflict).
-- KEYS: 1 version hash
-- ARGV: 1 version
local v = posint(ARGV[1], 'version')
if (tonumber(redis.call('HGET', KEYS[1], 'n')) or 0) < v then
  redis.call('HSET', KEYS[1], 'n', v)
end
return 1
