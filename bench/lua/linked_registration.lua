-- POST a linked registration with a fresh, valid Kazakh IIN on every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")

local W1 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
local W2 = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}

local function check_digit(digits)
  for _, weights in ipairs({W1, W2}) do
    local sum = 0
    for i = 1, 11 do sum = sum + digits[i] * weights[i] end
    local r = sum % 11
    if r ~= 10 then return r end
  end
  return nil
end

local function random_iin()
  while true do
    local year = math.random(1950, 2005)
    local month, day = math.random(1, 12), math.random(1, 28)
    local century = (year >= 2000) and math.random(5, 6) or math.random(3, 4)
    local text = string.format("%02d%02d%02d%d%04d", year % 100, month, day, century,
                               math.random(0, 9999))
    local digits = {}
    for i = 1, 11 do digits[i] = tonumber(text:sub(i, i)) end
    local check = check_digit(digits)
    if check then return text .. check end
  end
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format(nil, nil, nil, '{"mode":"linked","identity":{"iin":"' .. random_iin() .. '"}}')
end
