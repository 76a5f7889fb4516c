-- Sends one fixed GraphQL request again and again, as one principal (tests/bench/overview.py).
-- Script arguments: <body file> <bearer token> <text every 2xx body must hold> [fresh]
-- ("fresh": sent with Cache-Control: no-cache, so the server computes every answer)

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local request_text, expect
-- Globals, so that done() can read them from each thread.
sent, accepted, other, sample = 0, 0, 0, ""

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  expect = args[3]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[2],
  }
  if args[4] == "fresh" then
    headers["Cache-Control"] = "no-cache"
  end
  request_text = wrk.format("POST", "/graphql", headers, body)
end

function request()
  sent = sent + 1
  return request_text
end

function response(status, headers, body)
  if status >= 200 and status < 300 and body:find(expect, 1, true) and not body:find('"errors"', 1, true) then
    accepted = accepted + 1
  else
    other = other + 1
    if sample == "" then
      sample = status .. " " .. body:sub(1, 300)
    end
  end
end

function done(summary, latency, requests)
  local s, a, o, first = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    s = s + thread:get("sent")
    a = a + thread:get("accepted")
    o = o + thread:get("other")
    if first == "" then
      first = thread:get("sample")
    end
  end
  io.write(string.format("pool: sent=%d accepted=%d other=%d wrapped=0\n", s, a, o))
  if first ~= "" then
    io.write("pool: first other response: " .. first:gsub("\n", " ") .. "\n")
  end
end
