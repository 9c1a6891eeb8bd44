-- wrk script: every request claims for a new user with a new request id,
-- so each one is a real claim (no replays, no per-user refusals).
-- Reads the API key from the environment: COUPONFLOW_BENCH_KEY.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  key = os.getenv("COUPONFLOW_BENCH_KEY")
  run = os.getenv("COUPONFLOW_BENCH_RUN") or "run"
  statuses = {}
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"user":{"id":"u-%s-%d-%d","channel":"app"},"request_id":"%s-%d-%d"}',
    run, thread_id, counter, run, thread_id, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  for status, n in pairs(merged) do
    io.write(string.format("status %d: %d\n", status, n))
  end
end
