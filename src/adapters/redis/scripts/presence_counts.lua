-- For each key, the live nodes holding it, flat per key: node, count, ... A dead node's field is
-- dropped on the way (the heartbeat sweep removes the rest).
-- KEYS: nodes, then one hash per key
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 2, #KEYS do
  local found = {}
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do
    local expiry = redis.call('ZSCORE', KEYS[1], fields[j])
    if expiry and tonumber(expiry) > now then
      table.insert(found, fields[j])
      table.insert(found, fields[j + 1])
    else
      redis.call('HDEL', KEYS[i], fields[j])
    end
  end
  table.insert(out, found)
end
return out
