// Tests of the safetensors reader and writer: round trips, 16-bit float decoding, the Python reference's
// files, sharded model folders, and a table of corrupted files that must each throw a precise error.

import Foundation
import Testing

@testable import Tensor

// MARK: Helpers

/// A fresh directory under the system temporary directory; call `remove()` when done.
private struct ScratchDirectory {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
  func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The bytes of a safetensors file with the given header text (unpadded) and data buffer.
private func fileBytes(header: String, data: [UInt8]) -> [UInt8] {
  let json = Array(header.utf8)
  return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
}

/// Little-endian bytes of fixed-width integers.
private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
  values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
}

/// The name of an enum case (its label), e.g. "truncatedData" for `.truncatedData(file:...)`.
private func caseName(_ error: any Error) -> String {
  Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}

/// Runs `body` and returns the `SafeTensorsError` it throws (nil, recorded as a failure, if none).
private func thrownError(_ body: () throws -> Void) -> SafeTensorsError? {
  do {
    try body()
    Issue.record("expected a SafeTensorsError, nothing was thrown")
  } catch let error as SafeTensorsError {
    return error
  } catch {
    Issue.record("expected a SafeTensorsError, got \(error)")
  }
  return nil
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

// MARK: Round trips

@Test func roundTripF32KeepsShapesAndExactBits() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let tensors: [String: Tensor] = [
    "matrix": Tensor(shape: [2, 3], data: [1, -2.5, 0.1, .infinity, -0.0, .nan]),
    "scalar": Tensor(shape: [], data: [42]),
    "empty": Tensor(shape: [0, 5], data: []),
    "inner.empty": Tensor(shape: [2, 0, 3], data: []),
    "vector": Tensor(shape: [4], data: [.leastNonzeroMagnitude, .greatestFiniteMagnitude, -1, 7]),
    "ones": Tensor(shape: [1, 1, 1, 1], data: [1]),
  ]
  let url = scratch.file("nested/dirs/model.safetensors")  // parent directories are created
  try SafeTensors.save(tensors, to: url)

  let loaded = try SafeTensors.load(url)
  #expect(Set(loaded.keys) == Set(tensors.keys))
  for (name, tensor) in tensors {
    #expect(loaded[name]?.shape == tensor.shape, "\(name)")
    #expect(loaded[name].map { bits($0.data) } == bits(tensor.data), "\(name)")
  }

  // Layout as the reference writes it: sorted names, contiguous offsets, 8-byte aligned data start.
  let header = try SafeTensors.readHeader(url)
  #expect(header.names == tensors.keys.sorted())
  #expect(header.dataStart % 8 == 0)
  var offset = 0
  for entry in header.entries {
    #expect(entry.dtype == .float32)
    #expect(entry.dataOffsets.lowerBound == offset)
    offset = entry.dataOffsets.upperBound
  }
  #expect(offset == header.dataByteCount)
  let fileSize = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
  #expect(fileSize == header.dataStart + header.dataByteCount)
}

@Test func metadataAndUnusualNamesRoundTrip() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let metadata = ["format": "pt", "quote\"back\\slash": "line\nbreak\ttab\u{01}", "ünïcödé": "日本語 🎉"]
  let names = ["a \"quoted\" name", "back\\slash", "日本.weight", "tab\tname"]
  let tensors = Dictionary(
    uniqueKeysWithValues: names.enumerated().map { ($1, Tensor(shape: [1], data: [Float($0)])) })
  let url = scratch.file("meta.safetensors")
  try SafeTensors.save(tensors, to: url, metadata: metadata)

  #expect(try SafeTensors.readHeader(url).metadata == metadata)
  let loaded = try SafeTensors.load(url)
  #expect(Set(loaded.keys) == Set(names))
  #expect(loaded["日本.weight"]?.data == [2])
}

@Test func orderedSaveKeepsOrderAndRejectsBadNames() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let url = scratch.file("ordered.safetensors")
  let one = Tensor(shape: [1], data: [1])
  try SafeTensors.save([("zeta", one), ("alpha", one)], to: url)
  #expect(try SafeTensors.readHeader(url).names == ["zeta", "alpha"])

  let duplicate = thrownError { try SafeTensors.save([("w", one), ("w", one)], to: url) }
  #expect(duplicate == .duplicateTensor(file: url.path, tensor: "w"))
  let reserved = thrownError { try SafeTensors.save(["__metadata__": one], to: url) }
  #expect(reserved == .invalidTensorName(file: url.path, tensor: "__metadata__"))
  #expect(try SafeTensors.readHeader(url).names == ["zeta", "alpha"])  // failed saves left the file alone
}

