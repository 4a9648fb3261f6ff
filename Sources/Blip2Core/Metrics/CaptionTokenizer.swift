// The caption tokenization of coco-caption (pycocoevalcap), for plain English captions without Java.
//
// pycocoevalcap runs Stanford CoreNLP 3.4.1's PTBTokenizer (`-preserveLines -lowerCase`) and then drops the
// tokens '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ; (uppercase brackets: after -lowerCase the
// brackets come out as -lrb- etc. and are therefore *kept*). This file reproduces that for ordinary captions:
// lowercase; split on whitespace; split off leading and trailing punctuation, quotes and brackets, `$` in
// front and `%` behind; split the clitics 's 're 've 'll 'd 'm n't; keep hyphenated words, numbers such as 3.5,
// 1,000 and 10:30, and dotted abbreviations such as e.g. whole; then drop the same punctuation tokens.
//
// Differences from CoreNLP (rare in captions): it does not know abbreviations without inner dots (PTB keeps
// "mr." with its period, this splits it off and drops it), does not split symbols inside words ("a+b"), does
// not tokenize URLs or emoticons specially. As PTB does, a run such as "?!" stays one token and so is kept.
// Checked against CoreNLP on the captions in Tests/ShapesTests/Fixtures/metrics.json.

/// Tokenization equivalent to pycocoevalcap's PTBTokenizer followed by its punctuation removal.
public enum CaptionTokenizer {
  /// The tokens pycocoevalcap removes after tokenizing.
  static let removed: Set<String> = ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",",
                                     ":", "-", "--", "...", ";"]
  private static let brackets: [Character: String] = [
    "(": "-lrb-", ")": "-rrb-", "{": "-lcb-", "}": "-rcb-", "[": "-lsb-", "]": "-rsb-",
  ]
  private static let clitics = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]
  private static let trailing: Set<Character> = [".", ",", "!", "?", ";", ":", "\"", "'", ")", "]", "}", "%"]
  private static let leading: Set<Character> = ["\"", "'", "`", "(", "[", "{", "$"]

  /// `caption` tokenized and joined with single spaces, as pycocoevalcap hands it to the scorers.
  public static func tokenize(_ caption: String) -> String {
    tokens(caption).joined(separator: " ")
  }

  /// The kept tokens of `caption`.
  public static func tokens(_ caption: String) -> [String] {
    var out: [String] = []
    for chunk in caption.lowercased().split(whereSeparator: { $0.isWhitespace }) {
      out += chunkTokens(String(chunk))
    }
    return out.filter { !removed.contains($0) }
  }

  private static func chunkTokens(_ chunk: String) -> [String] {
    var word = Substring(chunk)
    var front: [String] = []
    var back: [String] = []
    // Leading marks: quotes become `` or `, brackets -lrb- ..., $ stays.
    // (A detached clitic such as "'s" in "cat 's" is a token of its own, not a quote.)
    while let first = word.first, leading.contains(first), word.count > 1 || first == "$",
      !(first == "'" && clitics.contains(String(word))) {
      word = word.dropFirst()
      front.append(brackets[first] ?? (first == "\"" ? "``" : (first == "'" ? "`" : String(first))))
      if word.isEmpty { break }
    }
    // Trailing marks, right to left; "..." and runs like "?!" stay whole.
    while let last = word.last, trailing.contains(last) {
      if word.hasSuffix("...") { back.insert("...", at: 0); word = word.dropLast(3); continue }
      if last == "?" || last == "!" {
        var run = 0
        for character in word.reversed() { if character == "?" || character == "!" { run += 1 } else { break } }
        back.insert(String(word.suffix(run)), at: 0)
        word = word.dropLast(run)
        continue
      }
      // A period closing a dotted abbreviation (e.g.) stays with it.
      if last == ".", word.dropLast().contains("."), word.dropLast().last?.isLetter == true,
        word.allSatisfy({ $0.isLetter || $0 == "." }) {
        break
      }
      word = word.dropLast()
      back.insert(brackets[last] ?? (last == "\"" ? "''" : String(last)), at: 0)
    }
    var middle: [String] = []
    if !word.isEmpty {
      let text = String(word)
      if let clitic = clitics.first(where: { text.hasSuffix($0) && text.count > $0.count }) {
        middle = [String(text.dropLast(clitic.count)), clitic]
      } else if text.hasSuffix("'") && text.count > 1 {
        middle = [String(text.dropLast()), "'"]
      } else {
        middle = [text]
      }
    }
    return front + middle + back
  }
}
