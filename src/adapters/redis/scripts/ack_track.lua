-- Records a pending ACK unless one is already there; an expired one is re-armed (a redelivery).
-- KEYS[1] the notification's hash; KEYS[2] the deadline index (sorted set, score = deadline µs).
-- ARGV[1] the holder "<tenant>:<user>"; ARGV[2] the index member "<id>:<tenant>:<user>";
-- ARGV[3] the meta "p|<delivered µs>|<deadline µs>"; ARGV[4] the PendingAck JSON;
-- ARGV[5] the deadline µs; ARGV[6] the hash ttl in ms (deadline plus the retention of markers).
-- The hash holds, per holder, "m:<holder>" (status and times, read by scripts) and "d:<holder>"
-- (the JSON, only ever handed back to the client).
local meta = redis.call('HGET', KEYS[1], 'm:' .. ARGV[1])
if meta and string.sub(meta, 1, 1) ~= 'e' then
  return 0
end
redis.call('HSET', KEYS[1], 'm:' .. ARGV[1], ARGV[3], 'd:' .. ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
local ttl = tonumber(ARGV[6])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
