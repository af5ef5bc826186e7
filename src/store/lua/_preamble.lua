-- Shared by every kvq script (prepended by store/lua.ts): the Redis clock and argument checks.
-- A malformed argument aborts the script with a BADARG error before anything is written, so a
-- version that is not a positive integer can never reach a record, a receipt or a comparison.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function posint(s, what)
  if type(s) == 'number' then s = string.format('%d', s) end
  if type(s) ~= 'string' or not string.match(s, '^[1-9][0-9]*$') or string.len(s) > 15 then
    error({err = 'BADARG ' .. what .. ' must be a positive integer, got ' .. tostring(s)})
  end
  return tonumber(s)
end
local function nonneg(s, what)
  if type(s) ~= 'string' or not string.match(s, '^[0-9]+$') or string.len(s) > 15 then
    error({err = 'BADARG ' .. what .. ' must be a non-negative integer, got ' .. tostring(s)})
  end
  return tonumber(s)
end
-- An earlier answer under the same Idempotency-Key (hash `ik`): {'dup', opId} when an acceptance
-- is recorded there with the request fingerprint `fp`, {'reused', opId} when with another one;
-- else {'refused', problem JSON} when this very request (`fp`) was refused without an op
-- (refuse.lua); nil when neither. A refusal binds only its own request: the key stays free for
-- another one, whose acceptance then turns every attempt of the refused request away as a reuse.
local function idempotent_repeat(ik, fp)
  local prev = redis.call('HMGET', ik, 'fp', 'id', 'refusal:' .. fp)
  if prev[2] then
    if prev[1] == fp then return {'dup', prev[2]} end
    return {'reused', prev[2]}
  end
  if prev[3] then return {'refused', prev[3]} end
  return nil
end
