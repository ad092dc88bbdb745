-- Deletes whole queues (a deleted tenant's) and takes them out of their registry; returns how many
-- entries went. KEYS[1] the registry; KEYS[2..] queues in the registry's slot.
local dropped = 0
for k = 2, #KEYS do
  dropped = dropped + redis.call('LLEN', KEYS[k])
  redis.call('DEL', KEYS[k])
  redis.call('SREM', KEYS[1], KEYS[k])
end
return dropped
