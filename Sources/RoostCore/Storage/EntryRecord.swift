/// One key's storage: a single malloc block holding a small header, the expiry (only when the key has one), the key
/// bytes and the value bytes, owned by the keyspace and freed explicitly.
///
/// ## Layout
/// ```
/// narrow (key ≤ 255 bytes, value ≤ 65,535 bytes), 8-byte header:
///   0  flags        UInt8   bits 0–1 string encoding, bit 2 has expiry, bit 3 wide
///   1  key length   UInt8
///   2  value length UInt16
///   4  last access  UInt32  seconds on the keyspace's coarse clock (OBJECT IDLETIME, LRU)
/// wide (anything larger), 24-byte header:
///   0  flags        UInt8   (3 bytes padding)
///   4  last access  UInt32
///   8  key length   UInt64
///  16  value length UInt64
/// then, at the header's end:
///   +0 expire at    Int64   Unix milliseconds, present only when the flags say so (bit 2)
///   then memcached's item metadata, 16 bytes, present only when the flags say so (bit 4): client flags UInt32,
///   status UInt8 (bit 0 stale, bit 1 win token sent, bit 2 lease placeholder), 3 bytes padding, CAS UInt64
///   then the key bytes, then the value bytes.
/// ```
/// A `key:%08d` key with a 32-byte value needs 8 + 12 + 32 = 52 bytes, a 64-byte glibc chunk.
///
/// ## Aggregates
/// A hash (and, later, a list, set or sorted set) sets flag bit 5 (``aggregateFlag``): its value part is 8 bytes, a
/// retained reference (`Unmanaged`, stored unaligned) to the ``AggregateBox`` holding the value, and bits 0–1 give
/// the kind (``AggregateKind``) instead of a string encoding. Bit 6 (``volatileElementsFlag``) marks an aggregate with
/// elements that carry their own time to live (hash fields), which the active expiry looks for. Strings stay inline,
/// and telling them apart is one bit test on the flags byte every access already loads. ``free()`` releases the box.
/// The box's footprint is counted with the block's (``footprint``) from the figure the box last reported to the
/// keyspace (``AggregateBox/accountedFootprint``), so that what is added to the keyspace's total is what is later
/// taken away.
@usableFromInline struct EntryRecord {
    /// The block; 16-byte aligned (malloc), so the expiry field is 8-byte aligned in both header forms.
    @usableFromInline let base: UnsafeMutableRawPointer

    @usableFromInline init(_ base: UnsafeMutableRawPointer) { self.base = base }

    static let encodingMask: UInt8 = 0b0011
    static let hasExpiryFlag: UInt8 = 0b0100
    static let wideFlag: UInt8 = 0b1000
    static let hasItemMetadataFlag: UInt8 = 0b1_0000
    static let aggregateFlag: UInt8 = 0b10_0000
    static let volatileElementsFlag: UInt8 = 0b100_0000
    /// An aggregate's value part: the box reference.
    static let referenceSize = MemoryLayout<UnsafeMutableRawPointer>.size
    static let itemMetadataSize = 16
    static let narrowHeaderSize = 8
    static let wideHeaderSize = 24

    /// Whether a key and value of these sizes need the wide header.
    @inline(__always) static func isWide(keyCount: Int, valueCount: Int) -> Bool {
        keyCount > Int(UInt8.max) || valueCount > Int(UInt16.max)
    }

    /// Bytes a block for this key and value needs.
    @inline(__always) static func size(
        keyCount: Int, valueCount: Int, hasExpiry: Bool, hasItemMetadata: Bool = false
    ) -> Int {
        (isWide(keyCount: keyCount, valueCount: valueCount) ? wideHeaderSize : narrowHeaderSize)
            + (hasExpiry ? 8 : 0) + (hasItemMetadata ? itemMetadataSize : 0) + keyCount + valueCount
    }

