-- GCRA check-and-update of one key, atomically (same arithmetic as the governor crate).
-- KEYS[1] the key; ARGV[1] burst; ARGV[2] interval in microseconds.
-- Returns {allowed (0/1), remaining, retry_after_us, reset_after_us}.
-- Time comes from the server, so nodes with skewed clocks share one budget correctly.
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tau = interval * (burst - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local earliest = tat - tau
if now < earliest then
  return {0, 0, earliest - now, tat - now}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000)
-- %.0f keeps every digit of the microsecond timestamp (tostring would round it to 14 digits).
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
local remaining = math.floor((now + tau + interval - new_tat) / interval)
if remaining > burst - 1 then remaining = burst - 1 end
return {1, remaining, 0, new_tat - now}
