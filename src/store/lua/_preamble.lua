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
-- An earlier acceptance under the same Idempotency-Key (hash `ik`): {'dup', opId} when the request
-- fingerprint `fp` matches, {'reused', opId} when it does not, nil when the key is unused.
local function idempotent_repeat(ik, fp)
  local prev = redis.call('HMGET', ik, 'fp', 'id')
  if not prev[2] then return nil end
  if prev[1] == fp then return {'dup', prev[2]} end
  return {'reused', prev[2]}
end
