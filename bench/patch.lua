-- wrk script: PATCH many contacts in turn, alternating blocked true/false
-- (or, with BENCH_PATCH=name, the name "Renamed Contact i" and back to the
-- fixture's "Bench Contact i": a change of the name's trigram index rows).
-- Requests are formatted once in init(), so wrk's own Lua work stays small and
-- the figures measure the server. Contacts are ct_0 .. ct_{N-1} of the bench
-- fixture (N from BENCH_CONTACTS); the key from BENCH_KEY.
local n = tonumber(os.getenv("BENCH_CONTACTS") or "1000")
local key = os.getenv("BENCH_KEY") or "sk_bench"
local field = os.getenv("BENCH_PATCH") or "blocked"
local reqs = {}
local i = 0

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. key,
                    ["Content-Type"] = "application/json" }
  -- 2n requests, two passes over every contact (in a scattered order): the
  -- first blocks each, the second unblocks it, so every PATCH is a real change
  -- (an UPDATE and a WAL write), never a no-op. (Choosing blocked by the
  -- request's own parity, as this did until 2026-11-27, gave every contact the
  -- same value on every visit when n is even: after the first pass, nothing
  -- was written.)
  for k = 0, 2 * n - 1 do
    local id = (k * 7919) % n
    local body = (k < n) and '{"blocked":true}' or '{"blocked":false}'
    if field == "name" then
      body = string.format('{"name":"%s Contact %d"}', (k < n) and "Renamed" or "Bench", id)
    end
    reqs[k + 1] = wrk.format("PATCH", "/orgs/c/contacts/ct_" .. id, headers, body)
  end
  i = math.random(#reqs) - 1
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
