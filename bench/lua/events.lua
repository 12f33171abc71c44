-- POST a visit event to one of the benchmark's episodes, round robin (ids from WRK_EPISODES).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
wrk.body = '{"type": "visit"}'

function init(args)
  ids, next_id = {}, 1
  for line in io.lines(os.getenv("WRK_EPISODES")) do table.insert(ids, line) end
  next_id = math.random(1, #ids)
end

function request()
  next_id = next_id % #ids + 1
  return wrk.format(nil, "/api/v1/episodes/" .. ids[next_id] .. "/events")
end
