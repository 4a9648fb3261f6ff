// The Lua side of the `lab` module: the global table, its families, and strictness about misspelt fields.

enum LabPrelude {
  /// Called with the table of native (Swift) functions and the dry-run flag; sets the global `lab`.
  static let source = #"""
local native, dry_run = ...
local error, rawset, setmetatable, tostring, select, concat, sort, pairs =
  error, rawset, setmetatable, tostring, select, table.concat, table.sort, pairs

-- A table whose unknown fields are errors with a suggestion ("lab has no field 'losess' (did you mean ...)").
local function strict(name, t)
  return setmetatable(t, {
    __index = function(_, key)
      local names = {}
      for k in pairs(t) do names[#names + 1] = tostring(k) end
      sort(names)
      local text = tostring(key)
      error(("%s has no field '%s'%s; it has %s"):format(name, text, native.hint(text, names), concat(names, ", ")), 2)
    end,
  })
end

local lab = {
  dry_run = dry_run,
  option = native.option,
  layout = native.layout,
  schedule = native.schedule,
  losses = native.losses,
  table = native.table,
  help = native.help,
  render = native.render,
}
lab.mask = strict("lab.mask", {
  itc = native.mask_itc, itm = native.mask_itm, itg = native.mask_itg, causal = native.mask_causal,
  blocks = native.mask_blocks, custom = native.mask_custom,
})

-- lab.encoder.vit{...}: any name the registry holds, looked up on first use and kept.
for _, family in ipairs({ "encoder", "bridge", "lm", "data" }) do
  lab[family] = setmetatable({}, {
    __index = function(t, name)
      local constructor, message = native.constructor(family, tostring(name))
      if not constructor then error(message, 2) end
      rawset(t, name, constructor)
      return constructor
    end,
  })
end

-- print goes to the engine's output (the terminal, or a test's buffer).
print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  native.write(concat(parts, "\t"))
end

_G.lab = strict("lab", lab)
"""#
}
