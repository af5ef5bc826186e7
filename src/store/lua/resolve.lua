-- The outcome of an op whose apply may or may not have run (a timeout, a crash, a lost job).
-- Answers only once the data Redis clock is past the op's apply deadline: from then on no apply
-- of it can still run (apply.lua refuses past its deadline), so the answer is final.
-- KEYS: 1 record hash, 2 refusal marker
-- ARGV: 1 version, 2 deadline ms (0 = no apply was ever sent)
-- Returns {'wait', ms left} | {'refused'} | {'applied'} | {'superseded'} | {'none'}
local now = now_ms()
local version = posint(ARGV[1], 'version')
local deadline = nonneg(ARGV[2], 'deadline')
if now <= deadline then return {'wait', deadline - now + 1} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'refused'} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
if v == version then return {'applied'} end
if v > version then return {'superseded'} end
return {'none'}
