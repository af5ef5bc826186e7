-- A worker picked up an op: mark it active unless it already finished (a redelivery) or is being
-- closed, and record the latest deadline by which any apply sent for it runs or never runs.
-- KEYS: 1 receipt hash
-- ARGV: 1 attempt number, 2 apply deadline (data Redis ms), 3 the job's user key
-- Returns {status before the call, version, acceptedAt, deadline, user key}, or {'missing'}.
-- status is 'sealed' when seal.lua closed the op to new applies: the caller must not apply it.
local r = redis.call('HMGET', KEYS[1], 'status', 'version', 'acceptedAt', 'dl', 'sealed', 'key')
local st = r[1]
if not st then return {'missing'} end
-- A job is applied only to the key its op was accepted for.
if r[6] ~= ARGV[3] then return {'mismatch', r[2], r[3], 0, r[6]} end
local dl = tonumber(r[4]) or 0
if (st == 'queued' or st == 'active') and r[5] == '1' then return {'sealed', r[2], r[3], dl, r[6]} end
if st == 'queued' or st == 'active' then
  dl = math.max(dl, posint(ARGV[2], 'deadline'))
  redis.call('HSET', KEYS[1], 'status', 'active', 'attempts', ARGV[1], 'dl', dl)
end
return {st, r[2], r[3], dl, r[6]}
