public import NIOCore

extension BusFrame {
    /// Reads one frame from the front of `buffer`.
    ///
    /// Returns `nil`, consuming nothing, while the frame is incomplete; returns the message and consumes exactly
    /// its bytes once it is all there. Throws as soon as the bytes present show the frame is bad (wrong magic,
    /// version or type, or a length below the smallest possible frame or above `limits.maximumFrameLength`), so a
    /// peer cannot make the receiver buffer more than the limit.
    public static func decode(
        _ buffer: inout ByteBuffer, limits: Limits = Limits()
    ) throws(BusFrameError) -> BusMessage? {
        let available = buffer.readableBytes
        let start = buffer.readerIndex
        for (offset, byte) in magic.enumerated() where offset < available {
            guard buffer.getInteger(at: start + offset, as: UInt8.self) == byte else {
                throw BusFrameError(.badMagic, "bus frame does not start with RBUS")
            }
        }
        if available > 4, let found = buffer.getInteger(at: start + 4, as: UInt8.self), found != version {
            throw BusFrameError(.unsupportedVersion, "unsupported bus protocol version \(found)")
        }
        if available > 5, let found = buffer.getInteger(at: start + 5, as: UInt8.self),
            MessageType(rawValue: found) == nil
        {
            throw BusFrameError(.unknownType, "unknown bus message type \(found)")
        }
        guard available >= 12, let declared = buffer.getInteger(at: start + 8, as: UInt32.self) else { return nil }
        let length = Int(declared)
        let isPublish = buffer.getInteger(at: start + 5, as: UInt8.self) == MessageType.publish.rawValue
        let maximum = limits.maximumFrameLength + (isPublish ? maximumPublishPayload : 0)
        guard length >= minimumFrameLength, length <= maximum else {
            throw BusFrameError(.badLength, "bus frame length \(length) outside \(minimumFrameLength)...\(maximum)")
        }
        guard available >= length, var frame = buffer.getSlice(at: start, length: length) else { return nil }
        let message = try decodeFrame(&frame, limits: limits)
        buffer.moveReaderIndex(forwardBy: length)
        return message
    }

    /// Decodes a complete frame whose magic, version, type and length were checked.
    private static func decodeFrame(_ frame: inout ByteBuffer, limits: Limits) throws(BusFrameError) -> BusMessage {
        frame.moveReaderIndex(forwardBy: 5)
        let type = MessageType(rawValue: try frame.readChecked(UInt8.self, "type"))!
        let flags = try frame.readChecked(UInt16.self, "sender flags")
        guard flags & ~knownSenderFlags == 0 else {
            throw BusFrameError(.invalidField, "sender flags has unknown bits \(flags & ~knownSenderFlags)")
        }
        let paused = flags & manualFailoverPausedFlag != 0
        let role = MemberRole(
            primaryID: nil, isReplica: flags & replicaFlag != 0, noFailover: flags & noFailoverFlag != 0)
        frame.moveReaderIndex(forwardBy: 4)  // the length, already checked
        guard let id = try frame.readNodeID("sender ID") else {
            throw BusFrameError(.invalidField, "sender ID is zero")
        }
        let primary = try frame.readNodeID("sender primary ID")
        let incarnation = try frame.readChecked(UInt64.self, "incarnation")
        let currentEpoch = try frame.readChecked(UInt64.self, "current epoch")
        let configEpoch = try frame.readChecked(UInt64.self, "config epoch")
        let sequence = try frame.readChecked(UInt64.self, "sequence")
        let replicationOffset = try frame.readChecked(UInt64.self, "replication offset")
        let port = try frame.readChecked(UInt16.self, "port")
        let busPort = try frame.readChecked(UInt16.self, "bus port")
        let ip = try frame.readIP("sender IP")
        let kind: BusMessage.Kind
        switch type {
        case .ping: kind = .ping
        case .meet: kind = .meet
        case .failoverAuthAck: kind = .failoverAuthAck
        case .manualFailoverStart: kind = .manualFailoverStart
        case .failoverAuthRequest:
            let requestFlags = try frame.readChecked(UInt8.self, "failover request flags")
            guard requestFlags & ~forceFlag == 0 else {
                throw BusFrameError(
                    .invalidField, "failover request flags has unknown bits \(requestFlags & ~forceFlag)")
            }
            kind = .failoverAuthRequest(force: requestFlags & forceFlag != 0)
        case .publish:
            let channel = try frame.readLengthPrefixed("publish channel")
            let message = try frame.readLengthPrefixed("publish message")
            guard channel.count + message.count <= maximumPublishPayload else {
                throw BusFrameError(.invalidField, "publish payload over \(maximumPublishPayload) bytes")
            }
            kind = .publish(channel: channel, message: message)
        case .pingRequest, .ack:
            guard let node = try frame.readNodeID("target ID") else {
                throw BusFrameError(.invalidField, "target ID is zero")
            }
            kind = type == .ack ? .ack(subject: node) : .pingRequest(target: node)
        }
        let slots = try frame.readSlotSet("sender slots")
        let count = Int(try frame.readChecked(UInt16.self, "gossip count"))
        guard count <= limits.maximumGossipItems else {
            throw BusFrameError(.tooManyGossipItems, "\(count) gossip items, limit \(limits.maximumGossipItems)")
        }
        guard count * 3 <= frame.readableBytes else {
            throw BusFrameError(.truncated, "\(count) gossip items cannot fit in \(frame.readableBytes) bytes")
        }
        var gossip: [GossipItem] = []
        gossip.reserveCapacity(count)
        for _ in 0..<count { gossip.append(try readGossipItem(&frame)) }
        guard frame.readableBytes == 0 else {
            throw BusFrameError(.trailingBytes, "\(frame.readableBytes) bytes after the last gossip item")
        }
        var senderRole = role
        senderRole.primaryID = primary
        try checkRole(senderRole, "sender")
        if paused && senderRole.isReplica {
            throw BusFrameError(.invalidField, "sender is a replica with the manual-failover-paused flag")
        }
        return BusMessage(
            kind: kind,
            sender: .init(
                id: id, incarnation: incarnation, role: senderRole, ip: ip, port: Int(port), busPort: Int(busPort),
                currentEpoch: currentEpoch, configEpoch: configEpoch, slots: slots,
                replicationOffset: replicationOffset, manualFailoverPaused: paused),
            sequence: sequence, gossip: gossip)
    }

