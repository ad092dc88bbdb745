-- Records a pending ACK for every holder of one send, unless one is already there; an expired one is
-- re-armed (a redelivery).
-- KEYS[1] the notification's hash; KEYS[2] the deadline index (sorted set, score = deadline µs).
-- ARGV[1] the meta "p|<delivered µs>|<deadline µs>"; ARGV[2] the notification (its client frame);
-- ARGV[3] the deadline µs; ARGV[4] the hash ttl in ms (deadline plus the retention of markers);
-- then pairs: the holder "<tenant>:<user>", the index member "<id>:<tenant>:<user>".
-- The hash holds, per holder, "m:<holder>" (status and times), and once for all holders "d" (the
-- notification, handed back only for a redelivery) with "n", how many holders are pending: the
-- notification goes when the last pending holder finishes.
local armed = 0
for i = 5, #ARGV, 2 do
  local holder, member = ARGV[i], ARGV[i + 1]
  local meta = redis.call('HGET', KEYS[1], 'm:' .. holder)
  if not meta or string.sub(meta, 1, 1) == 'e' then
    redis.call('HSET', KEYS[1], 'm:' .. holder, ARGV[1])
    redis.call('ZADD', KEYS[2], ARGV[3], member)
    armed = armed + 1
  end
end
if armed > 0 then
  redis.call('HSET', KEYS[1], 'd', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'n', armed)
  local ttl = tonumber(ARGV[4])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return armed
