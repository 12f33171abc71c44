-- POST one booking per pre-solved challenge (single use), spread over the benchmark's slots.
-- WRK_PAYLOADS names a file of "slot_id client_address altcha_payload" lines; each thread
-- takes every n-th. The address goes in X-Forwarded-For, as the trusted proxy would set it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads, counter = {}, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  lines, next_line = {}, 1
  local n, i = #threads > 0 and #threads or 2, 0
  for line in io.lines(os.getenv("WRK_PAYLOADS")) do
    if i % 2 == id then table.insert(lines, line) end
    i = i + 1
  end
end

function request()
  local line = lines[next_line]
  if line == nil then
    wrk.thread:stop()
    return wrk.format(nil, "/healthz", {}, nil)
  end
  next_line = next_line + 1
  local slot, address, payload = line:match("^(%d+) (%S+) (.+)$")
  local headers = {["Content-Type"] = "application/json", ["X-Forwarded-For"] = address}
  return wrk.format(nil, nil, headers, '{"slot_id":' .. slot .. ',"altcha":"' .. payload .. '"}')
end
