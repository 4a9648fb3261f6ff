// Reading and writing safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON describing each tensor, then the tensors' bytes.
// Reading maps the file and validates everything before touching the data; writing is atomic.

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Loads and saves tensors in the safetensors format.
///
/// Every failure is a `SafeTensorsError` whose message names the file (and tensor) and says what to do;
/// corrupt, truncated or hostile files throw, they never crash.
public enum SafeTensors {
  /// The largest header accepted, in bytes (the reference implementation's limit).
  public static let maxHeaderByteCount = 100_000_000
  /// The weights file of an unsharded Hugging Face model folder.
  public static let singleFileName = "model.safetensors"
  /// The shard index of a sharded Hugging Face model folder.
  public static let indexFileName = "model.safetensors.index.json"

  // MARK: Reading

  /// Reads and validates the header of a safetensors file without reading the tensor data.
  public static func readHeader(_ url: URL) throws(SafeTensorsError) -> SafeTensorsHeader {
    let file = url.path
    try checkRegularFile(url)
    do {
      let handle = try FileHandle(forReadingFrom: url)
      defer { try? handle.close() }
      let fileByteCount = Int(clamping: try handle.seekToEnd())
      try handle.seek(toOffset: 0)
      let prefix = [UInt8](try handle.read(upToCount: 8) ?? Data())
      let headerByteCount = try headerLength(prefix: prefix, fileByteCount: fileByteCount, file: file)
      let json = [UInt8](try handle.read(upToCount: headerByteCount) ?? Data())
      guard json.count == headerByteCount else {  // the file shrank while being read
        throw SafeTensorsError.truncatedHeader(
          file: file, headerByteCount: UInt64(headerByteCount), fileByteCount: 8 + json.count)
      }
      return try SafeTensorsHeader(
        json: json, dataStart: 8 + headerByteCount, dataByteCount: fileByteCount - 8 - headerByteCount,
        file: file)
    } catch let error as SafeTensorsError {
      throw error
    } catch {
      throw .unreadableFile(file: file, reason: error.localizedDescription)
    }
  }