    /// Allocates and fills a block. `value` may be empty (then nothing is copied).
    static func make(
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        expireAt: Int64,
        encoding: Entry.StringEncoding,
        lastAccess: UInt32,
        metadata: ItemMetadata? = nil
    ) -> (record: EntryRecord, footprint: Int) {
        let hasExpiry = expireAt != Entry.noExpiry
        let size = size(
            keyCount: key.count, valueCount: value.count, hasExpiry: hasExpiry, hasItemMetadata: metadata != nil)
        let record = EntryRecord(SystemAllocator.allocate(size))
        record.writeHeader(
            keyCount: key.count, valueCount: value.count, expireAt: expireAt, encoding: encoding, metadata: metadata)
        record.lastAccess = lastAccess
        let keyStart = record.keyOffset
        if key.count > 0 { (record.base + keyStart).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 {
            (record.base + keyStart + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count)
        }
        return (record, SystemAllocator.footprint(record.base, requested: size))
    }

    /// Allocates a block for an aggregate whose value part holds `box` (retained here; released by ``free()``).
    static func makeAggregate(
        key: UnsafeRawBufferPointer, box: AggregateBox, expireAt: Int64, lastAccess: UInt32
    ) -> EntryRecord {
        let hasExpiry = expireAt != Entry.noExpiry
        let size = size(keyCount: key.count, valueCount: referenceSize, hasExpiry: hasExpiry)
        let record = EntryRecord(SystemAllocator.allocate(size))
        record.writeHeader(
            keyCount: key.count, valueCount: referenceSize, expireAt: expireAt, encoding: .automatic, metadata: nil)
        var flags = (record.flags & ~encodingMask) | aggregateFlag | (box.kind.rawValue & encodingMask)
        if box.hasVolatileElements { flags |= volatileElementsFlag }
        record.base.storeBytes(of: flags, as: UInt8.self)
        record.lastAccess = lastAccess
        let keyStart = record.keyOffset
        if key.count > 0 { (record.base + keyStart).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        let reference = Unmanaged.passRetained(box).toOpaque()
        (record.base + keyStart + key.count).storeBytes(of: reference, as: UnsafeMutableRawPointer.self)
        return record
    }

    /// Frees the block, releasing an aggregate's box.
    func free() {
        if isAggregate { Unmanaged<AggregateBox>.fromOpaque(boxReference).release() }
        SystemAllocator.free(base)
    }

    /// The bytes the process holds for this block and, for an aggregate, its value (for accounting).
    var footprint: Int {
        isAggregate ? blockFootprint + box.accountedFootprint : blockFootprint
    }

    /// The bytes the process holds for the block alone.
    var blockFootprint: Int {
        SystemAllocator.footprint(
            base,
            requested: Self.size(
                keyCount: keyCount, valueCount: valueCount, hasExpiry: hasExpiry, hasItemMetadata: hasItemMetadata))
    }

    /// Bytes of value payload: the string's, or what an aggregate's box last reported.
    var valuePayloadCount: Int { isAggregate ? box.accountedPayload : valueCount }

    /// Whether the value is an aggregate (one bit test).
    @inline(__always) var isAggregate: Bool { flags & Self.aggregateFlag != 0 }

    /// Whether the aggregate has elements with their own time to live.
    var hasVolatileElements: Bool {
        get { flags & Self.volatileElementsFlag != 0 }
        nonmutating set {
            let flags = newValue ? self.flags | Self.volatileElementsFlag : self.flags & ~Self.volatileElementsFlag
            base.storeBytes(of: flags, as: UInt8.self)
        }
    }

    /// The aggregate's box reference, as stored (unaligned).
    var boxReference: UnsafeMutableRawPointer {
        (base + keyOffset + keyCount).loadUnaligned(as: UnsafeMutableRawPointer.self)
    }

    /// The aggregate's box (valid only when ``isAggregate``).
    var box: AggregateBox { Unmanaged<AggregateBox>.fromOpaque(boxReference).takeUnretainedValue() }

    /// Moves an aggregate's box to a new block with `expireAt` (the box is handed over, not released), freeing this
    /// one; or writes the expiry in place when the block already has an expiry field and `expireAt` is one.
    func replacingAggregateExpiry(_ expireAt: Int64) -> (record: EntryRecord, footprintChange: Int) {
        if hasExpiry && expireAt != Entry.noExpiry {
            base.storeBytes(of: expireAt, toByteOffset: headerSize, as: Int64.self)
            return (self, 0)
        }
        let box = self.box
        let old = blockFootprint
        let made = Self.makeAggregate(key: key, box: box, expireAt: expireAt, lastAccess: lastAccess)
        free()  // releases the reference this block held; `made` holds its own
        return (made, made.blockFootprint - old)
    }

    private func writeHeader(
        keyCount: Int, valueCount: Int, expireAt: Int64, encoding: Entry.StringEncoding, metadata: ItemMetadata?
    ) {
        let wide = Self.isWide(keyCount: keyCount, valueCount: valueCount)
        var flags = encoding.rawValue & Self.encodingMask
        if expireAt != Entry.noExpiry { flags |= Self.hasExpiryFlag }
        if wide { flags |= Self.wideFlag }
        if metadata != nil { flags |= Self.hasItemMetadataFlag }
        base.storeBytes(of: flags, as: UInt8.self)
        if wide {
            base.storeBytes(of: UInt64(keyCount), toByteOffset: 8, as: UInt64.self)
            base.storeBytes(of: UInt64(valueCount), toByteOffset: 16, as: UInt64.self)
        } else {
            base.storeBytes(of: UInt8(keyCount), toByteOffset: 1, as: UInt8.self)
            base.storeBytes(of: UInt16(valueCount), toByteOffset: 2, as: UInt16.self)
        }
        if expireAt != Entry.noExpiry {
            base.storeBytes(
                of: expireAt, toByteOffset: wide ? Self.wideHeaderSize : Self.narrowHeaderSize, as: Int64.self)
        }
        if let metadata { itemMetadata = metadata }
    }

    // MARK: Fields

    @inline(__always) var flags: UInt8 { base.load(as: UInt8.self) }
    @inline(__always) var isWide: Bool { flags & Self.wideFlag != 0 }
    @inline(__always) var hasExpiry: Bool { flags & Self.hasExpiryFlag != 0 }
    @inline(__always) var headerSize: Int { isWide ? Self.wideHeaderSize : Self.narrowHeaderSize }

    @inline(__always) var keyCount: Int {
        isWide ? Int(base.load(fromByteOffset: 8, as: UInt64.self)) : Int(base.load(fromByteOffset: 1, as: UInt8.self))
    }

    @inline(__always) var valueCount: Int {
        isWide
            ? Int(base.load(fromByteOffset: 16, as: UInt64.self)) : Int(base.load(fromByteOffset: 2, as: UInt16.self))
    }

    /// Absolute expiry in Unix milliseconds, or ``Entry/noExpiry``.
    @inline(__always) var expireAt: Int64 {
        hasExpiry ? base.load(fromByteOffset: headerSize, as: Int64.self) : Entry.noExpiry
    }

    @inline(__always) func isExpired(at now: Int64) -> Bool {
        hasExpiry && base.load(fromByteOffset: headerSize, as: Int64.self) <= now
    }

    @inline(__always) var encoding: Entry.StringEncoding {
        Entry.StringEncoding(rawValue: flags & Self.encodingMask) ?? .automatic
    }

    /// Seconds on the keyspace's coarse clock.
    var lastAccess: UInt32 {
        @inline(__always) get { base.load(fromByteOffset: 4, as: UInt32.self) }
        @inline(__always) nonmutating set { base.storeBytes(of: newValue, toByteOffset: 4, as: UInt32.self) }
    }

    @inline(__always) var hasItemMetadata: Bool { flags & Self.hasItemMetadataFlag != 0 }

    /// Offset of the item metadata (valid only when ``hasItemMetadata``).
    @inline(__always) var itemMetadataOffset: Int { headerSize + (hasExpiry ? 8 : 0) }

    @inline(__always) var keyOffset: Int {
        headerSize + (hasExpiry ? 8 : 0) + (hasItemMetadata ? Self.itemMetadataSize : 0)
    }

    /// memcached's metadata, in place; nil when the entry has none (written over RESP). Set only on a block
    /// made with metadata.
    var itemMetadata: ItemMetadata? {
        get {
            guard hasItemMetadata else { return nil }
            let offset = itemMetadataOffset
            let status = base.load(fromByteOffset: offset + 4, as: UInt8.self)
            return ItemMetadata(
                clientFlags: base.load(fromByteOffset: offset, as: UInt32.self),
                cas: base.load(fromByteOffset: offset + 8, as: UInt64.self),
                isStale: status & 1 != 0, winTokenSent: status & 2 != 0, isPlaceholder: status & 4 != 0)
        }
        nonmutating set {
            guard let newValue, hasItemMetadata else { return }
            let offset = itemMetadataOffset
            base.storeBytes(of: newValue.clientFlags, toByteOffset: offset, as: UInt32.self)
            let status: UInt8 =
                (newValue.isStale ? 1 : 0) | (newValue.winTokenSent ? 2 : 0) | (newValue.isPlaceholder ? 4 : 0)
            base.storeBytes(of: status, toByteOffset: offset + 4, as: UInt8.self)
            base.storeBytes(of: newValue.cas, toByteOffset: offset + 8, as: UInt64.self)
        }
    }

    /// The key bytes, in place.
    @inline(__always) var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + keyOffset, count: keyCount)
    }

