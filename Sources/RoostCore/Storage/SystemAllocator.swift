#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The C allocator, as the keyspace uses it: raw blocks it frees explicitly, and the true size of each block so that
/// memory accounting counts what the process holds rather than what was asked for.
///
/// `malloc_usable_size` and `malloc_trim` are glibc extensions that the `Glibc` module does not import (they live in
/// `<malloc.h>`), so they are looked up once with `dlsym`; where they are missing the estimates fall back to the
/// requested size rounded the way glibc rounds.
@usableFromInline enum SystemAllocator {
    /// Bytes malloc keeps next to each block besides its usable size (glibc: the 8-byte size field; the previous
    /// chunk's size field overlaps the usable area).
    @usableFromInline static let blockOverhead = 8

    /// Allocates `size` bytes; traps when the system is out of memory, as Swift's own allocations do.
    @inline(__always) @usableFromInline static func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        guard let block = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        return block
    }

    /// Resizes a block (on glibc a large block is moved with `mremap`, without copying).
    @inline(__always) static func reallocate(_ block: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer
    {
        guard let moved = realloc(block, size) else { fatalError("out of memory allocating \(size) bytes") }
        return moved
    }

    /// Frees a block from ``allocate(_:)`` or ``reallocate(_:_:)``.
    @inline(__always) @usableFromInline static func free(_ block: UnsafeMutableRawPointer?) {
        #if canImport(Glibc)
            Glibc.free(block)
        #elseif canImport(Musl)
            Musl.free(block)
        #elseif canImport(Darwin)
            Darwin.free(block)
        #endif
    }

    /// The bytes the process holds for `block`: its usable size plus malloc's bookkeeping.
    @inline(__always) @usableFromInline static func footprint(_ block: UnsafeMutableRawPointer, requested: Int) -> Int {
        usableSize(block, requested: requested) + blockOverhead
    }

    /// The usable size of `block` (at least `requested`).
    @inline(__always) static func usableSize(_ block: UnsafeMutableRawPointer, requested: Int) -> Int {
        #if canImport(Darwin)
            return malloc_size(block)
        #else
            if let function = mallocUsableSize { return function(block) }
            // glibc's rounding: chunks are multiples of 16 bytes, at least 32, 8 of which are the size field.
            return max(32, (requested + 8 + 15) & ~15) - 8
        #endif
    }

    /// Gives free heap pages back to the system (glibc keeps freed small blocks in its arenas, so after deleting
    /// millions of keys the RSS would otherwise stay high). Costs a walk over the arenas: call after big shrinks only.
    static func returnFreeMemory() {
        #if !canImport(Darwin)
            _ = mallocTrim?(0)
        #endif
    }

    /// Tunes glibc's malloc for a process whose heap is mostly millions of small keyspace blocks: no fast bins
    /// (`M_MXFAST` 0), so that a freed block is coalesced when it is freed, rather than all at once by
    /// `malloc_consolidate` the next time anything frees 64 KiB or asks for a large block: after a million keys
    /// expire, that single walk stalled the server for hundreds of milliseconds (measured with `perf`; see
    /// docs/PERFORMANCE.md, "Expiry reclaim"). Small frees still go through the per-thread cache first.
    static func tuneForManySmallBlocks() {
        #if !canImport(Darwin)
            let fastBinMaximum: Int32 = 1  // M_MXFAST
            _ = mallopt?(fastBinMaximum, 0)
        #endif
    }

    #if !canImport(Darwin)
        private typealias OptionFunction = @convention(c) (Int32, Int32) -> Int32
        private static let mallopt: OptionFunction? = symbol("mallopt")
        private typealias UsableSizeFunction = @convention(c) (UnsafeMutableRawPointer?) -> Int
        private typealias TrimFunction = @convention(c) (Int) -> Int32

        private static let mallocUsableSize: UsableSizeFunction? = symbol("malloc_usable_size")
        private static let mallocTrim: TrimFunction? = symbol("malloc_trim")

        private static func symbol<Function>(_ name: String) -> Function? {
            // RTLD_DEFAULT is the null handle on glibc and musl.
            guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
            return unsafeBitCast(address, to: Function.self)
        }
    #endif
}
