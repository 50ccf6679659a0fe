import RoostProtocol

/// Splits one config line into words exactly as Redis's `sdssplitargs` does, which is also how Redis splits inline
/// commands: the work is ``RESPInlineSplitter``'s.
enum ConfigLineSplitter {
    /// Returns the words of `line`, or `nil` if a quote is unbalanced or a closing quote is followed by a character.
    static func split(_ line: String) -> [String]? {
        let words = Array(line.utf8).withUnsafeBytes { RESPInlineSplitter.split($0) }
        return words?.map { String(decoding: $0, as: UTF8.self) }
    }
}