  /// Loads every tensor of one safetensors file, converted to Float32.
  ///
  /// F32, F16 and BF16 decode exactly, F64 rounds to the nearest Float; integer and BOOL tensors (for
  /// example the I64 `position_ids` buffers of BERT checkpoints) become Floats holding their values
  /// (integers beyond 2²⁴ round). The file is memory-mapped, so only the decoded Floats are allocated.
  public static func load(_ url: URL) throws(SafeTensorsError) -> [String: Tensor] {
    let file = url.path
    try checkRegularFile(url)
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
      throw .unreadableFile(file: file, reason: error.localizedDescription)
    }
    let headerByteCount = try headerLength(
      prefix: [UInt8](data.prefix(8)), fileByteCount: data.count, file: file)
    let header = try SafeTensorsHeader(
      json: [UInt8](data.dropFirst(8).prefix(headerByteCount)), dataStart: 8 + headerByteCount,
      dataByteCount: data.count - 8 - headerByteCount, file: file)
    return data.withUnsafeBytes { raw in
      var tensors: [String: Tensor] = [:]
      tensors.reserveCapacity(header.entries.count)
      for entry in header.entries {
        let begin = header.dataStart + entry.dataOffsets.lowerBound
        let end = header.dataStart + entry.dataOffsets.upperBound
        let bytes = UnsafeRawBufferPointer(rebasing: raw[begin..<end])
        let values = decode(bytes, as: entry.dtype, count: entry.elementCount)
        tensors[entry.name] = Tensor(shape: entry.shape, data: values)
      }
      return tensors
    }
  }

  /// Loads a Hugging Face model folder: `model.safetensors` if present, otherwise every shard listed in
  /// `model.safetensors.index.json`.
  ///
  /// For a sharded folder all shard headers are checked first (before any data is read): every shard must
  /// exist, every tensor of the index's `weight_map` must be in the shard it names, and no tensor may be
  /// stored in two shards. Tensors present in a shard but absent from the `weight_map` are loaded too.
  public static func loadDirectory(_ url: URL) throws(SafeTensorsError) -> [String: Tensor] {
    let single = url.appendingPathComponent(singleFileName)
    if FileManager.default.fileExists(atPath: single.path) { return try load(single) }
    let indexURL = url.appendingPathComponent(indexFileName)
    guard FileManager.default.fileExists(atPath: indexURL.path) else {
      throw .noModelFile(directory: url.path)
    }
    let weightMap = try readIndex(indexURL)

    // Pass 1: headers only, so a broken download fails in milliseconds, not after reading gigabytes.
    let shards = Set(weightMap.map(\.shard)).sorted()
    var shardOf: [String: String] = [:]
    for shard in shards {
      let shardURL = url.appendingPathComponent(shard)
      guard FileManager.default.fileExists(atPath: shardURL.path) else {
        let example = weightMap.first { $0.shard == shard }?.tensor ?? ""
        throw .missingShard(file: indexURL.path, shard: shard, tensor: example)
      }
      for name in try readHeader(shardURL).names {
        if let first = shardOf.updateValue(shard, forKey: name) {
          throw .tensorInTwoShards(file: indexURL.path, tensor: name, firstShard: first, secondShard: shard)
        }
      }
    }
    for (tensor, shard) in weightMap where shardOf[tensor] != shard {
      throw .tensorMissingFromShard(
        file: url.appendingPathComponent(shard).path, tensor: tensor, index: indexURL.path)
    }

    // Pass 2: the data.
    var tensors: [String: Tensor] = [:]
    for shard in shards {
      tensors.merge(try load(url.appendingPathComponent(shard))) { first, _ in first }
    }
    return tensors
  }

  /// Returns `tensors[name]` after checking that it exists and has `shape`; `file` names the checkpoint in
  /// the error. Model loaders call this for each parameter they need.
  public static func require(
    _ tensors: [String: Tensor], _ name: String, shape: [Int], file: String
  ) throws(SafeTensorsError) -> Tensor {
    guard let tensor = tensors[name] else {
      throw .missingTensor(file: file, tensor: name, similar: similarNames(to: name, in: tensors.keys))
    }
    guard tensor.shape == shape else {
      throw .shapeMismatch(file: file, tensor: name, expected: shape, actual: tensor.shape)
    }
    return tensor
  }

  // MARK: Writing

  /// Saves tensors as F32 in name order, with optional `__metadata__`; the overload taking
  /// `[(String, Tensor)]` keeps a given order. Atomic, see that overload.
  public static func save(
    _ tensors: [String: Tensor], to url: URL, metadata: [String: String] = [:]
  ) throws(SafeTensorsError) {
    try save(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: url, metadata: metadata)
  }

  /// Saves tensors as F32 in the given order, with contiguous data offsets and the header padded with
  /// spaces to a multiple of 8 bytes, as the reference implementation writes them.
  ///
  /// The write is atomic: the bytes go to a temporary file in the same directory, which is fsynced and then
  /// renamed over `url`, so a crash leaves either the old file or the new one. Missing parent directories
  /// are created.
  public static func save(
    _ tensors: [(String, Tensor)], to url: URL, metadata: [String: String] = [:]
  ) throws(SafeTensorsError) {
    let file = url.path
    var seen = Set<String>()
    for (name, _) in tensors {
      guard name != "__metadata__" else { throw .invalidTensorName(file: file, tensor: name) }
      guard seen.insert(name).inserted else { throw .duplicateTensor(file: file, tensor: name) }
    }
    var header = Array(headerJSON(tensors, metadata: metadata).utf8)
    header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
    guard header.count <= maxHeaderByteCount else {
      throw .writeFailed(file: file, reason: "the header would have \(header.count) bytes, over the limit")
    }
    try writeAtomically(to: url) { (writer: FileWriter) throws(SafeTensorsError) in
      try writer.append(littleEndian: UInt64(header.count))
      try header.withUnsafeBufferPointer { bytes throws(SafeTensorsError) in
        try writer.append(UnsafeRawBufferPointer(bytes))
      }
      for (_, tensor) in tensors {
        #if _endian(little)
          try tensor.data.withUnsafeBufferPointer { values throws(SafeTensorsError) in
            try writer.append(UnsafeRawBufferPointer(values))
          }
        #else
          let swapped = tensor.data.map { $0.bitPattern.littleEndian }
          try swapped.withUnsafeBufferPointer { values throws(SafeTensorsError) in
            try writer.append(UnsafeRawBufferPointer(values))
          }
        #endif
      }
    }
  }
}

