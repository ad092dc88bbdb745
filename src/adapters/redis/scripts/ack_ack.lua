-- Acknowledges a pending ACK; any failure leaves everything as it was.
-- KEYS[1] the notification's hash; KEYS[2] the deadline index; KEYS[3] the counters hash.
-- ARGV[1] the holder; ARGV[2] the index member; ARGV[3] now (µs).
-- Returns the latency in ms (>= 0), or a negative code: -1 unknown, -2 wrong user,
-- -3 already acknowledged, -4 expired, -5 unreadable record.
local meta = redis.call('HGET', KEYS[1], 'm:' .. ARGV[1])
if not meta then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return -2
  end
  return -1
end
local status, delivered, deadline = string.match(meta, '^(%a)|(%-?%d+)|(%-?%d+)$')
if status == nil then
  return -5
end
if status == 'a' then
  return -3
end
local now = tonumber(ARGV[3])
if status == 'e' or tonumber(deadline) <= now then
  return -4
end
local latency = math.max(0, math.floor((now - tonumber(delivered)) / 1000))
redis.call('HSET', KEYS[1], 'm:' .. ARGV[1], 'a|' .. delivered .. '|' .. deadline)
-- A finished record keeps its status and times only; the last pending holder takes the shared
-- notification with it.
if redis.call('HINCRBY', KEYS[1], 'n', -1) <= 0 then
  redis.call('HDEL', KEYS[1], 'n', 'd')
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'acknowledged', 1)
redis.call('HINCRBY', KEYS[3], 'ack_time_ms_total', latency)
return latency
