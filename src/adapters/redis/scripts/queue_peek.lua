-- Returns up to ARGV[2] unexpired entries of a user's queue, oldest first, in one round trip.
-- KEYS[1] the user's queue; ARGV[1] now (µs since the epoch); ARGV[2] the limit.
-- Entries are "<expires_at µs>|<notification id>|<json>". An entry whose prefix cannot be read is
-- returned as is, so that the client reports it as corrupt instead of it vanishing silently.
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local chunk = math.max(limit, 64)
local out = {}
local start = 0
while #out < limit do
  local items = redis.call('LRANGE', KEYS[1], start, start + chunk - 1)
  for _, entry in ipairs(items) do
    local expires = tonumber(string.match(entry, '^(%-?%d+)|'))
    if expires == nil or expires > now then
      out[#out + 1] = entry
      if #out >= limit then
        break
      end
    end
  end
  if #items < chunk then
    break
  end
  start = start + chunk
end
return out
