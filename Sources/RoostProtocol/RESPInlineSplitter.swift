/// Splits an inline command line into arguments with the rules of Redis's `sdssplitargs`.
///
/// - Arguments are separated by whitespace (space, tab, CR, LF, VT, FF between arguments; inside an
///   unquoted argument only space, tab, CR and LF end it, so VT and FF stay part of the argument, as in Redis).
/// - `"double quotes"` allow the escapes `\n \r \t \b \a`, `\xHH` (two hex digits) and `\` before any other
///   byte, which stands for that byte.
/// - `'single quotes'` allow only `\'`; any other byte, backslash included, is literal.
/// - A quote may start in the middle of an argument (`a"b c"` is `ab c`), but a closing quote must be followed
///   by whitespace or the end of the line; that, or a missing closing quote, makes the line unbalanced.
///
/// Redis finds the end of an inline line with a C-string search, so a NUL byte makes it wait for more input;
/// here NUL is an ordinary byte.
///
/// The configuration file reader uses it too: redis.conf lines are split by the same function in Redis.
public enum RESPInlineSplitter {
    /// Returns the arguments of `line`, or `nil` when its quotes are unbalanced.
    public static func split(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
        var arguments: [[UInt8]] = []
        var index = 0
        let end = line.count
        while true {
            while index < end && isSpace(line[index]) { index += 1 }
            if index == end { return arguments }
            var current: [UInt8] = []
            var inDoubleQuotes = false
            var inSingleQuotes = false
            argumentLoop: while true {
                if inDoubleQuotes {
                    guard index < end else { return nil }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 3 < end && line[index + 1] == UInt8(ascii: "x"),
                        let high = hexValue(line[index + 2]), let low = hexValue(line[index + 3])
                    {
                        current.append(high << 4 | low)
                        index += 4
                    } else if byte == UInt8(ascii: "\\") && index + 1 < end {
                        current.append(unescaped(line[index + 1]))
                        index += 2
                    } else if byte == UInt8(ascii: "\"") {
                        if index + 1 < end && !isSpace(line[index + 1]) { return nil }
                        index += 1
                        break argumentLoop
                    } else {
                        current.append(byte)
                        index += 1
                    }
                } else if inSingleQuotes {
                    guard index < end else { return nil }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 1 < end && line[index + 1] == UInt8(ascii: "'") {
                        current.append(UInt8(ascii: "'"))
                        index += 2
                    } else if byte == UInt8(ascii: "'") {
                        if index + 1 < end && !isSpace(line[index + 1]) { return nil }
                        index += 1
                        break argumentLoop
                    } else {
                        current.append(byte)
                        index += 1
                    }
                } else {
                    guard index < end else { break argumentLoop }
                    let byte = line[index]
                    switch byte {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                        index += 1
                        break argumentLoop
                    case UInt8(ascii: "\""):
                        inDoubleQuotes = true
                    case UInt8(ascii: "'"):
                        inSingleQuotes = true
                    default:
                        current.append(byte)
                    }
                    index += 1
                }
            }
            arguments.append(current)
        }
    }

    /// C `isspace` in the C locale.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): UInt8(ascii: "\n")
        case UInt8(ascii: "r"): UInt8(ascii: "\r")
        case UInt8(ascii: "t"): UInt8(ascii: "\t")
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "a"): 0x07
        default: byte
        }
    }
}
