-- Replays pre-signed Twilio webhooks, each exactly once, split between wrk's threads.
-- The request file has one request a line: headers and body separated by tabs (see run.py).
local requests = {}
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if (n - 1) % nthreads == id - 1 then
      local sig, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = sig,
      }
      if cookie ~= "" then headers["Cookie"] = cookie end
      table.insert(requests, wrk.format("POST", "/sms", headers, body))
    end
  end
  index = 0
  wrapped = false
end

function request()
  index = index + 1
  if index > #requests then
    index = 1
    wrapped = true
  end
  return requests[index]
end

function done(summary, latency, reqs)
  -- A file replayed from its start repeats MessageSids: fine for the stateless baselines, but
  -- the bot would answer them from its deduplication memory, so the driver flags it.
  local wrapped = 0
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") then wrapped = wrapped + 1 end
  end
  io.write(string.format("WRAPPED %d\n", wrapped))
end
