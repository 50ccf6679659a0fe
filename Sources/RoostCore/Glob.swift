/// Glob-style pattern matching with the exact semantics of Redis's `stringmatchlen` (Redis 7.0, `util.c`), as used
/// by `KEYS`, `SCAN … MATCH`, `CONFIG GET`, `PSUBSCRIBE` and `CLIENT KILL`.
///
/// Patterns are byte strings:
/// - `*` matches any run of bytes, `?` matches exactly one byte;
/// - `[abc]` matches one of the listed bytes, `[^abc]` one byte not listed, `[a-z]` a range (a reversed range such
///   as `[z-a]` is the same range); `\` inside brackets takes the next byte literally;
/// - `\x` matches `x` literally; a `\` at the very end of the pattern matches a `\`.
///
/// Redis's quirks are kept on purpose, because clients and tests depend on them:
/// - An empty string matches only the empty pattern: `*` does **not** match `""`. (Redis's `KEYS *` and `SCAN`
///   special-case the pattern `*` before matching; callers that want that must do the same.)
/// - A `]` right after `[` or `[^` closes the class: `[]` matches nothing and `[^]` matches any byte.
/// - An unterminated class (`[abc` with no `]`) runs to the end of the pattern.
/// - In a class, `[a-]` is the range from `a` to `]`, and the class goes on to the next `]`.
/// - With `caseInsensitive`, ASCII letters fold with C's `tolower` (no Unicode folding); the ends of a range are
///   ordered *before* folding (as Redis does), and a `\`-escaped byte inside brackets compares case-sensitively.
/// - Like Redis ≥ 7.0.15 (the fix for CVE-2024-31228), a pattern that needs more than 1000 nested `*` matches never
///   matches: the 1001st run of `*` that is not at the end of the pattern fails the match.
///
/// Cost: Redis recurses at each `*` and prunes with a "skip longer matches" flag. Every token other than `*` consumes
/// exactly one byte, so only the most recent `*` ever needs to be retried; this implementation therefore keeps one
/// backtrack point and runs in O(pattern × string) time in the worst case with no recursion and no allocation.
public enum Glob {
    /// The number of nested `*` runs Redis follows before giving up (`stringmatchlen_impl`'s nesting limit).
    static let nestingLimit = 1000

    /// Whether `string` matches the glob `pattern` (Redis `stringmatchlen` semantics; see ``Glob``).
    ///
    /// - Parameters:
    ///   - pattern: The glob pattern bytes.
    ///   - string: The bytes to test.
    ///   - caseInsensitive: Fold ASCII letters as C's `tolower` does (Redis's `nocase`).
    /// - Returns: `true` if the whole of `string` matches the whole of `pattern`.
    public static func matches(
        pattern: UnsafeRawBufferPointer,
        _ string: UnsafeRawBufferPointer,
        caseInsensitive: Bool = false
    ) -> Bool {
        matchBytes(pattern: pattern, string: string, caseInsensitive: caseInsensitive)
    }

    /// Whether `string` matches the glob `pattern` (Redis `stringmatchlen` semantics; see ``Glob``).
    ///
    /// Works on any byte collection (`[UInt8]`, `ArraySlice<UInt8>`, `String.UTF8View`, NIO's `ByteBufferView`)
    /// without allocating: contiguous storage is used in place, other collections are copied to a temporary buffer
    /// (on the stack when small).
    ///
    /// - Parameters:
    ///   - pattern: The glob pattern bytes.
    ///   - string: The bytes to test.
    ///   - caseInsensitive: Fold ASCII letters as C's `tolower` does (Redis's `nocase`).
    /// - Returns: `true` if the whole of `string` matches the whole of `pattern`.
    @inlinable
    public static func matches(
        pattern: some Collection<UInt8>,
        _ string: some Collection<UInt8>,
        caseInsensitive: Bool = false
    ) -> Bool {
        withBytes(of: pattern) { patternBytes in
            withBytes(of: string) { stringBytes in
                matches(pattern: patternBytes, stringBytes, caseInsensitive: caseInsensitive)
            }
        }
    }

    /// Whether the UTF-8 bytes of `string` match the glob `pattern` (Redis `stringmatchlen` semantics; see ``Glob``).
    ///
    /// - Parameters:
    ///   - pattern: The glob pattern; its UTF-8 bytes are matched.
    ///   - string: The text to test; its UTF-8 bytes are matched.
    ///   - caseInsensitive: Fold ASCII letters as C's `tolower` does (Redis's `nocase`).
    /// - Returns: `true` if the whole of `string` matches the whole of `pattern`.
    @inlinable
    public static func matches(pattern: String, _ string: String, caseInsensitive: Bool = false) -> Bool {
        matches(pattern: pattern.utf8, string.utf8, caseInsensitive: caseInsensitive)
    }

