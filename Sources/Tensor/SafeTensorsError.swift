import Foundation

/// Everything that can go wrong reading, checking or writing safetensors files.
///
/// Every case carries the path of the file it is about (`file`) and, where one is involved, the tensor
/// name. `description` (and `errorDescription`) is one plain sentence that names both and says what to do.
public enum SafeTensorsError: Error, LocalizedError, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened or read (missing, a directory, no permission, I/O error).
  case unreadableFile(file: String, reason: String)
  /// The file is shorter than the 8-byte header length that starts every safetensors file.
  case fileTooShort(file: String, byteCount: Int)
  /// The header length is beyond the 100 MB limit: the file is not a safetensors file or is corrupt.
  case headerTooLarge(file: String, headerByteCount: UInt64)
  /// The header length points past the end of the file: the file is truncated.
  case truncatedHeader(file: String, headerByteCount: UInt64, fileByteCount: Int)
  /// The header is not UTF-8, not JSON, or not a JSON object.
  case invalidHeader(file: String, reason: String)
  /// `__metadata__` is not an object whose values are all strings.
  case invalidMetadata(file: String, reason: String)
  /// A tensor's header entry is not an object, lacks `dtype`/`shape`/`data_offsets`, or has wrong types.
  case invalidEntry(file: String, tensor: String, reason: String)
  /// A tensor's dtype is not one this reader decodes (see `SafeTensorsDType`).
  case unknownDType(file: String, tensor: String, dtype: String)
  /// A tensor's shape has a negative dimension.
  case negativeDimension(file: String, tensor: String, shape: [Int])
  /// A tensor's element or byte count overflows `Int`.
  case sizeOverflow(file: String, tensor: String, shape: [Int])
  /// A tensor's `data_offsets` are not two non-negative integers with begin ≤ end.
  case invalidOffsets(file: String, tensor: String, reason: String)
  /// A tensor's data ends past the end of the byte buffer: the file is truncated.
  case truncatedData(file: String, tensor: String, end: Int, bufferByteCount: Int)
  /// A tensor's byte range does not have the size its dtype and shape need.
  case byteCountMismatch(
    file: String, tensor: String, dtype: String, shape: [Int], expected: Int, actual: Int)
  /// Two tensors' byte ranges overlap.
  case overlappingTensors(file: String, tensor: String, other: String)
  /// A tensor name appears twice in one file (or twice in the list given to `save`).
  case duplicateTensor(file: String, tensor: String)
  /// A tensor name is not allowed when writing (`__metadata__` is reserved).
  case invalidTensorName(file: String, tensor: String)
  /// A model folder has neither `model.safetensors` nor `model.safetensors.index.json`.
  case noModelFile(directory: String)
  /// `model.safetensors.index.json` is not valid JSON or has no `weight_map` of strings.
  case invalidIndex(file: String, reason: String)
  /// A shard named by the index does not exist (`file` is the index, `tensor` one tensor mapped to it).
  case missingShard(file: String, shard: String, tensor: String)
  /// The index maps a tensor to a shard (`file`) that does not contain it.
  case tensorMissingFromShard(file: String, tensor: String, index: String)
  /// The same tensor name is stored in two shards of one model folder (`file` is the index).
  case tensorInTwoShards(file: String, tensor: String, firstShard: String, secondShard: String)
  /// A tensor a model needs is absent (`similar`: present names that look like it, to spot a prefix issue).
  case missingTensor(file: String, tensor: String, similar: [String])
  /// A tensor a model needs has another shape than the model expects.
  case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
  /// Writing the file failed (directory creation, temporary file, write, fsync or rename).
  case writeFailed(file: String, reason: String)

  /// One sentence naming the file (and tensor), what is wrong, and what to do.
  public var description: String {
    switch self {
    case .unreadableFile(let file, let reason):
      return "\(file): cannot read the file (\(reason)); check the path and permissions"
    case .fileTooShort(let file, let byteCount):
      return "\(file): the file has \(byteCount) bytes, fewer than the 8-byte header length every "
        + "safetensors file starts with; it is empty or truncated, re-download or re-export it"
    case .headerTooLarge(let file, let headerByteCount):
      return
        "\(file): the header length \(headerByteCount) is over the \(SafeTensors.maxHeaderByteCount)-byte "
        + "limit; this is not a safetensors file or it is corrupt, re-download or re-export it"
    case .truncatedHeader(let file, let headerByteCount, let fileByteCount):
      return "\(file): the 8-byte prefix announces a \(headerByteCount)-byte header but only "
        + "\(max(fileByteCount - 8, 0)) bytes follow it; the file is truncated, re-download or re-export it"
    case .invalidHeader(let file, let reason):
      return "\(file): the header is not a valid safetensors JSON object (\(reason)); "
        + "the file is corrupt or not a safetensors file, re-export it"
    case .invalidMetadata(let file, let reason):
      return "\(file): \"__metadata__\" must map strings to strings (\(reason)); "
        + "fix the writer or re-export the file"
    case .invalidEntry(let file, let tensor, let reason):
      return "\(file): tensor \(quoted(tensor)) has a malformed header entry (\(reason)); each entry needs "
        + "{\"dtype\": string, \"shape\": [int], \"data_offsets\": [begin, end]}, re-export the file"
    case .unknownDType(let file, let tensor, let dtype):
      let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
      return "\(file): tensor \(quoted(tensor)) has dtype \(quoted(dtype)), which this reader does not "
        + "decode (it reads \(known)); convert the checkpoint to one of these, e.g. F32 or F16"
    case .negativeDimension(let file, let tensor, let shape):
      return "\(file): tensor \(quoted(tensor)) has a negative dimension in shape \(shape); "
        + "the file is corrupt, re-export it"
    case .sizeOverflow(let file, let tensor, let shape):
      return "\(file): tensor \(quoted(tensor)) has shape \(shape), whose size overflows a 64-bit integer; "
        + "the file is corrupt, re-export it"
    case .invalidOffsets(let file, let tensor, let reason):
      return "\(file): tensor \(quoted(tensor)) has invalid data_offsets (\(reason)); "
        + "they must be [begin, end] with 0 ≤ begin ≤ end, the file is corrupt, re-export it"
    case .truncatedData(let file, let tensor, let end, let bufferByteCount):
      return "\(file): tensor \(quoted(tensor)) ends at byte \(end) of the data buffer but the buffer has "
        + "only \(bufferByteCount) bytes; the file is truncated, re-download or re-export it"
    case .byteCountMismatch(let file, let tensor, let dtype, let shape, let expected, let actual):
      return "\(file): tensor \(quoted(tensor)) needs \(expected) bytes (\(dtype) \(shape)) but data_offsets "
        + "give \(actual); the file is corrupt or truncated, re-export it"
    case .overlappingTensors(let file, let tensor, let other):
      return "\(file): the bytes of tensors \(quoted(other)) and \(quoted(tensor)) overlap; "
        + "the file is corrupt, re-export it"
    case .duplicateTensor(let file, let tensor):
      return "\(file): tensor name \(quoted(tensor)) appears twice; tensor names must be unique, "
        + "rename one of them (or re-export the file)"
    case .invalidTensorName(let file, let tensor):
      return "\(file): cannot save a tensor named \(quoted(tensor)); the name is reserved for metadata, "
        + "rename the tensor"
    case .noModelFile(let directory):
      return "\(directory): found neither \(SafeTensors.singleFileName) nor \(SafeTensors.indexFileName); "
        + "point at a Hugging Face model folder with safetensors weights (convert .bin weights first)"
    case .invalidIndex(let file, let reason):
      return "\(file): the shard index is malformed (\(reason)); it must be a JSON object with a "
        + "\"weight_map\" of tensor name to shard file, re-download it"
    case .missingShard(let file, let shard, let tensor):
      return "\(file): shard \(quoted(shard)), listed for tensor \(quoted(tensor)), does not exist; "
        + "the download is incomplete, download the missing shard"
    case .tensorMissingFromShard(let file, let tensor, let index):
      return "\(file): tensor \(quoted(tensor)) is not in this shard although \(index) says it is; "
        + "the shards and the index do not match, re-download the model"
    case .tensorInTwoShards(let file, let tensor, let firstShard, let secondShard):
      return "\(file): tensor \(quoted(tensor)) is stored in both \(firstShard) and \(secondShard); "
        + "the shards are inconsistent, re-download the model"
    case .missingTensor(let file, let tensor, let similar):
      let hint =
        similar.isEmpty ? "" : " (similar names present: \(similar.map(quoted).joined(separator: ", ")))"
      return "\(file): tensor \(quoted(tensor)) is missing\(hint); check that the checkpoint is for this "
        + "model and that the name prefix matches"
    case .shapeMismatch(let file, let tensor, let expected, let actual):
      return "\(file): tensor \(quoted(tensor)) has shape \(actual) but the model expects \(expected); "
        + "check that the checkpoint matches the model configuration"
    case .writeFailed(let file, let reason):
      return "\(file): cannot write the file (\(reason)); check the path, permissions and free disk space"
    }
  }

  /// The same sentence as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }
}

/// A tensor or shard name in double quotes, as in the JSON header.
private func quoted(_ name: String) -> String { "\"\(name)\"" }
