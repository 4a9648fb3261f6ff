// What a Shapes image holds: one to a few coloured shapes at positions, on a dark background. A scene is drawn
// from a seeded generator, so the same (seed, split, index) always gives the same scene.

import Blip2Core

/// The kinds of shape the dataset draws.
public enum ShapeKind: String, Sendable, CaseIterable, Codable {
  case circle, square, triangle, star, cross
}

/// The named colours the dataset draws, with their RGB values in [0, 1].
public enum ShapeColour: String, Sendable, CaseIterable, Codable {
  case red, green, blue, yellow, purple, orange, white

  /// The nominal RGB value (each drawn shape jitters it slightly).
  public var rgb: (Float, Float, Float) {
    switch self {
    case .red: (0.90, 0.12, 0.10)
    case .green: (0.10, 0.78, 0.20)
    case .blue: (0.15, 0.35, 0.95)
    case .yellow: (0.95, 0.90, 0.12)
    case .purple: (0.62, 0.22, 0.85)
    case .orange: (1.00, 0.55, 0.05)
    case .white: (0.95, 0.95, 0.95)
    }
  }
}

/// Small or large.
public enum ShapeSize: String, Sendable, CaseIterable, Codable {
  case small, large

  /// Radius of the circumscribed circle, as a fraction of the image side.
  var radius: Float { self == .small ? 0.10 : 0.17 }
}

/// A (colour, kind) pair such as "green triangle": the unit the held-out split is defined on.
public struct Combination: Hashable, Sendable, Codable, CustomStringConvertible {
  /// The colour.
  public var colour: ShapeColour
  /// The kind.
  public var kind: ShapeKind

  /// A combination from its parts.
  public init(_ colour: ShapeColour, _ kind: ShapeKind) {
    self.colour = colour
    self.kind = kind
  }

  /// Parses "green triangle".
  public init?(_ text: String) {
    let words = text.lowercased().split(separator: " ").map(String.init)
    guard words.count == 2, let colour = ShapeColour(rawValue: words[0]), let kind = ShapeKind(rawValue: words[1])
    else { return nil }
    self.init(colour, kind)
  }

  /// "green triangle".
  public var description: String { "\(colour.rawValue) \(kind.rawValue)" }

  /// All colour-kind pairs, colours outer.
  public static let all: [Combination] = ShapeColour.allCases.flatMap { colour in
    ShapeKind.allCases.map { Combination(colour, $0) }
  }
}

/// One shape in a scene. Positions are fractions of the image side, x to the right, y downwards.
public struct PlacedShape: Sendable, Equatable {
  /// Its kind.
  public var kind: ShapeKind
  /// Its colour name.
  public var colour: ShapeColour
  /// Its size class.
  public var size: ShapeSize
  /// Centre, x in [0, 1] from the left.
  public var x: Float
  /// Centre, y in [0, 1] from the top.
  public var y: Float
  /// Rotation in radians (squares, stars and crosses only; circles and triangles stay upright).
  public var rotation: Float
  /// The drawn RGB (the nominal colour, slightly jittered).
  public var rgb: (Float, Float, Float)

  /// Its colour-kind combination.
  public var combination: Combination { Combination(colour, kind) }

  public static func == (a: PlacedShape, b: PlacedShape) -> Bool {
    a.kind == b.kind && a.colour == b.colour && a.size == b.size && a.x == b.x && a.y == b.y
      && a.rotation == b.rotation && a.rgb == b.rgb
  }
}

/// How shape `a` lies relative to shape `b`, judged from their centres.
public enum Relation: String, Sendable, CaseIterable {
  case leftOf = "to the left of"
  case rightOf = "to the right of"
  case above = "above"
  case below = "below"

  /// The relation along the axis where the centres differ most (ties go to the horizontal one).
  public static func dominant(_ a: PlacedShape, _ b: PlacedShape) -> Relation {
    let dx = a.x - b.x, dy = a.y - b.y
    if abs(dx) >= abs(dy) { return dx < 0 ? .leftOf : .rightOf }
    return dy < 0 ? .above : .below
  }

