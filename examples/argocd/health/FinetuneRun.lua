-- Argo CD health check for tessera.dev/FinetuneRun (DESIGN.md section 7).
-- Argo CD runs it with only the base, table and os libraries (no string library unless
-- useOpenLibs is set), so messages are built with ".." and tostring alone.
-- Order: no status -> Progressing; status behind the spec -> Progressing; Failed -> Degraded;
-- spec change refused -> Degraded; Suspended -> Suspended; Complete -> Healthy; pods that cannot
-- start (image, container) -> Degraded; anything else ->
-- Progressing with the progress.
local hs = {}

local function condition(status, type)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- "Reason: message" of a condition, or fallback when the operator set only the phase.
local function describe(c, fallback)
  if not isTrue(c) then
    return fallback
  end
  local text = c.reason or fallback
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

-- NaN and the infinities spelled the same in every Lua; nil for a finite number.
local function nonFinite(x)
  if x ~= x then
    return "NaN"
  end
  if x == 1 / 0 then
    return "Inf"
  end
  if x == -1 / 0 then
    return "-Inf"
  end
  return nil
end

-- x >= 0 with a fixed number of decimals (scale 10 or 100), without string.format: scale, round
-- to an integer, then split. Integers print alike in every Lua, so the message does too.
local function fixed(x, scale)
  local odd = nonFinite(x)
  if odd ~= nil then
    return odd
  end
  local n = x * scale + 0.5
  n = n - n % 1
  local frac = n % scale
  local digits = tostring(frac)
  if scale == 100 and frac < 10 then
    digits = "0" .. digits
  end
  return tostring((n - frac) / scale) .. "." .. digits
end

local function int(x)
  return tostring(x - x % 1)
end

-- "a, b", leaving out empty parts.
local function join(a, b)
  if a == "" then
    return b
  end
  if b == "" then
    return a
  end
  return a .. ", " .. b
end

-- "42.5%, ETA 1h02m" from the fields the progress block has.
local function percentAndEta(p)
  local text = ""
  if p.percent ~= nil then
    text = fixed(p.percent, 10) .. "%"
  end
  if p.eta ~= nil and p.eta ~= "" then
    text = join(text, "ETA " .. p.eta)
  end
  return text
end

-- "step 1200/5000, loss 2.35" for PretrainRun and FinetuneRun.
local function progressSummary(p)
  local text = ""
  if p.step ~= nil then
    text = "step " .. int(p.step)
    if p.steps ~= nil then
      text = text .. "/" .. int(p.steps)
    end
  end
  if p.loss ~= nil then
    text = join(text, "loss " .. fixed(p.loss, 100))
  end
  return text
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile this FinetuneRun"
  return hs
end
local status = obj.status

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. int(generation)
  return hs
end

local failed = condition(status, "Failed")
if isTrue(failed) or status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(failed, "Failed")
  return hs
end

-- The operator refuses some spec changes to a started stage (SpecApplied=False): what Git asks
-- for will never run, so the sync must not look done.
local applied = condition(status, "SpecApplied")
if applied ~= nil and applied.status == "False" then
  hs.status = "Degraded"
  hs.message = (applied.reason or "SpecNotApplied") .. ": " .. (applied.message or "")
  return hs
end

local suspended = condition(status, "Suspended")
if isTrue(suspended) or status.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(suspended, "Suspended")
  return hs
end

local complete = condition(status, "Complete")
if isTrue(complete) or status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Succeeded"
  if status.output ~= nil and status.output.path ~= nil then
    hs.message = hs.message .. ": output " .. status.output.path
  end
  return hs
end

-- Pods that cannot start (an image that cannot be pulled, a container that cannot be created)
-- wait for ever, and Argo CD shows such pods Degraded too. A pod no node can take yet
-- (Unschedulable) stays Progressing: an autoscaler may still add the node.
local stuck = {
  ErrImagePull = true,
  ImagePullBackOff = true,
  InvalidImageName = true,
  CreateContainerConfigError = true,
  CreateContainerError = true,
}
local running = condition(status, "Running")
if status.phase == "Pending" and running ~= nil and running.status == "False" and running.reason ~= nil
    and stuck[running.reason] then
  hs.status = "Degraded"
  hs.message = running.reason .. ": " .. (running.message or "")
  return hs
end

-- Still on its way: waiting for its input, pending, or running.
hs.status = "Progressing"
local inputReady = condition(status, "InputReady")
if status.phase == "Waiting" or (inputReady ~= nil and inputReady.status == "False") then
  if inputReady ~= nil and inputReady.message ~= nil then
    hs.message = "Waiting: " .. inputReady.message
  else
    hs.message = "Waiting for input"
  end
  return hs
end
hs.message = status.phase or "Pending"
if status.phase == "Pending" and running ~= nil and running.status == "False" and running.reason ~= nil then
  -- Why its pods have not started yet, e.g. Unschedulable.
  hs.message = hs.message .. ": " .. running.reason
  if running.message ~= nil and running.message ~= "" then
    hs.message = hs.message .. ": " .. running.message
  end
end
if status.progress ~= nil then
  local details = join(progressSummary(status.progress), percentAndEta(status.progress))
  if details ~= "" then
    hs.message = hs.message .. ": " .. details
  end
end
return hs