    /// The value bytes, in place.
    @inline(__always) var value: UnsafeRawBufferPointer {
        let keyEnd = keyOffset + keyCount
        return UnsafeRawBufferPointer(start: base + keyEnd, count: valueCount)
    }

    /// Whether the stored key equals `other`.
    @inline(__always) func keyEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        let count = keyCount
        guard count == other.count else { return false }
        return count == 0 || bytesEqual(base + keyOffset, other.baseAddress!, count)
    }

    /// The stored state as the public ``Entry`` (copies a string; an aggregate's value is shared copy-on-write).
    var entry: Entry {
        if isAggregate {
            var entry = Entry(value: box.value, expireAt: expireAt)
            entry.lastAccess = lastAccess
            return entry
        }
        var entry = Entry(value: .string(Array(value)), expireAt: expireAt, stringEncoding: encoding)
        entry.lastAccess = lastAccess
        return entry
    }

    // MARK: Rewriting

    /// Replaces the value, expiry and encoding, keeping the key: in place when the block keeps its header form and
    /// still fits (without wasting more than half of it), else in a new block (this one is freed). Returns the
    /// record and the change in footprint.
    func replacing(
        value: UnsafeRawBufferPointer,
        expireAt: Int64,
        encoding: Entry.StringEncoding,
        lastAccess: UInt32,
        metadata: ItemMetadata? = nil
    ) -> (record: EntryRecord, footprintChange: Int) {
        let keyCount = self.keyCount
        let hasExpiry = expireAt != Entry.noExpiry
        let needed = Self.size(
            keyCount: keyCount, valueCount: value.count, hasExpiry: hasExpiry, hasItemMetadata: metadata != nil)
        if !isAggregate && hasExpiry == self.hasExpiry && (metadata != nil) == hasItemMetadata
            && Self.isWide(keyCount: keyCount, valueCount: value.count) == isWide
        {
            let usable = SystemAllocator.usableSize(base, requested: needed)
            if needed <= usable && (needed * 2 >= usable || usable <= 64) {
                writeHeader(
                    keyCount: keyCount, valueCount: value.count, expireAt: expireAt, encoding: encoding,
                    metadata: metadata)
                self.lastAccess = lastAccess
                if value.count > 0 {
                    (base + keyOffset + keyCount).copyMemory(from: value.baseAddress!, byteCount: value.count)
                }
                return (self, 0)
            }
        }
        let old = footprint
        let made = Self.make(
            key: key, value: value, expireAt: expireAt, encoding: encoding, lastAccess: lastAccess, metadata: metadata)
        free()
        return (made.record, made.footprint - old)
    }
}
