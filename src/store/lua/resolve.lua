-- The outcome of an op whose apply may or may not have run (a timeout, a crash, a lost job).
-- Answers only once the data Redis clock is past the op's apply deadline: from then on no apply
-- of it can still run (apply.lua refuses past its deadline), so the answer is final.
-- KEYS: 1 record hash, 2 refusal marker
-- ARGV: 1 version, 2 deadline ms (0 = no apply was ever sent), 3 op id
-- Returns {'wait', ms left} | {'refused'} | {'applied', created, createdAt, updatedAt,
--       expiresAt} | {'superseded'} | {'none'}
--       | {'conflict'} (the version is held by another op: see apply.lua)
local now = now_ms()
local version = posint(ARGV[1], 'version')
local deadline = nonneg(ARGV[2], 'deadline')
if now <= deadline then return {'wait', deadline - now + 1} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'refused'} end
local cur = redis.call('HMGET', KEYS[1], 'v', 'o')
local v = tonumber(cur[1]) or 0
if v == version then
  if cur[2] and cur[2] ~= ARGV[3] then return {'conflict'} end
  local was = redis.call('HMGET', KEYS[1], 'cr', 'c', 'u', 'e')
  return {'applied', tonumber(was[1]) or 0, tonumber(was[2]) or 0, tonumber(was[3]) or 0,
    tonumber(was[4]) or 0}
end
if v > version then return {'superseded'} end
return {'none'}
