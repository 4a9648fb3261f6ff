// Reading the standard result and annotation files, so `blip2lab metrics` can score any file the reference
// tools score: COCO caption results and annotations, VQAv2 results, annotations and questions. Every error names
// the file and the entry.

import Foundation

/// What is wrong with a metrics input file.
public enum MetricsFileError: Error, LocalizedError, Equatable {
  /// The file could not be read.
  case unreadable(file: String, reason: String)
  /// The file is not JSON of the expected shape.
  case malformed(file: String, reason: String)
  /// An entry lacks a field or has one of the wrong type.
  case badEntry(file: String, entry: Int, reason: String)
  /// An id with no counterpart in the other file.
  case missing(file: String, entry: Int, id: String, otherFile: String, what: String)
  /// The same id twice where only one is allowed.
  case duplicate(file: String, entry: Int, id: String)

  /// What was wrong, where, and what to do.
  public var errorDescription: String? {
    switch self {
    case let .unreadable(file, reason): return "\(file): cannot read it (\(reason))"
    case let .malformed(file, reason): return "\(file): \(reason)"
    case let .badEntry(file, entry, reason): return "\(file): entry \(entry): \(reason)"
    case let .missing(file, entry, id, otherFile, what):
      return "\(file): entry \(entry): id \(id) has no \(what) in \(otherFile)"
    case let .duplicate(file, entry, id):
      return "\(file): entry \(entry): id \(id) appears more than once; give one per id"
    }
  }
}

/// Caption candidates and their references, keyed by image id (as text).
public struct CaptionEvaluationInput: Sendable, Equatable {
  /// Image ids in the candidates file's order.
  public var imageIds: [String]
  /// One candidate caption per image id.
  public var candidates: [String]
  /// The reference captions of each image id.
  public var references: [[String]]

  /// Loads a COCO results file (`[{"image_id": .., "caption": ..}]`) and a COCO annotations file
  /// (`{"annotations": [{"image_id": .., "caption": ..}]}`). Every candidate's image must have references;
  /// references of other images are ignored (as pycocoevalcap does).
  public static func load(candidates candidatesPath: String, references referencesPath: String) throws -> Self {
    let results = try entries(try readJSON(candidatesPath), file: candidatesPath, key: nil)
    let annotations = try entries(try readJSON(referencesPath), file: referencesPath, key: "annotations")
    var referencesById: [String: [String]] = [:]
    for (index, entry) in annotations.enumerated() {
      let id = try idField(entry, "image_id", file: referencesPath, entry: index)
      referencesById[id, default: []].append(try stringField(entry, "caption", file: referencesPath, entry: index))
    }
    var input = CaptionEvaluationInput(imageIds: [], candidates: [], references: [])
    var seen = Set<String>()
    for (index, entry) in results.enumerated() {
      let id = try idField(entry, "image_id", file: candidatesPath, entry: index)
      guard seen.insert(id).inserted else { throw MetricsFileError.duplicate(file: candidatesPath, entry: index, id: id) }
      guard let refs = referencesById[id] else {
        throw MetricsFileError.missing(file: candidatesPath, entry: index, id: id, otherFile: referencesPath,
                                       what: "reference captions")
      }
      input.imageIds.append(id)
      input.candidates.append(try stringField(entry, "caption", file: candidatesPath, entry: index))
      input.references.append(refs)
    }
    return input
  }
}

/// VQA predictions joined with their annotations.
public struct VQAEvaluationInput: Sendable, Equatable {
  /// Question ids, in evaluation order.
  public var questionIds: [String]
  /// The items to score, in the same order.
  public var items: [VQAItem]

