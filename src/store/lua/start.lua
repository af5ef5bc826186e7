-- A worker picked up an op: mark it active unless it already finished (a redelivery).
-- KEYS: 1 receipt hash
-- ARGV: 1 attempt number
-- Returns {status before the call, version, acceptedAt}, or {'missing'}. The version and
-- acceptance time are what a job added without them (see bin/accept-enqueue.ts) is applied with.
local r = redis.call('HMGET', KEYS[1], 'status', 'version', 'acceptedAt')
local st = r[1]
if not st then return {'missing'} end
if st == 'queued' or st == 'active' then
  redis.call('HSET', KEYS[1], 'status', 'active', 'attempts', ARGV[1])
end
return {st, r[2], r[3]}
