-- The requests bench/bench_http.py sends with wrk, chosen by environment variables:
--   BENCH_HTTP_WORKLOAD  noop | interaction | board | card | timeline | funnel | mix
--   BENCH_HTTP_DATA      a directory of one-id-a-line files written by the bench:
--                        contacts.txt, deals.txt (open deals of the board), stages.txt (its stage names),
--                        and params.txt: pipeline id, funnel's from, funnel's to (one a line)
--   BENCH_HTTP_KEY       the API key (Authorization: Bearer …)
-- wrk runs this file once per thread (each its own Lua state) and once more for done(),
-- which prints the run's figures as one JSON line starting with "BENCH_HTTP ".

local workload = os.getenv("BENCH_HTTP_WORKLOAD") or "noop"
local data = os.getenv("BENCH_HTTP_DATA") or "."

local function lines(name)
  local out = {}
  local file = io.open(data .. "/" .. name, "r")
  if file == nil then return out end
  for line in file:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  file:close()
  return out
end

local contacts, deals, stages, params = lines("contacts.txt"), lines("deals.txt"), lines("stages.txt"), lines("params.txt")
local pipeline, from, to = params[1], params[2], params[3]

wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_HTTP_KEY") or "")
wrk.headers["Content-Type"] = "application/json"

-- Each thread its own stream of choices.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)

local function pick(list) return list[math.random(#list)] end

-- A logged call, as a rep's app sends it (the same body goes to the noop route).
local CALL = '{"type":"call","direction":"outbound","duration_seconds":%d,"outcome":"connected","notes":"bench call"}'

local make = {}

function make.noop()
  return wrk.format("POST", "/bench/noop", nil, string.format(CALL, math.random(30, 900)))
end

function make.interaction()
  return wrk.format("POST", "/contacts/" .. pick(contacts) .. "/interactions", nil,
                    string.format(CALL, math.random(30, 900)))
end

function make.board() return wrk.format("GET", "/pipelines/" .. pipeline .. "/board") end
function make.card() return wrk.format("GET", "/contacts/" .. pick(contacts)) end
function make.timeline() return wrk.format("GET", "/contacts/" .. pick(contacts) .. "/timeline?limit=50") end

function make.funnel()
  return wrk.format("GET", "/analytics/funnel?pipeline=" .. pipeline .. "&from=" .. from .. "&to=" .. to)
end

-- A stage move: a random open deal of the board to a random stage (its own: no event, still a command).
function make.move()
  return wrk.format("POST", "/deals/" .. pick(deals) .. "/stage", nil, '{"stage":"' .. pick(stages) .. '"}')
end

-- 70 % interactions, 20 % reads (boards, cards, timelines, the funnel: 5 % each), 10 % deal moves.
function make.mix()
  local roll = math.random(100)
  if roll <= 70 then return make.interaction() end
  if roll <= 75 then return make.board() end
  if roll <= 80 then return make.card() end
  if roll <= 85 then return make.timeline() end
  if roll <= 90 then return make.funnel() end
  return make.move()
end

request = make[workload]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_HTTP {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
