-- A worker picked up an op: mark it active unless it already finished (a redelivery).
-- KEYS: 1 receipt hash
-- ARGV: 1 attempt number
-- Returns the receipt's status before the call, or 'missing'.
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st == 'queued' or st == 'active' then
  redis.call('HSET', KEYS[1], 'status', 'active', 'attempts', ARGV[1])
end
return st