@Test func saveReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let url = scratch.file("model.safetensors")
  try SafeTensors.save(["w": Tensor(shape: [2], data: [1, 2])], to: url)
  try SafeTensors.save(["w": Tensor(shape: [3], data: [3, 4, 5])], to: url)
  #expect(try SafeTensors.load(url)["w"]?.data == [3, 4, 5])
  #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["model.safetensors"])

  // A directory in the way: the rename fails, the error names the file, no temporary file is left.
  let blocked = scratch.file("blocked.safetensors")
  try FileManager.default.createDirectory(
    at: blocked.appendingPathComponent("child"), withIntermediateDirectories: true)
  let error = thrownError { try SafeTensors.save(["w": Tensor(shape: [1], data: [1])], to: blocked) }
  #expect(error.map(caseName) == "writeFailed")
  #expect(error?.description.contains("blocked.safetensors") == true)
  #expect(
    try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted() == [
      "blocked.safetensors", "model.safetensors",
    ])
}

// MARK: 16-bit floats and other dtypes

/// Half bit patterns and their exact values.
private let halfCases: [(UInt16, Float)] = [
  (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24),
  (0x0400, 0x1p-14), (0x8001, -0x1p-24), (0x3555, 0.333251953125), (0x0000, 0), (0x8000, -0.0),
  (0x7C00, .infinity), (0xFC00, -.infinity),
]

/// bfloat16 bit patterns and their exact values.
private let bfloat16Cases: [(UInt16, Float)] = [
  (0x3F80, 1), (0xC000, -2), (0x7F7F, 0x1.FEp127), (0x0001, 0x1p-133), (0x0080, 0x1p-126),
  (0x8001, -0x1p-133), (0x3EAB, 0.333984375), (0x8000, -0.0), (0x7F80, .infinity), (0xFF80, -.infinity),
]

/// Writes a one-tensor file of `dtype` holding `bytes` and loads it.
private func loadSingle(dtype: String, shape: [Int], bytes: [UInt8], in scratch: ScratchDirectory) throws
  -> Tensor?
{
  let header = "{\"t\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[0,\(bytes.count)]}}"
  let url = scratch.file("\(dtype).safetensors")
  try Data(fileBytes(header: header, data: bytes)).write(to: url)
  let tensor = try SafeTensors.load(url)["t"]
  #expect(tensor?.shape == shape)
  return tensor
}

@Test func halfAndBFloat16DecodeKnownBitPatterns() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let nans: [UInt16] = [0x7E00, 0x7C01, 0xFE00]  // quiet, signalling (payload 1), negative
  let half = try loadSingle(
    dtype: "F16", shape: [halfCases.count + nans.count],
    bytes: littleEndianBytes(halfCases.map(\.0) + nans), in: scratch)
  #expect(half.map { bits(Array($0.data.prefix(halfCases.count))) } == bits(halfCases.map(\.1)))
  #expect(half?.data.suffix(nans.count).allSatisfy(\.isNaN) == true)
  #expect(half?.data.last?.sign == .minus)

  let bnans: [UInt16] = [0x7FC0, 0x7F81, 0xFFC0]
  let bfloat = try loadSingle(
    dtype: "BF16", shape: [bfloat16Cases.count + bnans.count],
    bytes: littleEndianBytes(bfloat16Cases.map(\.0) + bnans), in: scratch)
  #expect(bfloat.map { bits(Array($0.data.prefix(bfloat16Cases.count))) } == bits(bfloat16Cases.map(\.1)))
  #expect(bfloat?.data.suffix(bnans.count).allSatisfy(\.isNaN) == true)
}

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
  @Test func halfDecodingMatchesFloat16ForEveryBitPattern() {
    var mismatches: [UInt16] = []
    for pattern in UInt16.min...UInt16.max {
      let ours = Float(halfBits: pattern)
      let reference = Float(Float16(bitPattern: pattern))
      let same =
        ours.isNaN ? reference.isNaN && ours.sign == reference.sign : ours.bitPattern == reference.bitPattern
      if !same { mismatches.append(pattern) }
    }
    #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
  }
#endif

