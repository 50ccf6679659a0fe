/// Splits one config line into words exactly as Redis's `sdssplitargs` does.
///
/// - Words are separated by spaces, tabs, CR or LF.
/// - `"double quotes"` allow `\n`, `\r`, `\t`, `\b`, `\a`, `\xHH` and `\<any>` (the byte itself).
/// - `'single quotes'` are literal except for `\'`.
/// - A closing quote must be followed by white space or the end of the line; quotes may start mid-word (`a"b c"`
///   is the one word `ab c`).
enum ConfigLineSplitter {
    /// Returns the words of `line`, or `nil` if a quote is unbalanced or a closing quote is followed by a character.
    static func split(_ line: String) -> [String]? {
        let bytes = Array(line.utf8)
        var words: [String] = []
        var index = 0
        func byte(at position: Int) -> UInt8 { position < bytes.count ? bytes[position] : 0 }
        while true {
            while index < bytes.count && isSpace(bytes[index]) { index += 1 }
            guard index < bytes.count else { return words }
            var current: [UInt8] = []
            var inDoubleQuotes = false
            var inSingleQuotes = false
            var done = false
            while !done {
                let c = byte(at: index)
                if inDoubleQuotes {
                    if c == UInt8(ascii: "\\") && byte(at: index + 1) == UInt8(ascii: "x"),
                        let high = hexValue(byte(at: index + 2)), let low = hexValue(byte(at: index + 3))
                    {
                        current.append(high * 16 + low)
                        index += 3
                    } else if c == UInt8(ascii: "\\") && byte(at: index + 1) != 0 {
                        index += 1
                        current.append(unescaped(bytes[index]))
                    } else if c == UInt8(ascii: "\"") {
                        let next = byte(at: index + 1)
                        if next != 0 && !isSpace(next) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else if inSingleQuotes {
                    if c == UInt8(ascii: "\\") && byte(at: index + 1) == UInt8(ascii: "'") {
                        index += 1
                        current.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        let next = byte(at: index + 1)
                        if next != 0 && !isSpace(next) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else {
                    switch c {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0:
                        done = true
                    case UInt8(ascii: "\""):
                        inDoubleQuotes = true
                    case UInt8(ascii: "'"):
                        inSingleQuotes = true
                    default:
                        current.append(c)
                    }
                }
                if index < bytes.count { index += 1 }
            }
            words.append(String(decoding: current, as: UTF8.self))
        }
    }

    /// C's `isspace` in the "C" locale.
    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (0x09...0x0D).contains(c)
    }

    private static func unescaped(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return c
        }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
