-- The home of an Idempotency-Key: the partition of the Idempotency-Key itself, whichever key it
-- is used with. The first acceptance under it is marked here, so that a reuse with a request for
-- a key of any partition meets it. (The op and the Idempotency-Key's record live in the key's
-- partition, so that acceptance stays one script; when that partition is this one, the record is
-- here too.)
-- KEYS: 1 home marker (string '<fingerprint> <op id>'), 2 the Idempotency-Key's record in this
--       partition (hash)
-- ARGV: 1 request fingerprint, 2 op id, 3 marker lifetime ms,
--       4 mode: 'mark' (check, and mark a first use), 'check' (check only), 'undo' (drop the
--       marker if it names op id ARGV[2]: that acceptance was refused or taken back)
-- Returns {'ok'} | {'reused', opId of the first use}
if ARGV[4] == 'undo' then
  local prev = redis.call('GET', KEYS[1])
  local tail = ' ' .. ARGV[2]
  if prev and ARGV[2] ~= '' and string.sub(prev, -#tail) == tail then redis.call('DEL', KEYS[1]) end
  return {'ok'}
end
local rec = redis.call('HMGET', KEYS[2], 'fp', 'id')
if rec[2] and rec[1] ~= ARGV[1] then return {'reused', rec[2]} end
local prev = redis.call('GET', KEYS[1])
if not prev then
  if ARGV[4] == 'mark' then
    redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', posint(ARGV[3], 'lifetime'))
  end
  return {'ok'}
end
local sp = string.find(prev, ' ', 1, true)
if sp and string.sub(prev, 1, sp - 1) == ARGV[1] then return {'ok'} end
return {'reused', sp and string.sub(prev, sp + 1) or ''}
