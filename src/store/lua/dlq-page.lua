-- One page of dead-letter ids, newest first: the ids after the cursor in ZREVRANGEBYSCORE order
-- (failure time descending, then id descending). Atomic, so an entry added or removed meanwhile
-- never shifts the page past one it has not returned.
-- KEYS: 1 dead-letter zset
-- ARGV: 1 cursor failure time ('' = from the newest), 2 cursor id, 3 limit
-- Returns {id, failedAt, id, failedAt, ...}: up to limit + 1 entries (one more says there is more).
local want = tonumber(ARGV[3]) + 1
local out = {}

-- Byte order, as Redis orders members (Lua's `<` follows the server's collation locale).
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local below = '+inf'
if ARGV[1] ~= '' then
  -- Entries that failed in the cursor's millisecond come id-descending: skip those up to the
  -- cursor id (present or not), then take the rest.
  local off = 0
  repeat
    local ties = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', off, 256)
    for _, id in ipairs(ties) do
      if #out < want * 2 and before(id, ARGV[2]) then
        out[#out + 1] = id
        out[#out + 1] = ARGV[1]
      end
    end
    off = off + 256
  until #ties < 256 or #out >= want * 2
  below = '(' .. ARGV[1]
end

if #out < want * 2 then
  local rest = redis.call('ZREVRANGEBYSCORE', KEYS[1], below, '-inf', 'WITHSCORES', 'LIMIT', 0,
    want - #out / 2)
  for _, v in ipairs(rest) do out[#out + 1] = v end
end
return out
