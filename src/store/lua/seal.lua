-- Close an unfinished op to new applies before its final status is decided: from now on start.lua
-- hands out no deadline for it, so once the data Redis clock is past the recorded one, what the
-- data Redis shows of the op is final (resolve.lua).
-- KEYS: 1 receipt hash
-- Returns {status, version, acceptedAt, deadline, attempts, user key}, or {'missing'}.
local r = redis.call('HMGET', KEYS[1], 'status', 'version', 'acceptedAt', 'dl', 'attempts', 'key')
if not r[1] then return {'missing'} end
if r[1] == 'queued' or r[1] == 'active' then redis.call('HSET', KEYS[1], 'sealed', 1) end
return {r[1], r[2], r[3], tonumber(r[4]) or 0, tonumber(r[5]) or 0, r[6] or ''}
