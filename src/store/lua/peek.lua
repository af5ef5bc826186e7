-- A key's state on the data Redis with the clock it is judged by, read at one instant.
-- KEYS: 1 record hash
-- Returns {version (0 = no record), deleted (0|1), expiresAt ms (0 = none), now ms}
local now = now_ms()
local cur = redis.call('HMGET', KEYS[1], 'v', 'd', 'e')
return {tonumber(cur[1]) or 0, cur[2] == '1' and 1 or 0, tonumber(cur[3]) or 0, now}
