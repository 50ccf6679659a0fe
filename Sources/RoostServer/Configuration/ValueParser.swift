/// Parsers for directive values, following Redis 7's functions (`yesnotoi`, `string2ll`, `memtoull`,
/// `configEnumGetValue`) and error texts (`config.c`) so that messages match what Redis users know.
enum ValueParser {
    typealias ValueError = ConfigurationDirective.ValueError

    /// `yes` or `no`, any case.
    static func boolean(_ text: String) throws(ValueError) -> Bool {
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw ValueError(reason: "argument must be 'yes' or 'no'")
        }
    }

    /// A decimal integer in Redis's strict `string2ll` syntax (no `+`, no leading zeros, no spaces), within `range`.
    static func integer(_ text: String, in range: ClosedRange<Int>) throws(ValueError) -> Int {
        guard let value = strictInteger(text) else {
            throw ValueError(reason: "argument couldn't be parsed into an integer")
        }
        return try bounded(value, range)
    }

    /// A byte size as Redis's `memtoull` reads it: digits, then optionally `b`, `k` (1000), `kb` (1024), `m`,
    /// `mb`, `g` or `gb`, any case; within `range`.
    static func memory(_ text: String, in range: ClosedRange<Int>) throws(ValueError) -> Int {
        let notMemory = ValueError(reason: "argument must be a memory value")
        let utf8 = Array(text.utf8)
        let digitCount = utf8.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
        guard digitCount > 0 else { throw notMemory }
        let multiplier: UInt64
        switch String(decoding: utf8[digitCount...], as: UTF8.self).lowercased() {
        case "", "b": multiplier = 1
        case "k": multiplier = 1000
        case "kb": multiplier = 1024
        case "m": multiplier = 1000 * 1000
        case "mb": multiplier = 1024 * 1024
        case "g": multiplier = 1000 * 1000 * 1000
        case "gb": multiplier = 1024 * 1024 * 1024
        default: throw notMemory
        }
        guard let number = UInt64(String(decoding: utf8[..<digitCount], as: UTF8.self)) else { throw notMemory }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw notMemory }
        // Redis stores these in signed fields too: sizes past Int.max fail the bounds check, as they do there.
        guard bytes <= UInt64(Int.max) else { throw rangeError(range) }
        return try bounded(Int(bytes), range)
    }

    /// One of `choices`, any case; returns the canonical spelling.
    static func choice(_ text: String, among choices: [String]) throws(ValueError) -> String {
        let lowered = text.lowercased()
        guard let match = choices.first(where: { $0 == lowered }) else {
            throw ValueError(reason: "argument(s) must be one of the following: " + choices.joined(separator: ", "))
        }
        return match
    }

    /// Redis's `save` parameters: pairs of seconds (≥ 1) and changes (≥ 0); no words means no snapshots.
    /// Returns the normalised pairs.
    static func savePoints(_ words: [String]) throws(ValueError) -> [String] {
        let invalid = ValueError(reason: "Invalid save parameters")
        guard words.count.isMultiple(of: 2) else { throw invalid }
        var normalised: [String] = []
        for (index, word) in words.enumerated() {
            // Redis uses strtoll here (leading blanks and a sign allowed, the whole word must be consumed).
            guard let value = lenientInteger(word), value >= (index.isMultiple(of: 2) ? 1 : 0) else { throw invalid }
            normalised.append(String(value))
        }
        return normalised
    }

    private static func bounded(_ value: Int, _ range: ClosedRange<Int>) throws(ValueError) -> Int {
        guard range.contains(value) else { throw rangeError(range) }
        return value
    }

    private static func rangeError(_ range: ClosedRange<Int>) -> ValueError {
        ValueError(reason: "argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
    }

    /// Redis's `string2ll`: `0`, or an optional `-` then a non-zero digit and more digits, fitting in 64 bits.
    static func strictInteger(_ text: String) -> Int? {
        let utf8 = text.utf8
        if utf8.elementsEqual("0".utf8) { return 0 }
        let digits = utf8.first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        guard let first = digits.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"),
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(text)
    }

    /// C's `strtoll` on a whole word: optional leading white space, optional sign, at least one digit.
    private static func lenientInteger(_ text: String) -> Int? {
        let trimmed = text.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" }
        guard !trimmed.isEmpty else { return text.isEmpty ? 0 : nil }
        return Int(trimmed)
    }
}
