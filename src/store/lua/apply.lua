-- Apply one op to the data Redis with version fencing. Atomic: this script is the only writer of
-- records, so the compare-and-set, condition check, TTL and listing index change together.
-- KEYS: 1 record hash, 2 listing index zset, 3 expiry zset
-- ARGV: 1 user key, 2 type (put|delete), 3 version, 4 value JSON, 5 ttl ms ('' = none),
--       6 condition (''|absent|exists|version), 7 condition version, 8 acceptedAt ms,
--       9 fencing window ms
-- Returns {outcome, appliedVersion, created, createdAt, updatedAt, expiresAt}
-- outcome: applied | already (this version was applied before) | superseded | failed | expired
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec, idx, exp = KEYS[1], KEYS[2], KEYS[3]
local key, typ = ARGV[1], ARGV[2]
local version = tonumber(ARGV[3])
local window = tonumber(ARGV[9])

local cur = redis.call('HMGET', rec, 'v', 'd', 'e', 'c')
local v = tonumber(cur[1]) or 0
local e = tonumber(cur[3])
local live = cur[1] ~= false and cur[2] ~= '1' and (e == nil or e > now)

if version < v then return {'superseded', v, 0, 0, 0, 0} end
if version == v then return {'already', v, 0, 0, 0, 0} end
-- No record at all: a fence that existed for this key may have aged out, so an op older than the
-- window cannot be proven newer than what was here. Refuse it rather than risk resurrection.
if v == 0 and tonumber(ARGV[8]) < now - window then return {'expired', 0, 0, 0, 0, 0} end

local cond = ARGV[6]
if (cond == 'absent' and live) or (cond == 'exists' and not live)
  or (cond == 'version' and (not live or v ~= tonumber(ARGV[7]))) then
  return {'failed', v, 0, 0, 0, 0}
end

if typ == 'put' then
  local created = not live
  local c = now
  if not created then c = tonumber(cur[4]) or now end
  redis.call('HSET', rec, 'v', version, 'val', ARGV[4], 'c', c, 'u', now)
  if cur[2] == '1' then redis.call('HDEL', rec, 'd') end
  local ttl = tonumber(ARGV[5])
  local ex = 0
  if ttl then
    ex = now + ttl
    redis.call('HSET', rec, 'e', ex)
    -- the record (and so its version) outlives its expiry by the fencing window
    redis.call('PEXPIREAT', rec, ex + window)
    redis.call('ZADD', exp, ex, key)
  else
    if e then
      redis.call('HDEL', rec, 'e')
      redis.call('ZREM', exp, key)
    end
    redis.call('PERSIST', rec)
  end
  redis.call('ZADD', idx, 0, key)
  return {'applied', version, created and 1 or 0, c, now, ex}
end

-- delete: keep only the version as a tombstone for the fencing window
redis.call('HDEL', rec, 'val', 'c', 'e')
redis.call('HSET', rec, 'v', version, 'd', 1, 'u', now)
redis.call('PEXPIRE', rec, window)
redis.call('ZREM', idx, key)
if e then redis.call('ZREM', exp, key) end
return {'applied', version, 0, 0, now, 0}