@Test func integerBoolAndDoubleTensorsLoadAsFloats() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let cases: [(String, [UInt8], [Float])] = [
    ("I64", littleEndianBytes([Int64(0), 1, -3, 1 << 40]), [0, 1, -3, 0x1p40]),
    ("I32", littleEndianBytes([Int32(7), -8, .max, .min]), [7, -8, 0x1p31, -0x1p31]),
    ("I16", littleEndianBytes([Int16(1), -1, .max, .min]), [1, -1, 32767, -32768]),
    ("I8", littleEndianBytes([Int8(1), -1, .max, .min]), [1, -1, 127, -128]),
    ("U64", littleEndianBytes([UInt64(0), 1, 5, .max]), [0, 1, 5, 0x1p64]),
    ("U32", littleEndianBytes([UInt32(0), 1, 5, .max]), [0, 1, 5, 0x1p32]),
    ("U16", littleEndianBytes([UInt16(0), 1, 5, .max]), [0, 1, 5, 65535]),
    ("U8", [0, 1, 128, 255], [0, 1, 128, 255]),
    ("BOOL", [0, 1, 0, 2], [0, 1, 0, 1]),
    (
      "F64", littleEndianBytes([1.5, -0.1, 1e300, Double.leastNonzeroMagnitude].map(\.bitPattern)),
      [1.5, -0.1, .infinity, 0]
    ),
  ]
  for (dtype, bytes, expected) in cases {
    let tensor = try loadSingle(dtype: dtype, shape: [2, 2], bytes: bytes, in: scratch)
    #expect(tensor.map { bits($0.data) } == bits(expected), "\(dtype)")
  }
}

// MARK: Files written by the Python reference

/// The expected values written by Tests/fixtures/make_safetensors_fixtures.py.
private struct ReferenceExpectation: Decodable {
  struct Entry: Decodable {
    let dtype: String
    let shape: [Int]
    let bits: [Int32]
  }
  let metadata: [String: String]
  let tensors: [String: Entry]
}

/// A fixture file, found through the test bundle.
private func fixtureURL(_ name: String, _ fileExtension: String) throws -> URL {
  if let url = Bundle.module.url(forResource: name, withExtension: fileExtension, subdirectory: "Fixtures") {
    return url
  }
  struct MissingFixture: Error { let name: String }
  throw MissingFixture(name: "Fixtures/\(name).\(fileExtension)")
}

@Test func readsFilesWrittenByThePythonReference() throws {
  let url = try fixtureURL("safetensors_dtypes", "safetensors")
  let expected = try JSONDecoder().decode(
    ReferenceExpectation.self, from: Data(contentsOf: try fixtureURL("safetensors_dtypes", "json")))
  let header = try SafeTensors.readHeader(url)
  #expect(header.metadata == expected.metadata)
  #expect(header["half"]?.dtype == .float16)
  #expect(header["bfloat"]?.dtype == .bfloat16)
  #expect(header["position_ids"]?.dtype == .int64)

  let loaded = try SafeTensors.load(url)
  #expect(Set(loaded.keys) == Set(expected.tensors.keys))
  for (name, entry) in expected.tensors {
    #expect(loaded[name]?.shape == entry.shape, "\(name)")
    #expect(
      loaded[name].map { bits($0.data) } == entry.bits.map { UInt32(bitPattern: $0) },
      "\(name) (\(entry.dtype))")
  }
}

// MARK: Model folders

/// Writes `index` as model.safetensors.index.json.
private func writeIndex(_ index: String, in scratch: ScratchDirectory) throws {
  try Data(index.utf8).write(to: scratch.file(SafeTensors.indexFileName))
}

/// Two shards: a.weight and a.bias in shard 1, b.weight in shard 2.
private func writeShards(in scratch: ScratchDirectory) throws {
  try SafeTensors.save(
    ["a.weight": Tensor(shape: [2, 2], data: [1, 2, 3, 4]), "a.bias": Tensor(shape: [2], data: [5, 6])],
    to: scratch.file("model-00001-of-00002.safetensors"))
  try SafeTensors.save(
    ["b.weight": Tensor(shape: [1], data: [7])], to: scratch.file("model-00002-of-00002.safetensors"))
}

private let validIndex = """
  {"metadata": {"total_size": 28}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
   "a.bias": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}
  """