// MARK: - Internals

extension SafeTensors {
  /// Throws `unreadableFile` unless `url` is an existing regular file (not a directory).
  private static func checkRegularFile(_ url: URL) throws(SafeTensorsError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
      throw .unreadableFile(file: url.path, reason: "no such file")
    }
    if isDirectory.boolValue {
      throw .unreadableFile(
        file: url.path, reason: "it is a directory; use SafeTensors.loadDirectory for model folders")
    }
  }

  /// Reads the little-endian u64 header length from the first 8 bytes and checks it against the limit and
  /// the file size.
  static func headerLength(prefix: [UInt8], fileByteCount: Int, file: String) throws(SafeTensorsError) -> Int
  {
    guard prefix.count == 8, fileByteCount >= 8 else {
      throw .fileTooShort(file: file, byteCount: min(prefix.count, fileByteCount))
    }
    let length = prefix.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard length <= UInt64(maxHeaderByteCount) else {
      throw .headerTooLarge(file: file, headerByteCount: length)
    }
    guard length <= UInt64(fileByteCount - 8) else {
      throw .truncatedHeader(file: file, headerByteCount: length, fileByteCount: fileByteCount)
    }
    return Int(length)
  }

  /// Converts `count` little-endian elements of `dtype` in `bytes` (exactly `count * dtype.byteSize` bytes)
  /// to Floats.
  static func decode(_ bytes: UnsafeRawBufferPointer, as dtype: SafeTensorsDType, count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { output, initializedCount in
      func convert<Element: FixedWidthInteger>(_: Element.Type, _ transform: (Element) -> Float) {
        for i in 0..<count {
          let stored = bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<Element>.size, as: Element.self)
          output[i] = transform(Element(littleEndian: stored))
        }
      }
      switch dtype {
      case .float32:
        #if _endian(little)
          if count > 0 { UnsafeMutableRawBufferPointer(output).copyMemory(from: bytes) }
        #else
          convert(UInt32.self) { Float(bitPattern: $0) }
        #endif
      case .float16: convert(UInt16.self) { Float(halfBits: $0) }
      case .bfloat16: convert(UInt16.self) { Float(bfloat16Bits: $0) }
      case .float64: convert(UInt64.self) { Float(Double(bitPattern: $0)) }
      case .int64: convert(Int64.self) { Float($0) }
      case .int32: convert(Int32.self) { Float($0) }
      case .int16: convert(Int16.self) { Float($0) }
      case .int8: convert(Int8.self) { Float($0) }
      case .uint64: convert(UInt64.self) { Float($0) }
      case .uint32: convert(UInt32.self) { Float($0) }
      case .uint16: convert(UInt16.self) { Float($0) }
      case .uint8: convert(UInt8.self) { Float($0) }
      case .bool: convert(UInt8.self) { $0 == 0 ? 0 : 1 }
      }
      initializedCount = count
    }
  }

  /// Parses a shard index into (tensor, shard file) pairs, in file order.
  private static func readIndex(_ url: URL) throws(SafeTensorsError) -> [(tensor: String, shard: String)] {
    let file = url.path
    let bytes: [UInt8]
    do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
      throw .unreadableFile(file: file, reason: error.localizedDescription)
    }
    var parser = StrictJSONParser(bytes)
    let root: JSONValue
    do { root = try parser.parseDocument() } catch { throw .invalidIndex(file: file, reason: error.message) }
    guard case .object(let members) = root else {
      throw .invalidIndex(file: file, reason: "the top level is \(root.kindName), not an object")
    }
    guard let weightMapValue = members.first(where: { $0.key == "weight_map" })?.value else {
      throw .invalidIndex(file: file, reason: "there is no \"weight_map\"")
    }
    guard case .object(let entries) = weightMapValue, !entries.isEmpty else {
      throw .invalidIndex(
        file: file, reason: "\"weight_map\" is \(weightMapValue.kindName), not a non-empty object")
    }
    var seen = Set<String>()
    var weightMap: [(tensor: String, shard: String)] = []
    for (tensor, value) in entries {
      guard case .string(let shard) = value else {
        throw .invalidIndex(
          file: file, reason: "the shard of \"\(tensor)\" is \(value.kindName), not a file name")
      }
      let components = shard.split(separator: "/", omittingEmptySubsequences: false)
      guard !shard.isEmpty, !shard.hasPrefix("/"), !components.contains("..") else {
        throw .invalidIndex(
          file: file, reason: "the shard \"\(shard)\" of \"\(tensor)\" is not a file in the folder")
      }
      guard seen.insert(tensor).inserted else {
        throw .invalidIndex(file: file, reason: "\"\(tensor)\" appears twice in \"weight_map\"")
      }
      weightMap.append((tensor, shard))
    }
    return weightMap
  }

  /// Up to three present names that share `name`'s last two components or differ from it by a prefix.
  private static func similarNames(to name: String, in names: Dictionary<String, Tensor>.Keys) -> [String] {
    let tail = name.split(separator: ".").suffix(2).joined(separator: ".")
    let matches = names.filter { candidate in
      candidate.hasSuffix("." + name) || name.hasSuffix("." + candidate)
        || candidate.split(separator: ".").suffix(2).joined(separator: ".") == tail
    }
    return Array(matches.sorted().prefix(3))
  }

  /// The header JSON (unpadded): `__metadata__` first when not empty, then each tensor with contiguous
  /// offsets in the order given.
  private static func headerJSON(_ tensors: [(String, Tensor)], metadata: [String: String]) -> String {
    var members: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
      members.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var offset = 0
    for (name, tensor) in tensors {
      let end = offset + tensor.count * MemoryLayout<Float>.size
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      members.append(
        "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    return "{" + members.joined(separator: ",") + "}"
  }

  /// `text` as a JSON string literal.
  private static func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }
}

