-- wrk script: POST the same order body, each request with its own Idempotency-Key.
-- Arguments after "--": the bearer token, then the JSON body.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = args[2]
  thread_id = id
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", os.time(), thread_id, counter)
  return wrk.format()
end