  /// Whether the relation holds between the centres of `a` and `b`.
  public func holds(_ a: PlacedShape, _ b: PlacedShape) -> Bool {
    switch self {
    case .leftOf: a.x < b.x
    case .rightOf: a.x > b.x
    case .above: a.y < b.y
    case .below: a.y > b.y
    }
  }

  /// The centre offset along this relation's axis (how clearly it holds or fails).
  func separation(_ a: PlacedShape, _ b: PlacedShape) -> Float {
    self == .leftOf || self == .rightOf ? abs(a.x - b.x) : abs(a.y - b.y)
  }

  /// The words in a yes/no question: "left of", "right of", "above", "below".
  var questionWords: String {
    switch self {
    case .leftOf: "left of"
    case .rightOf: "right of"
    case .above: "above"
    case .below: "below"
    }
  }
}

/// A whole image's content: the background and the shapes (distinct kinds and distinct colours, not touching).
public struct Scene: Sendable, Equatable {
  /// Background RGB (dark).
  public var background: (Float, Float, Float)
  /// The shapes, in drawing order.
  public var shapes: [PlacedShape]

  public static func == (a: Scene, b: Scene) -> Bool { a.background == b.background && a.shapes == b.shapes }

  /// A random scene of 1...`maxShapes` shapes. With `required` set, one shape has that combination; every other
  /// shape's combination is drawn from `allowed` (which must not be empty).
  static func sample(
    _ rng: inout RandomGenerator, maxShapes: Int, allowed: [Combination], required: Combination?
  ) -> Scene {
    let background = (0.02 + 0.20 * rng.nextFloat(), 0.02 + 0.20 * rng.nextFloat(), 0.02 + 0.20 * rng.nextFloat())
    let count = 1 + rng.nextInt(below: maxShapes)
    var combinations: [Combination] = required.map { [$0] } ?? []
    var attempts = 0
    while combinations.count < count && attempts < 64 {
      attempts += 1
      let candidate = allowed[rng.nextInt(below: allowed.count)]
      if combinations.contains(where: { $0.kind == candidate.kind || $0.colour == candidate.colour }) { continue }
      combinations.append(candidate)
    }

    var shapes: [PlacedShape] = []
    for combination in combinations {
      var size: ShapeSize = rng.nextInt(below: 2) == 0 ? .small : .large
      var placed: PlacedShape?
      for attempt in 0..<40 {
        if attempt == 20 { size = .small }  // crowded: a small one fits more easily
        let radius = size.radius, margin: Float = 0.03
        let span = 1 - 2 * (radius + margin)
        let x = radius + margin + span * rng.nextFloat(), y = radius + margin + span * rng.nextFloat()
        let clear = shapes.allSatisfy { other in
          let gap = other.size.radius + radius + 0.03
          return (other.x - x) * (other.x - x) + (other.y - y) * (other.y - y) >= gap * gap
        }
        if clear {
          let (r, g, b) = combination.colour.rgb
          let jitter = { (value: Float, rng: inout RandomGenerator) -> Float in
            min(1, max(0, value + 0.08 * (rng.nextFloat() - 0.5)))
          }
          let rotates = combination.kind == .square || combination.kind == .star || combination.kind == .cross
          let rotation = rotates ? (rng.nextFloat() - 0.5) * 0.6 : 0
          placed = PlacedShape(kind: combination.kind, colour: combination.colour, size: size, x: x, y: y,
                               rotation: rotation, rgb: (jitter(r, &rng), jitter(g, &rng), jitter(b, &rng)))
          break
        }
      }
      if let placed { shapes.append(placed) }
    }
    rng.shuffle(&shapes)  // the required shape was placed first (it always fits); draw it anywhere in the order
    return Scene(background: background, shapes: shapes)
  }
}
