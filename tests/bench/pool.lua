-- Replays a pool of pre-signed requests written by tests/bench/pool.py.
-- Script arguments: <pool file> <wrk threads> <text every 2xx body must hold>
-- Thread k of n sends lines k, k+n, k+2n, ...: no two threads send the same request.
-- A pool that runs out wraps around (the repeats come back DUPLICATE): see `wrapped`.

local threads = {}
local created = 0

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
end

local reqs, count, at = {}, 0, 0
local expect
-- Globals, so that done() can read them from each thread.
sent, accepted, other, wrapped, sample = 0, 0, 0, 0, ""

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  expect = args[3]
  local line_no = 0
  for line in io.lines(path) do
    if line_no % nthreads == tid then
      local institution, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      count = count + 1
      reqs[count] = wrk.format("POST", "/graphql", {
        ["Content-Type"] = "application/json",
        ["X-Institution-Id"] = institution,
        ["X-Timestamp"] = ts,
        ["X-Signature"] = sig,
      }, body)
    end
    line_no = line_no + 1
  end
end

function request()
  at = at + 1
  if at > count then
    at = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return reqs[at]
end

function response(status, headers, body)
  if status >= 200 and status < 300 and body:find(expect, 1, true) then
    accepted = accepted + 1
  else
    other = other + 1
    if sample == "" then
      sample = status .. " " .. body:sub(1, 300)
    end
  end
end

function done(summary, latency, requests)
  local s, a, o, w, first = 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    s = s + thread:get("sent")
    a = a + thread:get("accepted")
    o = o + thread:get("other")
    w = w + thread:get("wrapped")
    if first == "" then
      first = thread:get("sample")
    end
  end
  io.write(string.format("pool: sent=%d accepted=%d other=%d wrapped=%d\n", s, a, o, w))
  if first ~= "" then
    io.write("pool: first other response: " .. first:gsub("\n", " ") .. "\n")
  end
end