  /// Loads VQAv2 results (`[{"question_id": .., "answer": ..}]`) and annotations
  /// (`{"annotations": [{"question_id": .., "answers": [{"answer": ..}], "answer_type": .., "question_type": ..}]}`).
  /// With a questions file (`{"questions": [{"question_id": ..}]}`), exactly its questions are evaluated and each
  /// needs a prediction (as the official evaluation requires); otherwise the predicted questions are.
  public static func load(predictions predictionsPath: String, annotations annotationsPath: String,
                          questions questionsPath: String? = nil) throws -> Self {
    let results = try entries(try readJSON(predictionsPath), file: predictionsPath, key: nil)
    let annotations = try entries(try readJSON(annotationsPath), file: annotationsPath, key: "annotations")
    var annotationById: [String: VQAItem] = [:]
    for (index, entry) in annotations.enumerated() {
      let id = try idField(entry, "question_id", file: annotationsPath, entry: index)
      guard let answerList = entry["answers"] as? [Any] else {
        throw MetricsFileError.badEntry(file: annotationsPath, entry: index, reason: "\"answers\" must be a list")
      }
      let answers = try answerList.enumerated().map { position, answer -> String in
        guard let object = answer as? [String: Any], let text = object["answer"] as? String else {
          throw MetricsFileError.badEntry(file: annotationsPath, entry: index,
                                          reason: "answers[\(position)] must be an object with a string \"answer\"")
        }
        return text
      }
      annotationById[id] = VQAItem(prediction: "", answers: answers, answerType: entry["answer_type"] as? String,
                                   questionType: entry["question_type"] as? String)
    }
    var predictionById: [String: (answer: String, entry: Int)] = [:]
    var order: [String] = []
    for (index, entry) in results.enumerated() {
      let id = try idField(entry, "question_id", file: predictionsPath, entry: index)
      guard predictionById[id] == nil else { throw MetricsFileError.duplicate(file: predictionsPath, entry: index, id: id) }
      predictionById[id] = (try stringField(entry, "answer", file: predictionsPath, entry: index), index)
      order.append(id)
    }
    if let questionsPath {
      let questions = try entries(try readJSON(questionsPath), file: questionsPath, key: "questions")
      order = try questions.enumerated().map { try idField($1, "question_id", file: questionsPath, entry: $0) }
      for (index, id) in order.enumerated() where predictionById[id] == nil {
        throw MetricsFileError.missing(file: questionsPath, entry: index, id: id, otherFile: predictionsPath,
                                       what: "prediction")
      }
    }
    var input = VQAEvaluationInput(questionIds: [], items: [])
    for (position, id) in order.enumerated() {
      guard var item = annotationById[id] else {
        let file = questionsPath ?? predictionsPath
        let entry = questionsPath == nil ? (predictionById[id]?.entry ?? position) : position
        throw MetricsFileError.missing(file: file, entry: entry, id: id, otherFile: annotationsPath, what: "annotation")
      }
      item.prediction = predictionById[id]?.answer ?? ""
      input.questionIds.append(id)
      input.items.append(item)
    }
    return input
  }
}

// MARK: - JSON helpers

private func readJSON(_ path: String) throws -> Any {
  let data: Data
  do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
    throw MetricsFileError.unreadable(file: path, reason: error.localizedDescription)
  }
  do { return try JSONSerialization.jsonObject(with: data) } catch {
    throw MetricsFileError.malformed(file: path, reason: "not valid JSON (\(error.localizedDescription))")
  }
}

/// The list of objects at the top level (`key` nil) or under `key`.
private func entries(_ json: Any, file: String, key: String?) throws -> [[String: Any]] {
  let list: Any?
  if let key {
    guard let object = json as? [String: Any] else {
      throw MetricsFileError.malformed(file: file, reason: "expected an object with a \"\(key)\" list")
    }
    list = object[key]
    guard list != nil else { throw MetricsFileError.malformed(file: file, reason: "no \"\(key)\" list") }
  } else {
    list = json
  }
  guard let array = list as? [Any] else {
    let reason = key.map { "\"\($0)\" must be a list" } ?? "expected a list of objects"
    throw MetricsFileError.malformed(file: file, reason: reason)
  }
  return try array.enumerated().map { index, element in
    guard let object = element as? [String: Any] else {
      throw MetricsFileError.badEntry(file: file, entry: index, reason: "must be an object")
    }
    return object
  }
}

/// An integer or string id, as text ("42").
private func idField(_ entry: [String: Any], _ key: String, file: String, entry index: Int) throws -> String {
  if let text = entry[key] as? String { return text }
  // JSON booleans arrive as an NSNumber subclass (and 0 and 1 cast to Bool), so test the class, not `is Bool`.
  if let number = entry[key] as? NSNumber, type(of: number) == NSNumber.self {
    let value = number.doubleValue
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
  }
  throw MetricsFileError.badEntry(file: file, entry: index, reason: "\"\(key)\" must be an integer or a string")
}

private func stringField(_ entry: [String: Any], _ key: String, file: String, entry index: Int) throws -> String {
  guard let text = entry[key] as? String else {
    throw MetricsFileError.badEntry(file: file, entry: index, reason: "\"\(key)\" must be a string")
  }
  return text
}
