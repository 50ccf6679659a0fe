#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Compares `count` bytes at two addresses (memcmp; the standard library has no vectorised equivalent).
@inline(__always)
func bytesEqual(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, _ count: Int) -> Bool {
    memcmp(lhs, rhs, count) == 0
}

extension UInt64 {
    /// The value with its bit order reversed (bit 0 becomes bit 63), for reverse-binary cursor iteration.
    @inlinable var bitReversed: UInt64 {
        var v = self
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return v.byteSwapped
    }
}
