import NIOCore
import RoostCore
import RoostProtocol

/// List commands: `LPUSH`, `LRANGE` and the rest of Redis 7.0's list family (the blocking pops in
/// `ListCommands+Blocking.swift`).
///
/// Each command runs on the keyspace's list in place (``Keyspace/withList(_:now:countingStatistics:wrongType:_:)``),
/// in one critical section, writing its reply while the lock is held. A command that adds elements marks the key
/// ready for clients blocked on it (``BlockingRegistry/signal(_:)``); they are served after the command, outside
/// every lock.
enum ListCommands {
    private static let keyRange = Command.KeyPositions.single
    private static let twoKeys = Command.KeyPositions(first: 1, last: 2, step: 1)

    /// Fresh command objects: each server gets its own, so statistics are per server.
    static var all: [Command] {
        [
            Command(
                "lpush", arity: -3, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
                complexity: "O(1) for each element added.",
                handler: { context throws(CommandError) in try push(&context, left: true, onlyExisting: false) }),
            Command(
                "rpush", arity: -3, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.",
                complexity: "O(1) for each element added.",
                handler: { context throws(CommandError) in try push(&context, left: false, onlyExisting: false) }),
            Command(
                "lpushx", arity: -3, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .list, since: "2.2.0",
                summary: "Prepends one or more elements to a list only when the list exists.",
                complexity: "O(1) for each element added.",
                handler: { context throws(CommandError) in try push(&context, left: true, onlyExisting: true) }),
            Command(
                "rpushx", arity: -3, flags: [.write, .denyOOM, .fast], keys: keyRange, group: .list, since: "2.2.0",
                summary: "Appends an element to a list only when the list exists.",
                complexity: "O(1) for each element added.",
                handler: { context throws(CommandError) in try push(&context, left: false, onlyExisting: true) }),
            Command(
                "lpop", arity: -2, flags: [.write, .fast], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Returns the first elements in a list after removing it. Deletes the list if the last "
                    + "element was popped.",
                complexity: "O(N) where N is the number of elements returned",
                handler: { context throws(CommandError) in try pop(&context, left: true) }),
            Command(
                "rpop", arity: -2, flags: [.write, .fast], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Returns and removes the last elements of a list. Deletes the list if the last element "
                    + "was popped.",
                complexity: "O(N) where N is the number of elements returned",
                handler: { context throws(CommandError) in try pop(&context, left: false) }),
            Command(
                "llen", arity: 2, flags: [.readonly, .fast], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Returns the length of a list.", handler: llen),
            Command(
                "lrange", arity: 4, flags: [.readonly], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Returns a range of elements from a list.",
                complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest "
                    + "end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
                handler: lrange),
            Command(
                "lindex", arity: 3, flags: [.readonly], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Returns an element from a list by its index.", complexity: "O(1)", handler: lindex),
            Command(
                "lset", arity: 4, flags: [.write, .denyOOM], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Sets the value of an element in a list by its index.", complexity: "O(1)", handler: lset),
            Command(
                "linsert", arity: 5, flags: [.write, .denyOOM], keys: keyRange, group: .list, since: "2.2.0",
                summary: "Inserts an element before or after another element in a list.",
                complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot.",
                handler: linsert),
            Command(
                "lrem", arity: 4, flags: [.write], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Removes elements from a list. Deletes the list if the last element was removed.",
                complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.",
                handler: lrem),
            Command(
                "ltrim", arity: 4, flags: [.write], keys: keyRange, group: .list, since: "1.0.0",
                summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
                complexity: "O(N) where N is the number of elements to be removed by the operation.", handler: ltrim),
            Command(
                "lpos", arity: -3, flags: [.readonly], keys: keyRange, group: .list, since: "6.0.6",
                summary: "Returns the index of matching elements in a list.",
                complexity: "O(N) where N is the number of elements in the list, for the average case.",
                handler: lpos),
            Command(
                "lmove", arity: 5, flags: [.write, .denyOOM], keys: twoKeys, group: .list, since: "6.2.0",
                summary: "Returns an element after popping it from one list and pushing it to another. Deletes the "
                    + "list if the last element was moved.",
                complexity: "O(1)", handler: lmove),
            Command(
                "rpoplpush", arity: 3, flags: [.write, .denyOOM], keys: twoKeys, group: .list, since: "1.2.0",
                summary: "Returns the last element of a list after removing and pushing it to another list. Deletes "
                    + "the list if the last element was popped.",
                complexity: "O(1)", handler: rpoplpush),
        ] + blockingCommands + [
            Command(
                "liststate", arity: -4, flags: [.write, .noScript], keys: keyRange, group: .server, since: "roost",
                summary: "Internal: a list's whole state (expiry in ms, 0 for none, then the elements) in the "
                    + "replication stream; refused from clients.",
                handler: listState)
        ]
    }

    // MARK: Push and pop

    /// `LPUSH`/`RPUSH`/`LPUSHX`/`RPUSHX key element [element …]`: the list's length after the push (0 when an `X`
    /// form finds no list).
    static func push(_ context: inout CommandContext, left: Bool, onlyExisting: Bool) throws(CommandError) {
        let arguments = context.arguments
        let length: Int = try context.withList(reading: false) { list, _ throws(CommandError) in
            if list == nil {
                if onlyExisting { return 0 }
                list = ListValue()
            }
            for index in 2..<arguments.count {
                let element = Array(arguments[index].readableBytesView)
                if left { list!.prepend(element) } else { list!.append(element) }
            }
            return list!.count
        }
        if length > 0 { context.server.blocking.signal(context.bytes(1)) }
        context.replyInteger(length)
    }

    /// `LPOP`/`RPOP key [count]`: one element (or null), or with a count an array of up to `count` (null for a
    /// missing key, empty for a count of 0).
    static func pop(_ context: inout CommandContext, left: Bool) throws(CommandError) {
        if context.count > 3 { throw .wrongArity(left ? "lpop" : "rpop") }
        var count: Int? = nil
        if context.count == 3 {
            guard let parsed = try? context.integer(2), parsed >= 0 else {
                throw CommandError("ERR value is out of range, must be positive")
            }
            count = Int(parsed)
        }
        let version = context.respVersion
        try context.withList(reading: false) { list, out throws(CommandError) in
            guard list != nil else {
                if count == nil { out.writeRESPNull(version) } else { out.writeRESPNullArray(version) }
                return
            }
            guard let count else {
                let element = left ? list!.popFirst()! : list!.popLast()!
                out.writeRESPBulkString(element)
                return
            }
            let taken = min(count, list!.count)
            out.writeRESPArrayHeader(taken)
            for _ in 0..<taken { out.writeRESPBulkString(left ? list!.popFirst()! : list!.popLast()!) }
        }
    }

    static func llen(_ context: inout CommandContext) throws(CommandError) {
        let length = try context.withList(reading: true) { list, _ throws(CommandError) in list?.count ?? 0 }
        context.replyInteger(length)
    }

    /// Redis's range normalisation: negative indexes count from the end; nil when the range is empty.
    static func normalisedRange(start: Int64, stop: Int64, count: Int) -> Range<Int>? {
        let length = Int64(count)
        var start = start < 0 ? start + length : start
        var stop = stop < 0 ? stop + length : stop
        if start < 0 { start = 0 }
        guard start <= stop, start < length else { return nil }
        if stop >= length { stop = length - 1 }
        return Int(start)..<Int(stop + 1)
    }

    static func lrange(_ context: inout CommandContext) throws(CommandError) {
        let start = try context.integer(2)
        let stop = try context.integer(3)
        try context.withList(reading: true) { list, out throws(CommandError) in
            guard let list, let range = normalisedRange(start: start, stop: stop, count: list.count) else {
                out.writeRESPArrayHeader(0)
                return
            }
            out.writeRESPArrayHeader(range.count)
            list.forEach(in: range) { out.writeRESPBulkString($0) }
        }
    }

    /// A Redis list index (negative from the end) as a position, or nil when out of range.
    static func position(_ index: Int64, count: Int) -> Int? {
        let position = index < 0 ? index + Int64(count) : index
        return position >= 0 && position < Int64(count) ? Int(position) : nil
    }

    static func lindex(_ context: inout CommandContext) throws(CommandError) {
        let index = try context.integer(2)
        let version = context.respVersion
        try context.withList(reading: true) { list, out throws(CommandError) in
            guard let list, let position = position(index, count: list.count) else {
                out.writeRESPNull(version)
                return
            }
            out.writeRESPBulkString(list[position])
            return
        }
    }

    static func lset(_ context: inout CommandContext) throws(CommandError) {
        let index = try context.integer(2)
        let element = context.bytes(3)
        try context.withList(reading: false) { list, _ throws(CommandError) in
            guard list != nil else { throw CommandError("ERR no such key") }
            guard let position = position(index, count: list!.count) else {
                throw CommandError("ERR index out of range")
            }
            list![position] = element
        }
        context.replyOK()
    }

    /// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 without the pivot, 0 without the key.
    static func linsert(_ context: inout CommandContext) throws(CommandError) {
        let whereArgument = context.string(2).lowercased()
        guard whereArgument == "before" || whereArgument == "after" else { throw .syntax }
        let after = whereArgument == "after"
        let pivot = context.bytes(3)
        let element = context.bytes(4)
        let length: Int = try context.withList(reading: false) { list, _ throws(CommandError) in
            guard list != nil else { return 0 }
            var found: Int? = nil
            for position in 0..<list!.count where list![position] == pivot {
                found = position
                break
            }
            guard let found else { return -1 }
            list!.insert(element, at: after ? found + 1 : found)
            return list!.count
        }
        context.replyInteger(length)
    }

    /// `LREM key count element`: removes the first `count` matches from the head (negative: from the tail; 0: all).
    static func lrem(_ context: inout CommandContext) throws(CommandError) {
        let count = try context.integer(2)
        let element = context.bytes(3)
        let removed: Int = try context.withList(reading: false) { list, _ throws(CommandError) in
            guard list != nil else { return 0 }
            let length = list!.count
            var matches: [Int] = []
            let limit = count == 0 ? Int.max : Int(clamping: count.magnitude)
            let order: [Int] = count < 0 ? Array((0..<length).reversed()) : Array(0..<length)
            for position in order where list![position] == element {
                matches.append(position)
                if matches.count == limit { break }
            }
            guard !matches.isEmpty else { return 0 }
            let doomed = Set(matches)
            return list!.removeAll { position, _ in doomed.contains(position) }
        }
        context.replyInteger(removed)
    }

    static func ltrim(_ context: inout CommandContext) throws(CommandError) {
        let start = try context.integer(2)
        let stop = try context.integer(3)
        try context.withList(reading: false) { list, _ throws(CommandError) in
            guard list != nil else { return }
            list!.trim(to: normalisedRange(start: start, stop: stop, count: list!.count) ?? 0..<0)
        }
        context.replyOK()
    }

    /// `LPOS key element [RANK rank] [COUNT count] [MAXLEN len]`: the position of the `rank`th match (negative
    /// ranks search from the tail), or with `COUNT` an array of up to `count` positions (0: all).
    static func lpos(_ context: inout CommandContext) throws(CommandError) {
        var rank: Int64 = 1
        var count: Int64? = nil
        var maxLength: Int64 = 0
        var index = 3
        while index < context.count {
            let option = context.string(index).lowercased()
            guard index + 1 < context.count, ["rank", "count", "maxlen"].contains(option) else { throw .syntax }
            let value = try context.integer(index + 1)
            switch option {
            case "rank":
                guard value != Int64.min else { throw CommandError("ERR value is out of range") }
                guard value != 0 else {
                    throw CommandError(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
                            + "negative to start from the end of the list")
                }
                rank = value
            case "count":
                guard value >= 0 else { throw CommandError("ERR COUNT can't be negative") }
                count = value
            default:
                guard value >= 0 else { throw CommandError("ERR MAXLEN can't be negative") }
                maxLength = value
            }
            index += 2
        }
        let element = context.bytes(2)
        let version = context.respVersion
        try context.withList(reading: true) { list, out throws(CommandError) in
            guard let list else {
                if count == nil { out.writeRESPNull(version) } else { out.writeRESPArrayHeader(0) }
                return
            }
            let wanted = count.map { $0 == 0 ? Int.max : Int(clamping: $0) } ?? 1
            var skip = Int(clamping: rank.magnitude) - 1
            var found: [Int] = []
            let length = list.count
            let examined = maxLength == 0 ? length : min(length, Int(clamping: maxLength))
            for step in 0..<examined {
                let position = rank > 0 ? step : length - 1 - step
                guard list[position] == element else { continue }
                if skip > 0 {
                    skip -= 1
                    continue
                }
                found.append(position)
                if found.count == wanted { break }
            }
            if count == nil {
                if let first = found.first { out.writeRESPInteger(first) } else { out.writeRESPNull(version) }
            } else {
                out.writeRESPArrayHeader(found.count)
                for position in found { out.writeRESPInteger(position) }
            }
        }
    }

    // MARK: Moving

    /// Parses `LEFT`/`RIGHT`; true for left.
    static func side(_ context: CommandContext, _ index: Int) throws(CommandError) -> Bool {
        switch context.string(index).lowercased() {
        case "left": true
        case "right": false
        default: throw .syntax
        }
    }

    static func lmove(_ context: inout CommandContext) throws(CommandError) {
        let from = try side(context, 3)
        let to = try side(context, 4)
        try move(&context, fromLeft: from, toLeft: to)
    }

    static func rpoplpush(_ context: inout CommandContext) throws(CommandError) {
        try move(&context, fromLeft: false, toLeft: true)
    }

    /// Pops from the list at argument 1 and pushes to the list at argument 2; replies the element or null.
    static func move(_ context: inout CommandContext, fromLeft: Bool, toLeft: Bool) throws(CommandError) {
        let source = context.bytes(1)
        let destination = context.bytes(2)
        let now = context.now
        let moved = try context.server.keyspace.withLock { keyspace throws(CommandError) in
            try ListCommands.move(
                from: source, fromLeft: fromLeft, to: destination, toLeft: toLeft, in: &keyspace, now: now)
        }
        guard let moved else { return context.replyNull() }
        context.server.blocking.signal(destination)
        context.replyBulk(moved)
    }

    /// `LMOVE`'s core inside the keyspace's critical section: nil when the source is missing; `WRONGTYPE` when
    /// either key holds another type (the destination is checked only when the source has an element, as Redis).
    static func move(
        from source: [UInt8], fromLeft: Bool, to destination: [UInt8], toLeft: Bool, in keyspace: inout Keyspace,
        now: Int64
    ) throws(CommandError) -> [UInt8]? {
        guard try onList(source, &keyspace, now: now, { $0 != nil }) else { return nil }
        let destinationOK = destination.withUnsafeBytes { key in
            keyspace.peek(key, now: now).map { if case .list = $0.value { true } else { false } } ?? true
        }
        guard destinationOK else { throw .wrongType }
        let element = try onList(source, &keyspace, now: now) { list in
            fromLeft ? list!.popFirst()! : list!.popLast()!
        }
        try onList(destination, &keyspace, now: now) { list in
            if list == nil { list = ListValue() }
            if toLeft { list!.prepend(element) } else { list!.append(element) }
        }
        return element
    }

    /// Runs `body` on the list at `key` inside the keyspace's critical section (see
    /// ``Keyspace/withList(_:now:countingStatistics:wrongType:_:)``); `WRONGTYPE` for another type.
    @discardableResult
    static func onList<Result>(
        _ key: [UInt8], _ keyspace: inout Keyspace, now: Int64, _ body: (inout ListValue?) -> Result
    ) throws(CommandError) -> Result {
        var outcome: Swift.Result<Result, CommandError>? = nil
        key.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Void in
            do throws(CommandError) {
                let value = try keyspace.withList(bytes, now: now, wrongType: CommandError.wrongType) {
                    (list: inout ListValue?) throws(CommandError) -> Result in body(&list)
                }
                outcome = .success(value)
            } catch {
                outcome = .failure(error)
            }
        }
        return try outcome!.get()
    }

    // MARK: Replication

    /// `LISTSTATE key expireAt element […]`: a list's whole state from the replication stream (see
    /// ``ChangeLog/appendList(_:key:_:expireAt:)``). Only the link to the primary may send it.
    static func listState(_ context: inout CommandContext) throws(CommandError) {
        guard context.fromPrimary else { throw Dispatcher.unknownCommandError(context) }
        let expireAt = try context.integer(2)
        var list = ListValue()
        for index in 3..<context.count { list.append(context.bytes(index)) }
        let now = context.now
        context.withArgument(1) { key in
            context.server.keyspace.withLock { keyspace in
                keyspace.storeList(key, list, expireAt: expireAt == 0 ? Entry.noExpiry : expireAt, now: now)
            }
        }
        context.replyOK()
    }
}

extension CommandContext {
    /// Runs `body` on the list at the key in argument `index` (nil when absent) with the reply buffer, in one
    /// critical section: `WRONGTYPE` when the key holds another type. `reading` counts a keyspace hit or miss.
    /// `body` must throw before it writes a reply.
    @discardableResult
    mutating func withList<Result: Sendable>(
        _ index: Int = 1,
        reading: Bool,
        _ body: (inout ListValue?, inout ByteBuffer) throws(CommandError) -> Result
    ) throws(CommandError) -> Result {
        let now = self.now
        let outcome: Swift.Result<Result, CommandError> = arguments[index].withUnsafeReadableBytes { key in
            server.keyspace.withLock { keyspace in
                Swift.Result { () throws(CommandError) -> Result in
                    try keyspace.withList(
                        key, now: now, countingStatistics: reading, wrongType: CommandError.wrongType
                    ) { list throws(CommandError) in try body(&list, &out) }
                }
            }
        }
        return try outcome.get()
    }
}
