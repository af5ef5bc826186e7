-- Apply one op to the data Redis with version fencing. Atomic: this script is the only writer of
-- records, so the compare-and-set, TTL and listing index change together. Conditions are not
-- checked here: a conditional write was decided when it was accepted (api/write-flow.ts), so at
-- its place in the key's version order it is a plain put or delete.
-- KEYS: 1 record hash, 2 listing index zset, 3 expiry zset, 4 refusal marker
-- ARGV: 1 user key, 2 type (put|create|delete), 3 version, 4 value JSON, 5 ttl ms ('' = none),
--       6 acceptedAt ms, 7 fencing window ms, 8 deadline ms (refuse to run after it), 9 op id
-- Returns {outcome, appliedVersion, created, createdAt, updatedAt, expiresAt}
-- outcome: applied | already (this op's version was applied before) | superseded | expired
--       | late | conflict (this version is held by another op: issued twice, see below)
local now = now_ms()
local rec, idx, exp = KEYS[1], KEYS[2], KEYS[3]
local key, typ = ARGV[1], ARGV[2]
local version = posint(ARGV[3], 'version')
local acceptedAt = nonneg(ARGV[6], 'acceptedAt')
local window = posint(ARGV[7], 'fencing window')
-- A command that waited in a stalled Redis past its deadline does nothing: the worker that sent
-- it has given up and decides the op's outcome from resolve.lua, which trusts this line.
if now > posint(ARGV[8], 'deadline') then return {'late', 0, 0, 0, 0, 0} end

local cur = redis.call('HMGET', rec, 'v', 'd', 'e', 'c', 'o')
local v = tonumber(cur[1]) or 0
local e = tonumber(cur[3])
local live = cur[1] ~= false and cur[2] ~= '1' and (e == nil or e > now)

if version < v then return {'superseded', v, 0, 0, 0, 0} end
if version == v then
  -- The record keeps the op id of its version. Another op under the same version means the queue
  -- Redis issued it twice (a failover lost the first acceptance after a worker applied it): that
  -- op is not this one, so it is not "already applied". A record written before op ids were kept
  -- (no 'o') cannot tell, and counts as this op's.
  if cur[5] and cur[5] ~= ARGV[9] then return {'conflict', v, 0, 0, 0, 0} end
  -- What this op's apply did, for a receipt written only now (its first reply was lost, or its
  -- replicas had not acknowledged it yet).
  local was = redis.call('HMGET', rec, 'cr', 'c', 'u', 'e')
  return {'already', v, tonumber(was[1]) or 0, tonumber(was[2]) or 0, tonumber(was[3]) or 0,
    tonumber(was[4]) or 0}
end
-- No record at all: a fence that existed for this key may have aged out, so an op older than the
-- window cannot be proven newer than what was here. Refuse it rather than risk resurrection, and
-- leave a marker so that resolve.lua can tell this refusal from an apply that never ran.
if v == 0 and acceptedAt < now - window then
  redis.call('SET', KEYS[4], 1, 'PX', window)
  return {'expired', 0, 0, 0, 0, 0}
end

if typ ~= 'delete' then
  local created = not live
  local c = now
  if not created then c = tonumber(cur[4]) or now end
  redis.call('HSET', rec, 'v', version, 'o', ARGV[9], 'val', ARGV[4], 'c', c, 'u', now, 'cr',
    created and 1 or 0)
  if cur[2] == '1' then redis.call('HDEL', rec, 'd') end
  local ex = 0
  if ARGV[5] ~= '' then
    ex = now + posint(ARGV[5], 'ttl')
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
redis.call('HDEL', rec, 'val', 'c', 'e', 'cr')
redis.call('HSET', rec, 'v', version, 'o', ARGV[9], 'd', 1, 'u', now)
redis.call('PEXPIRE', rec, window)
redis.call('ZREM', idx, key)
if e then redis.call('ZREM', exp, key) end
return {'applied', version, 0, 0, now, 0}
