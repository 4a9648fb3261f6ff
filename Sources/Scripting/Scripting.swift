// Scripting: Lua 5.4 embedded; the `lab` module researchers script experiments with (DESIGN.md, "The Lua
// interface"; issue 5).
//
// - `Lua/`: the embedding. `LuaState` runs chunks and reports `ScriptError`s located in the script; `LuaValue`
//   moves values across (tables to lists and tables, to and from `ConfigValue`); Swift functions and objects
//   (`LuaState.function(named:_:)`, `LuaState.defineType`) are exposed so that a Lua error never unwinds a
//   Swift frame: Swift reports failure with a marker and a Lua wrapper raises the error at the caller's line.
// - `Lab/`: the `lab` module. `ScriptEngine` loads it with a component `Registry`, the `--set` overrides
//   `lab.option` reads and the dry-run flag; masks, mask schedules, loss mixes and registry constructors.
// - `Results/`: `lab.table` and its Markdown, CSV and JSON output.