    /// Reads a gossiped member's 2-byte flags; the primary ID is read separately by the caller.
    private static func readRole(_ frame: inout ByteBuffer, flagsField: String) throws(BusFrameError) -> MemberRole {
        let flags = try frame.readChecked(UInt16.self, flagsField)
        guard flags & ~knownFlags == 0 else {
            throw BusFrameError(.invalidField, "\(flagsField) has unknown bits \(flags & ~knownFlags)")
        }
        return MemberRole(
            primaryID: nil, isReplica: flags & replicaFlag != 0, noFailover: flags & noFailoverFlag != 0)
    }

    private static func checkRole(_ role: MemberRole, _ what: String) throws(BusFrameError) {
        if role.primaryID != nil && !role.isReplica {
            throw BusFrameError(.invalidField, "\(what) is a primary with a primary ID")
        }
    }

    private static func readGossipItem(_ frame: inout ByteBuffer) throws(BusFrameError) -> GossipItem {
        let rawKind = try frame.readChecked(UInt8.self, "gossip kind")
        guard let kind = GossipKind(rawValue: rawKind) else {
            throw BusFrameError(.unknownGossipKind, "unknown gossip item kind \(rawKind)")
        }
        let length = Int(try frame.readChecked(UInt16.self, "gossip length"))
        guard var payload = frame.readSlice(length: length) else {
            throw BusFrameError(.truncated, "gossip item of \(length) bytes runs past the frame")
        }
        let item: GossipItem
        switch kind {
        case .alive:
            let id = try payload.readNonZeroNodeID("alive ID")
            let incarnation = try payload.readChecked(UInt64.self, "alive incarnation")
            var role = try readRole(&payload, flagsField: "alive flags")
            role.primaryID = try payload.readNodeID("alive primary ID")
            try checkRole(role, "alive member")
            let port = try payload.readChecked(UInt16.self, "alive port")
            let busPort = try payload.readChecked(UInt16.self, "alive bus port")
            let ip = try payload.readIP("alive IP")
            item = .alive(
                MemberInfo(
                    id: id, incarnation: incarnation, role: role, ip: ip, port: Int(port), busPort: Int(busPort)))
        case .suspect:
            let subject = try payload.readNonZeroNodeID("suspect subject")
            let incarnation = try payload.readChecked(UInt64.self, "suspect incarnation")
            let reporter = try payload.readNonZeroNodeID("suspect reporter")
            item = .suspect(subject: subject, incarnation: incarnation, reporter: reporter)
        case .failed:
            let subject = try payload.readNonZeroNodeID("failed subject")
            let incarnation = try payload.readChecked(UInt64.self, "failed incarnation")
            item = .failed(subject: subject, incarnation: incarnation)
        case .slots:
            let owner = try payload.readNonZeroNodeID("slots owner")
            let configEpoch = try payload.readChecked(UInt64.self, "slots config epoch")
            let slots = try payload.readSlotSet("claimed slots")
            item = .slots(owner: owner, configEpoch: configEpoch, slots: slots)
        }
        guard payload.readableBytes == 0 else {
            throw BusFrameError(.trailingBytes, "\(payload.readableBytes) bytes left in a gossip item")
        }
        return item
    }
}

