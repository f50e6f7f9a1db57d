-- wrk script: POST orders, each with its own Idempotency-Key, cycling through the
-- bodies of a file (one JSON order per line: different SKUs, members and places).
-- Arguments after "--": the bearer token, then the path of the bodies file.
local counter = 0
local thread_id = 0
local threads = {}
local bodies = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines(args[2]) do
    table.insert(bodies, line)
  end
  thread_id = id
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", os.time(), thread_id, counter)
  return wrk.format(nil, nil, nil, bodies[(counter + thread_id * 7919) % #bodies + 1])
end
