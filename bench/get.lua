-- wrk script: GET one path (BENCH_PATH, with its query) with the bench key,
-- counting every answer that is not 200 as an error.
local path = os.getenv("BENCH_PATH") or "/orgs/c/contacts"
local key = os.getenv("BENCH_KEY") or "sk_bench"

function init(args)
  req = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
end

function request()
  return req
end
