// The Lua half of the bridge: the wrapper that turns a Swift function's failure marker into a Lua error at the
// caller's line, the message handler that records where an error happened, and the finishing of object
// metatables. Loaded once per state as the chunk "=lab" (so its own frames never count as the user's).

enum CorePrelude {
  /// The chunk name: `=` means "use as is", so positions in it read `lab:12:` and never start with `@`.
  static let chunkName = "=lab"

  /// Called with the raw `closest` Swift function; returns the table of helpers.
  static let source = #"""
local raw_closest = ...
local pack, unpack, error, type, tostring, pcall, getmetatable =
  table.pack, table.unpack, error, type, tostring, pcall, getmetatable
local getinfo, traceback, sort, concat, pairs = debug.getinfo, debug.traceback, table.sort, table.concat, pairs
local core = {}

-- A Swift function returns true, results... or false, message, level: raise here, so that with level 2 the
-- error points at the line that called the function (Swift frames are never unwound by a Lua error).
function core.wrap(f)
  return function(...)
    local r = pack(f(...))
    if r[1] then return unpack(r, 2, r.n) end
    error(r[2], r[3])
  end
end
local closest = core.wrap(raw_closest)

-- Message handler for every protected call Swift makes: the message, the traceback, and the user frames
-- (sources loaded from files or named chunks, '@...') innermost first.
function core.handler(message)
  local text
  if type(message) == "string" or type(message) == "number" then
    text = tostring(message)
  else
    -- Only values that know how to print (a __tostring) say more than their type.
    local ok, converted = false, nil
    if getmetatable(message) ~= nil then ok, converted = pcall(tostring, message) end
    text = ok and type(converted) == "string" and converted or ("a " .. type(message) .. " value was raised as an error")
  end
  local frames, level = {}, 2
  while true do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source:sub(1, 1) == "@" and info.currentline > 0 then
      frames[#frames + 1] = { file = info.source:sub(2), line = info.currentline }
    end
    level = level + 1
  end
  return { message = text, traceback = traceback(text, 2), frames = frames }
end

-- Finishes the metatable of an object type: methods through __index (an unknown name is an error with a
-- suggestion), __tostring, and no writing.
function core.defineType(name, mt, methods, describe)
  local names = {}
  for key in pairs(methods) do names[#names + 1] = key end
  sort(names)
  mt.__metatable = name
  mt.__tostring = describe
  mt.__index = function(_, key)
    local method = methods[key]
    if method ~= nil then return method end
    local text = tostring(key)
    local list = #names > 0 and ("; its methods are " .. concat(names, ", ")) or ""
    error(("%s has no method '%s'%s%s"):format(name, text, closest(text, names), list), 2)
  end
  mt.__newindex = function(_, key)
    error(("%s: cannot set '%s' (objects are read-only)"):format(name, tostring(key)), 2)
  end
end

return core
"""#
}