@Test func shardedModelFolderLoadsAndEmptyFolderFails() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  #expect(throws: SafeTensorsError.noModelFile(directory: scratch.url.path)) {
    try SafeTensors.loadDirectory(scratch.url)
  }
  try writeShards(in: scratch)
  try writeIndex(validIndex, in: scratch)
  let tensors = try SafeTensors.loadDirectory(scratch.url)
  #expect(Set(tensors.keys) == ["a.weight", "a.bias", "b.weight"])
  #expect(tensors["a.weight"]?.data == [1, 2, 3, 4])
  #expect(tensors["b.weight"]?.data == [7])

  // A single model.safetensors takes precedence, as in transformers.
  try SafeTensors.save(["only": Tensor.scalar(1)], to: scratch.file(SafeTensors.singleFileName))
  #expect(Array(try SafeTensors.loadDirectory(scratch.url).keys) == ["only"])
}

/// A broken model folder: the index text, the error case expected, and text the message must contain.
struct BrokenShardIndex: Sendable, CustomTestStringConvertible {
  let label: String
  let index: String
  let expectedCase: String
  let mentions: [String]
  var testDescription: String { label }

  init(_ label: String, _ index: String, _ expectedCase: String, mentions: String...) {
    (self.label, self.index, self.expectedCase, self.mentions) = (label, index, expectedCase, mentions)
  }
}

private let shard1 = "model-00001-of-00002.safetensors"
private let shard2 = "model-00002-of-00002.safetensors"
private let shard3 = "model-00003-of-00003.safetensors"

