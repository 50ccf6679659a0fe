/// A list value: a sequence of byte strings with O(1) push and pop at both ends and O(1) access by index.
///
/// ## Layout
/// A ring buffer: ``storage`` has a power-of-two capacity (or none), the first element sits at ``head`` and the
/// list wraps around the end of the array. Each element is its own heap array of bytes (an empty element holds no
/// heap block). Growing doubles the ring; a ring less than a quarter full after a removal halves it, so a list that
/// was long once does not keep its memory.
///
/// `OBJECT ENCODING` answers `quicklist` for every list, as Redis 7.0 does (7.2 added a `listpack` encoding for
/// small lists; the reference server is 7.0).
///
/// ## Memory
/// ``footprint`` estimates the heap held: the ring's array and each element's array, sized as glibc sizes a Swift
/// array (32-byte header plus capacity, rounded to 16 bytes with malloc's overhead).
public struct ListValue: Sendable, Hashable {
    /// The ring; slots outside the live range hold empty arrays.
    private var storage: [[UInt8]] = []
    /// Position of the first element in ``storage``.
    private var head = 0
    /// Number of elements.
    public private(set) var count = 0
    /// Bytes of all elements.
    public private(set) var payloadCount = 0
    /// Heap bytes of the elements' arrays.
    private var elementFootprint = 0
    /// Counts every change (for callers that must know whether anything changed).
    public private(set) var changeCount: UInt64 = 0

    /// An empty list.
    public init() {}

    /// A list holding `elements` in order.
    public init<S: Sequence>(_ elements: S) where S.Element == [UInt8] {
        for element in elements { append(element) }
    }

    /// Whether there is no element.
    @inlinable public var isEmpty: Bool { count == 0 }

    /// The encoding name `OBJECT ENCODING` reports.
    public var encodingName: String { "quicklist" }

    /// Estimated heap bytes the value holds (see the type's notes).
    public var footprint: Int {
        let ring = storage.capacity == 0 ? 0 : ListValue.heapFootprint(storage.capacity * MemoryLayout<[UInt8]>.stride)
        return ring + elementFootprint
    }

    /// A heap array of `bytes` bytes as glibc sizes it (0 for none).
    static func heapFootprint(_ bytes: Int) -> Int {
        HashValue.heapFootprint(elementBytes: bytes)
    }

    private static func elementFootprint(_ element: [UInt8]) -> Int {
        element.capacity == 0 ? 0 : heapFootprint(element.capacity)
    }

    @inline(__always) private func slot(_ index: Int) -> Int { (head + index) & (storage.count - 1) }

    /// The element at `index` (0-based from the head; must be in range).
    public subscript(index: Int) -> [UInt8] {
        get {
            precondition(index >= 0 && index < count, "list index \(index) out of range 0..<\(count)")
            return storage[slot(index)]
        }
        set {
            precondition(index >= 0 && index < count, "list index \(index) out of range 0..<\(count)")
            let position = slot(index)
            let old = storage[position]
            account(removing: old)
            account(adding: newValue)
            storage[position] = newValue
            changeCount &+= 1
        }
    }

    /// The elements in order.
    public var elements: [[UInt8]] { (0..<count).map { self[$0] } }

    /// Calls `body` with each element in `range` (positions from the head), in order.
    public func forEach(in range: Range<Int>, _ body: ([UInt8]) -> Void) {
        for index in range { body(storage[slot(index)]) }
    }

    // MARK: Ends

    /// Adds `element` at the tail.
    public mutating func append(_ element: [UInt8]) {
        growIfFull()
        storage[slot(count)] = element
        count += 1
        account(adding: element)
        changeCount &+= 1
    }

    /// Adds `element` at the head.
    public mutating func prepend(_ element: [UInt8]) {
        growIfFull()
        head = (head - 1) & (storage.count - 1)
        storage[head] = element
        count += 1
        account(adding: element)
        changeCount &+= 1
    }

    /// Removes and returns the head element (nil when empty).
    public mutating func popFirst() -> [UInt8]? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = []
        head = (head + 1) & (storage.count - 1)
        count -= 1
        account(removing: element)
        changeCount &+= 1
        shrinkIfSparse()
        return element
    }

    /// Removes and returns the tail element (nil when empty).
    public mutating func popLast() -> [UInt8]? {
        guard count > 0 else { return nil }
        let position = slot(count - 1)
        let element = storage[position]
        storage[position] = []
        count -= 1
        account(removing: element)
        changeCount &+= 1
        shrinkIfSparse()
        return element
    }

    // MARK: Middle

    /// Inserts `element` before position `index` (`count` appends), moving the shorter side. O(min(index, count -
    /// index)).
    public mutating func insert(_ element: [UInt8], at index: Int) {
        precondition(index >= 0 && index <= count, "list insert position \(index) out of range 0...\(count)")
        if index == count { return append(element) }
        if index == 0 { return prepend(element) }
        growIfFull()
        if index < count / 2 {
            head = (head - 1) & (storage.count - 1)
            for position in 0..<index { storage[slot(position)] = storage[slot(position + 1)] }
        } else {
            var position = count
            while position > index {
                storage[slot(position)] = storage[slot(position - 1)]
                position -= 1
            }
        }
        storage[slot(index)] = element
        count += 1
        account(adding: element)
        changeCount &+= 1
    }

    /// Keeps only the elements whose positions satisfy `keep` (in order); returns how many were removed. O(n).
    @discardableResult
    public mutating func removeAll(where remove: (Int, [UInt8]) -> Bool) -> Int {
        var kept = 0
        for position in 0..<count {
            let element = storage[slot(position)]
            if remove(position, element) {
                account(removing: element)
            } else {
                storage[slot(kept)] = element
                kept += 1
            }
        }
        let removed = count - kept
        guard removed > 0 else { return 0 }
        for position in kept..<count { storage[slot(position)] = [] }
        count = kept
        changeCount &+= 1
        shrinkIfSparse()
        return removed
    }

    /// Keeps only positions `range` (`LTRIM`).
    public mutating func trim(to range: Range<Int>) {
        removeAll { position, _ in !range.contains(position) }
    }

    // MARK: Capacity and accounting

    private mutating func growIfFull() {
        guard count == storage.count else { return }
        resize(to: Swift.max(4, storage.count * 2))
    }

    private mutating func shrinkIfSparse() {
        if count == 0 {
            storage = []
            head = 0
        } else if storage.count > 8 && count * 4 <= storage.count {
            resize(to: storage.count / 2)
        }
    }

    private mutating func resize(to capacity: Int) {
        var new: [[UInt8]] = []
        new.reserveCapacity(capacity)
        for position in 0..<count { new.append(storage[slot(position)]) }
        while new.count < capacity { new.append([]) }
        storage = new
        head = 0
    }

    private mutating func account(adding element: [UInt8]) {
        payloadCount += element.count
        elementFootprint += ListValue.elementFootprint(element)
    }

    private mutating func account(removing element: [UInt8]) {
        payloadCount -= element.count
        elementFootprint -= ListValue.elementFootprint(element)
    }

    public static func == (lhs: ListValue, rhs: ListValue) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(count) }
}