// MARK: - Atomic file writing

extension SafeTensors {
  /// Writes raw bytes to an open file descriptor, retrying partial writes and interrupted calls.
  struct FileWriter {
    /// The open descriptor.
    let descriptor: Int32
    /// The final path, for error messages.
    let file: String

    /// Writes all of `bytes`.
    func append(_ bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) {
      guard let base = bytes.baseAddress else { return }
      var done = 0
      while done < bytes.count {
        let written = write(descriptor, base + done, bytes.count - done)
        if written < 0 {
          if errno == EINTR { continue }
          throw .writeFailed(file: file, reason: "write: \(lastErrorMessage())")
        }
        done += written
      }
    }

    /// Writes `value` as 8 little-endian bytes.
    func append(littleEndian value: UInt64) throws(SafeTensorsError) {
      var little = value.littleEndian
      try withUnsafeBytes(of: &little) { bytes throws(SafeTensorsError) in try append(bytes) }
    }
  }
}

/// The text of the current `errno`.
private func lastErrorMessage() -> String { String(cString: strerror(errno)) }

extension SafeTensors {
  /// Creates the parent directories of `url`, lets `body` fill a new temporary file next to it, fsyncs it
  /// and renames it over `url` (then fsyncs the directory, best effort). The temporary file is removed on
  /// any failure.
  static func writeAtomically(
    to url: URL, _ body: (FileWriter) throws(SafeTensorsError) -> Void
  ) throws(SafeTensorsError) {
    let file = url.path
    let directory = url.deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
      throw .writeFailed(file: file, reason: "cannot create the directory: \(error.localizedDescription)")
    }
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
      .path
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw .writeFailed(file: file, reason: "cannot create a temporary file: \(lastErrorMessage())")
    }
    do throws(SafeTensorsError) {
      try body(FileWriter(descriptor: descriptor, file: file))
      guard fsync(descriptor) == 0 else {
        throw .writeFailed(file: file, reason: "fsync: \(lastErrorMessage())")
      }
    } catch {
      close(descriptor)
      unlink(temporary)
      throw error
    }
    guard close(descriptor) == 0 else {
      let reason = "close: \(lastErrorMessage())"
      unlink(temporary)
      throw .writeFailed(file: file, reason: reason)
    }
    guard rename(temporary, file) == 0 else {
      let reason = "rename: \(lastErrorMessage())"
      unlink(temporary)
      throw .writeFailed(file: file, reason: reason)
    }
    let directoryDescriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
    if directoryDescriptor >= 0 {
      _ = fsync(directoryDescriptor)  // some file systems refuse to fsync directories; the rename is done
      close(directoryDescriptor)
    }
  }
}