@Test(arguments: [
  BrokenShardIndex("not JSON", #"{"weight_map": {"#, "invalidIndex", mentions: SafeTensors.indexFileName),
  BrokenShardIndex("not an object", "[]", "invalidIndex", mentions: SafeTensors.indexFileName),
  BrokenShardIndex("no weight_map", #"{"metadata": {}}"#, "invalidIndex", mentions: "weight_map"),
  BrokenShardIndex(
    "shard not a string", #"{"weight_map": {"a.weight": 3}}"#, "invalidIndex", mentions: "a.weight"),
  BrokenShardIndex(
    "shard outside the folder", #"{"weight_map": {"a.weight": "../x.safetensors"}}"#, "invalidIndex",
    mentions: "../x.safetensors"),
  BrokenShardIndex(
    "duplicate weight_map key", #"{"weight_map": {"a.weight": "\#(shard1)", "a.weight": "\#(shard1)"}}"#,
    "invalidIndex", mentions: "a.weight"),
  BrokenShardIndex(
    "missing shard", #"{"weight_map": {"a.weight": "\#(shard3)"}}"#, "missingShard",
    mentions: shard3, "a.weight"),
  BrokenShardIndex(
    "tensor not in its shard", #"{"weight_map": {"a.weight": "\#(shard2)", "b.weight": "\#(shard2)"}}"#,
    "tensorMissingFromShard", mentions: shard2, "a.weight"),
  BrokenShardIndex(
    "tensor in two shards", #"{"weight_map": {"a.weight": "\#(shard1)", "x": "dup.safetensors"}}"#,
    "tensorInTwoShards", mentions: "a.weight", "dup.safetensors", shard1),
])
func brokenModelFolderFails(_ broken: BrokenShardIndex) throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  try writeShards(in: scratch)
  try SafeTensors.save(
    ["a.weight": Tensor.scalar(0), "x": Tensor.scalar(0)], to: scratch.file("dup.safetensors"))
  try writeIndex(broken.index, in: scratch)
  let error = thrownError { _ = try SafeTensors.loadDirectory(scratch.url) }
  #expect(error.map(caseName) == broken.expectedCase, "\(error?.description ?? "")")
  for text in broken.mentions {
    #expect(error?.description.contains(text) == true, "\(error?.description ?? "") should mention \(text)")
  }
}

// MARK: Corrupted files

/// A valid two-tensor file to corrupt: "encoder.weight" F32 [2, 3] at [0, 24), "encoder.bias" F32 [3] at
/// [24, 36), metadata {"format": "pt"}.
private let validHeader = """
  {"__metadata__":{"format":"pt"},"encoder.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},\
  "encoder.bias":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}}
  """
private let validFile = fileBytes(
  header: validHeader, data: littleEndianBytes((0..<9).map { Float($0).bitPattern }))

/// The valid file with `old` replaced by `new` in its header (the length prefix follows).
private func replacingInHeader(_ old: String, _ new: String) -> [UInt8] {
  precondition(validHeader.contains(old), "test bug: \(old) is not in the header")
  return fileBytes(
    header: validHeader.replacingOccurrences(of: old, with: new), data: Array(validFile.suffix(36)))
}

/// The valid file with its 8-byte length prefix replaced.
private func withLengthPrefix(_ length: UInt64) -> [UInt8] {
  littleEndianBytes([length]) + validFile.dropFirst(8)
}

/// One corruption: how to make the bytes, the error case expected, and the tensor the message must name.
struct SafeTensorsCorruption: Sendable, CustomTestStringConvertible {
  let label: String
  let expectedCase: String
  let tensor: String?
  let bytes: @Sendable () -> [UInt8]
  var testDescription: String { label }

  /// A corruption made by `bytes`.
  static func make(
    _ label: String, _ expectedCase: String, _ tensor: String? = nil,
    _ bytes: @escaping @Sendable () -> [UInt8]
  ) -> SafeTensorsCorruption {
    SafeTensorsCorruption(label: label, expectedCase: expectedCase, tensor: tensor, bytes: bytes)
  }

  /// A corruption that replaces `old` by `new` in the valid file's header.
  static func edit(
    _ label: String, _ expectedCase: String, _ tensor: String?, _ old: String, _ new: String
  ) -> SafeTensorsCorruption {
    make(label, expectedCase, tensor) { replacingInHeader(old, new) }
  }
}

private let weight = "encoder.weight"
private let bias = "encoder.bias"
private let biasEntry = #"{"dtype":"F32","shape":[3],"data_offsets":[24,36]}"#
private let deepJSON = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)

@Test(
  arguments: [
    .make("empty file", "fileTooShort") { [] },
    .make("shorter than 8 bytes", "fileTooShort") { Array(validFile.prefix(5)) },
    .make("header cut off", "truncatedHeader") { Array(validFile.prefix(30)) },
    .make("absurd header length", "headerTooLarge") { withLengthPrefix(200_000_000) },
    .make("header length u64 max", "headerTooLarge") { withLengthPrefix(.max) },
    .make("header length past the end", "truncatedHeader") { withLengthPrefix(UInt64(validFile.count)) },
    .make("header not UTF-8", "invalidHeader") {
      validFile.enumerated().map { $0.offset == 48 ? 0xFF : $0.element }
    },
    .make("header length too short for the JSON", "invalidHeader") { withLengthPrefix(20) },
    .make("header not an object", "invalidHeader") { fileBytes(header: "[1, 2, 3]", data: []) },
    .make("nesting 10000 deep", "invalidHeader") { fileBytes(header: deepJSON, data: []) },
    .edit("header not JSON", "invalidHeader", nil, "[0,24]},", "[0,24]}"),
    .edit("entry not an object", "invalidEntry", bias, biasEntry, "[]"),
    .edit("missing dtype", "invalidEntry", bias, #""dtype":"F32","shape":[3]"#, #""type":"F32","shape":[3]"#),
    .edit("missing shape", "invalidEntry", bias, #""shape":[3],"#, ""),
    .edit("dtype not a string", "invalidEntry", bias, #""F32","shape":[3]"#, #"32,"shape":[3]"#),
    .edit("shape not an array", "invalidEntry", bias, "[3]", #""3""#),
    .edit("shape of floats", "invalidEntry", bias, "[3]", "[3.0]"),
    .edit("duplicate key in entry", "invalidEntry", bias, #""shape":[3]"#, #""shape":[3],"shape":[3]"#),
    .edit("unknown dtype", "unknownDType", bias, #""F32","shape":[3]"#, #""Q4_K","shape":[3]"#),
    .edit("negative dimension", "negativeDimension", weight, "[2,3]", "[-2,-3]"),
    .edit("shape product overflows", "sizeOverflow", weight, "[2,3]", "[4294967296,4294967296,0]"),
    .edit("byte count overflows", "sizeOverflow", weight, "[2,3]", "[4611686018427387904]"),
    .edit("one offset", "invalidOffsets", bias, "[24,36]", "[24]"),
    .edit("negative offset", "invalidOffsets", weight, "[0,24]", "[-1,24]"),
    .edit("offset beyond Int64", "invalidOffsets", weight, "[0,24]", "[0,99999999999999999999]"),
    .edit("offsets not numbers", "invalidOffsets", weight, "[0,24]", #"["0","24"]"#),
    .edit("begin after end", "invalidOffsets", bias, "[24,36]", "[36,24]"),
    .make("data truncated", "truncatedData", bias) { Array(validFile.dropLast(4)) },
    .edit(
      "end past the buffer", "truncatedData", bias, "[3],\"data_offsets\":[24,36]",
      "[4],\"data_offsets\":[24,40]"),
    .edit("byte count mismatch", "byteCountMismatch", weight, "[2,3]", "[2,4]"),
    .edit("huge end offset", "byteCountMismatch", weight, "[0,24]", "[0,9223372036854775807]"),
    .edit("overlapping tensors", "overlappingTensors", bias, "[24,36]", "[20,32]"),
    .edit("duplicate tensor name", "duplicateTensor", weight, bias, weight),
    .edit("metadata value not a string", "invalidMetadata", nil, #"{"format":"pt"}"#, #"{"format":1}"#),
    .edit("metadata not an object", "invalidMetadata", nil, #"{"format":"pt"}"#, #""pt""#),
  ] as [SafeTensorsCorruption])
func corruptedFileThrowsNamedError(_ corruption: SafeTensorsCorruption) throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let url = scratch.file("corrupt-\(UUID().uuidString).safetensors")
  try Data(corruption.bytes()).write(to: url)

  let loadError = thrownError { _ = try SafeTensors.load(url) }
  #expect(loadError.map(caseName) == corruption.expectedCase, "\(loadError?.description ?? "")")
  let message = loadError?.description ?? ""
  #expect(message.contains(url.lastPathComponent), "\(message)")
  if let tensor = corruption.tensor { #expect(message.contains("\"\(tensor)\""), "\(message)") }
  #expect(loadError?.errorDescription == message)
  // Inspecting the header finds the same defect.
  #expect(thrownError { _ = try SafeTensors.readHeader(url) } == loadError)
}

@Test func theValidFileToCorruptLoads() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let url = scratch.file("valid.safetensors")
  try Data(validFile).write(to: url)
  let tensors = try SafeTensors.load(url)
  #expect(tensors[weight]?.data == [0, 1, 2, 3, 4, 5])
  #expect(tensors[bias]?.data == [6, 7, 8])
  #expect(try SafeTensors.readHeader(url).metadata == ["format": "pt"])
}

@Test func missingPathsAndDirectoriesAreUnreadable() throws {
  let scratch = try ScratchDirectory()
  defer { scratch.remove() }
  let missing = scratch.file("nope.safetensors")
  #expect(
    thrownError { _ = try SafeTensors.load(missing) }
      == .unreadableFile(file: missing.path, reason: "no such file"))
  #expect(thrownError { _ = try SafeTensors.readHeader(scratch.url) }.map(caseName) == "unreadableFile")
}

// MARK: Checking expected tensors

@Test func requireChecksPresenceAndShape() throws {
  let tensors = ["embeddings.word_embeddings.weight": Tensor.zeros([4, 2])]
  let found = try SafeTensors.require(
    tensors, "embeddings.word_embeddings.weight", shape: [4, 2], file: "bert.safetensors")
  #expect(found.shape == [4, 2])

  let missing = thrownError {
    _ = try SafeTensors.require(
      tensors, "bert.embeddings.word_embeddings.weight", shape: [4, 2], file: "bert.safetensors")
  }
  #expect(
    missing
      == .missingTensor(
        file: "bert.safetensors", tensor: "bert.embeddings.word_embeddings.weight",
        similar: ["embeddings.word_embeddings.weight"]))
  #expect(
    missing?.description.contains("similar names present: \"embeddings.word_embeddings.weight\"") == true)

  let wrongShape = thrownError {
    _ = try SafeTensors.require(
      tensors, "embeddings.word_embeddings.weight", shape: [30522, 768], file: "bert.safetensors")
  }
  #expect(
    wrongShape?.description
      == "bert.safetensors: tensor \"embeddings.word_embeddings.weight\" has shape [4, 2] "
      + "but the model expects [30522, 768]; check that the checkpoint matches the model configuration")
}

@Test func byteCountMessageReadsAsASentence() {
  let error = SafeTensorsError.byteCountMismatch(
    file: "model.safetensors", tensor: "bert.embeddings.word_embeddings.weight", dtype: "F32",
    shape: [30522, 768], expected: 93_763_584, actual: 1024)
  let expected =
    "model.safetensors: tensor \"bert.embeddings.word_embeddings.weight\" needs 93763584 bytes "
    + "(F32 [30522, 768]) but data_offsets give 1024; the file is corrupt or truncated, re-export it"
  #expect(error.localizedDescription == expected)
}
