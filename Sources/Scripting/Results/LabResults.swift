// `lab.table(rows)`: result rows from Lua, grouped with `:mean_by("variant")`, written with `:write(path)`.

import Foundation

extension ScriptEngine {
  func defineResultTypes() throws {
    func wrap(_ table: ResultTable) -> [LuaValue] { [.object(LuaObject(table, typeName: LabTypeName.resultTable))] }
    try lua.defineType(ResultTable.self, name: LabTypeName.resultTable, describe: { $0.markdown() }, methods: [
      "mean_by": { table, arguments in wrap(try table.mean(by: try arguments.string(1, "the column to group by"))) },
      "select": { table, arguments in
        let names = try OptionTable(["columns": try arguments.value(1)], function: "ResultTable:select", keys: ["columns"])
          .strings("columns")
        if let missing = names.first(where: { !table.columns.contains($0) }) {
          throw LabError("ResultTable:select: no column '\(missing)'\(Suggestions.hint(for: missing, in: table.columns)); "
            + "columns are \(table.columns.joined(separator: ", "))")
        }
        return wrap(ResultTable(rows: table.rows, columns: names))
      },
      "write": { table, arguments in
        try table.write(to: try arguments.string(1, "the path"))
        return []
      },
      "markdown": { table, _ in [.string(table.markdown())] },
      "csv": { table, _ in [.string(table.csv())] },
      "json": { table, _ in [.string(table.json())] },
      "rows": { table, _ in
        [.list(table.rows.map { row in .table(row.mapValues { cell in
          switch cell {
          case let .text(text): .string(text)
          case let .number(value): .double(value)
          case let .summary(summary):
            .table(["mean": .double(summary.mean), "std": summary.standardDeviation.map { .double($0) } ?? .nil,
                    "min": .double(summary.minimum), "max": .double(summary.maximum), "n": .int(summary.count)])
          }
        }) })]
      },
    ])
  }

  func resultFunctions() throws -> [String: LuaValue] {
    [
      "table": try native("lab.table") { _, arguments in
        let rows: [LuaValue]
        switch try arguments.value(1) {
        case let .list(list): rows = list
        case .table(let table) where table.isEmpty: rows = []
        case let other: throw LabError("lab.table: the rows must be a list of tables, got \(other.kindName)")
        }
        let cells = try rows.enumerated().map { index, row -> [String: ResultTable.Cell] in
          guard case let .table(fields) = row else {
            throw LabError("lab.table: row \(index + 1) must be a table of named values, got \(row.kindName)")
          }
          return try fields.mapValues { value in
            switch value {
            case let .string(text): return .text(text)
            case let .bool(flag): return .text(String(flag))
            case let .int(number): return .number(Double(number))
            case let .double(number): return .number(number)
            default:
              throw LabError("lab.table: row \(index + 1) holds \(value.kindName); cells are numbers, strings or booleans")
            }
          }
        }
        var columns: [String]?
        if case .nil = try arguments.value(2) {} else {
          columns = try OptionTable(["columns": try arguments.value(2)], function: "lab.table", keys: ["columns"])
            .strings("columns")
        }
        return [.object(LuaObject(ResultTable(rows: cells, columns: columns), typeName: LabTypeName.resultTable))]
      },
    ]
  }
}
