-- The home of an Idempotency-Key: the partition of the Idempotency-Key itself, whichever key it
-- is used with. Its first use is marked here, so that a reuse with a request for a key of any
-- partition meets it. (The op and the Idempotency-Key's record live in the key's partition, so
-- that acceptance stays one script; when that partition is this one, the record is here too.)
-- KEYS: 1 home marker (string), 2 the Idempotency-Key's record in this partition (hash)
-- ARGV: 1 request fingerprint, 2 op id, 3 marker lifetime ms
-- Returns {'ok'} | {'reused', opId of the first use}
local rec = redis.call('HMGET', KEYS[2], 'fp', 'id')
if rec[2] and rec[1] ~= ARGV[1] then return {'reused', rec[2]} end
local prev = redis.call('GET', KEYS[1])
if not prev then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', posint(ARGV[3], 'lifetime'))
  return {'ok'}
end
local sp = string.find(prev, ' ', 1, true)
if sp and string.sub(prev, 1, sp - 1) == ARGV[1] then return {'ok'} end
return {'reused', sp and string.sub(prev, sp + 1) or ''}