    /// Calls `body` with the bytes of `collection`, in place when the storage is contiguous.
    @inlinable
    static func withBytes<Result>(
        of collection: some Collection<UInt8>,
        _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        if let result = collection.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: collection.count) { buffer in
            // UInt8 is trivial: the temporary buffer needs no deinitialisation.
            let (_, end) = buffer.initialize(from: collection)
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<end])))
        }
    }
}

extension Glob {
    private static let star = UInt8(ascii: "*")
    private static let question = UInt8(ascii: "?")
    private static let openBracket = UInt8(ascii: "[")
    private static let closeBracket = UInt8(ascii: "]")
    private static let caret = UInt8(ascii: "^")
    private static let dash = UInt8(ascii: "-")
    private static let backslash = UInt8(ascii: "\\")

    /// The matcher: one pass with a single backtrack point (the last `*`), equivalent to Redis's recursion.
    private static func matchBytes(
        pattern: UnsafeRawBufferPointer,
        string: UnsafeRawBufferPointer,
        caseInsensitive: Bool
    ) -> Bool {
        // Redis's loop never runs for an empty string, so only an empty pattern matches it.
        if string.isEmpty { return pattern.isEmpty }
        var p = 0
        var s = 0
        var starGroups = 0
        var retryPattern = -1  // pattern index just after the last run of `*`
        var retryString = 0  // where the bytes absorbed by that `*` end
        while true {
            if s == string.count {
                while p < pattern.count && pattern[p] == star { p += 1 }
                return p == pattern.count
            }
            if p < pattern.count && pattern[p] == star {
                while p < pattern.count && pattern[p] == star { p += 1 }
                if p == pattern.count { return true }
                starGroups += 1
                if starGroups > nestingLimit { return false }
                retryPattern = p
                retryString = s
                continue
            }
            if p < pattern.count {
                let (matched, next) = matchToken(pattern, at: p, byte: string[s], caseInsensitive: caseInsensitive)
                if matched {
                    p = next
                    s += 1
                    continue
                }
            }
            // Mismatch, or the pattern ended before the string: let the last `*` absorb one more byte.
            guard retryPattern >= 0 else { return false }
            retryString += 1
            s = retryString
            p = retryPattern
        }
    }

    /// Matches the single-byte token at `pattern[index]` (not `*`) against `byte`.
    /// - Returns: whether it matched and the index of the next token.
    private static func matchToken(
        _ pattern: UnsafeRawBufferPointer,
        at index: Int,
        byte: UInt8,
        caseInsensitive: Bool
    ) -> (matched: Bool, next: Int) {
        switch pattern[index] {
        case question:
            return (true, index + 1)
        case openBracket:
            return matchClass(pattern, openingAt: index, byte: byte, caseInsensitive: caseInsensitive)
        case backslash where index + 1 < pattern.count:
            return (equal(pattern[index + 1], byte, caseInsensitive), index + 2)
        default:
            return (equal(pattern[index], byte, caseInsensitive), index + 1)
        }
    }

    /// Matches a bracket class starting at `pattern[open] == "["`, mirroring Redis's loop step by step.
    private static func matchClass(
        _ pattern: UnsafeRawBufferPointer,
        openingAt open: Int,
        byte: UInt8,
        caseInsensitive: Bool
    ) -> (matched: Bool, next: Int) {
        var i = open + 1
        let negated = i < pattern.count && pattern[i] == caret
        if negated { i += 1 }
        var matched = false
        while true {
            let remaining = pattern.count - i
            if remaining >= 2 && pattern[i] == backslash {
                i += 1
                if pattern[i] == byte { matched = true }  // Redis compares escaped bytes case-sensitively.
            } else if remaining > 0 && pattern[i] == closeBracket {
                break
            } else if remaining == 0 {
                // Unterminated class: Redis steps back onto the last byte; the step below ends the pattern.
                i -= 1
                break
            } else if remaining >= 3 && pattern[i + 1] == dash {
                var start = pattern[i]
                var end = pattern[i + 2]
                var c = byte
                if start > end { swap(&start, &end) }
                if caseInsensitive {
                    start = lowercased(start)
                    end = lowercased(end)
                    c = lowercased(c)
                }
                i += 2
                if c >= start && c <= end { matched = true }
            } else if equal(pattern[i], byte, caseInsensitive) {
                matched = true
            }
            i += 1
        }
        return (matched != negated, i + 1)
    }

    private static func equal(_ a: UInt8, _ b: UInt8, _ caseInsensitive: Bool) -> Bool {
        caseInsensitive ? lowercased(a) == lowercased(b) : a == b
    }

    /// C's `tolower` in the "C" locale, which is what Redis runs with for character classes.
    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
