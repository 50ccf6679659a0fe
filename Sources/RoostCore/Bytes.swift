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