extension ByteBuffer {
    fileprivate mutating func readChecked<Integer: FixedWidthInteger>(
        _ type: Integer.Type, _ field: String
    ) throws(BusFrameError) -> Integer {
        guard let value = readInteger(as: Integer.self) else {
            throw BusFrameError(.truncated, "\(field) runs past the end of the frame")
        }
        return value
    }

    /// A 4-byte length and that many bytes (checked against the bytes present before anything is copied).
    fileprivate mutating func readLengthPrefixed(_ field: String) throws(BusFrameError) -> [UInt8] {
        let length = Int(try readChecked(UInt32.self, "\(field) length"))
        guard let bytes = readBytes(length: length) else {
            throw BusFrameError(.truncated, "\(field) of \(length) bytes runs past the end of the frame")
        }
        return bytes
    }

    /// A node ID; all zero bytes mean none.
    fileprivate mutating func readNodeID(_ field: String) throws(BusFrameError) -> NodeID? {
        let high = try readChecked(UInt64.self, field)
        let middle = try readChecked(UInt64.self, field)
        let low = try readChecked(UInt32.self, field)
        if high == 0 && middle == 0 && low == 0 { return nil }
        return NodeID(high: high, middle: middle, low: low)
    }

    fileprivate mutating func readNonZeroNodeID(_ field: String) throws(BusFrameError) -> NodeID {
        guard let id = try readNodeID(field) else { throw BusFrameError(.invalidField, "\(field) is zero") }
        return id
    }

    /// A length-prefixed IP address: at most 46 bytes of letters, digits, `.`, `:`, `-` and `%`.
    fileprivate mutating func readIP(_ field: String) throws(BusFrameError) -> String {
        let length = Int(try readChecked(UInt8.self, field))
        guard length <= BusFrame.maximumIPLength else {
            throw BusFrameError(.invalidField, "\(field) of \(length) bytes")
        }
        guard let bytes = readBytes(length: length) else {
            throw BusFrameError(.truncated, "\(field) runs past the end of the frame")
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"),
                UInt8(ascii: "%"):
                continue
            default:
                throw BusFrameError(.invalidField, "\(field) contains byte \(byte)")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A slot set in either form; ranges must be ascending and separated, all slots in range.
    fileprivate mutating func readSlotSet(_ field: String) throws(BusFrameError) -> SlotSet {
        let form = try readChecked(UInt8.self, field)
        switch form {
        case BusFrame.slotRangesForm:
            let count = Int(try readChecked(UInt16.self, field))
            guard count * 4 <= readableBytes else {
                throw BusFrameError(.truncated, "\(field): \(count) ranges run past the end of the frame")
            }
            var set = SlotSet()
            var previousEnd = -2
            for _ in 0..<count {
                let start = Int(try readChecked(UInt16.self, field))
                let end = Int(try readChecked(UInt16.self, field))
                guard start >= previousEnd + 2, start <= end, end < clusterSlotCount else {
                    throw BusFrameError(.invalidField, "\(field): range \(start)-\(end) is out of order or range")
                }
                set.insert(start...end)
                previousEnd = end
            }
            return set
        case BusFrame.slotBitmapForm:
            guard readableBytes >= BusFrame.slotBitmapLength else {
                throw BusFrameError(.truncated, "\(field): bitmap runs past the end of the frame")
            }
            var words: [UInt64] = []
            words.reserveCapacity(SlotSet.wordCount)
            for _ in 0..<SlotSet.wordCount { words.append(try readChecked(UInt64.self, field)) }
            return SlotSet(words: words)!
        default:
            throw BusFrameError(.invalidField, "\(field): unknown slot set form \(form)")
        }
    }
}
