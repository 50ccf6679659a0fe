public import NIOCore

extension ByteBuffer {
    /// Appends `message` as one bus frame; returns the number of bytes written.
    @discardableResult
    public mutating func writeBusFrame(_ message: BusMessage) -> Int {
        let start = writerIndex
        writeBytes(BusFrame.magic)
        writeInteger(BusFrame.version)
        let type: BusFrame.MessageType
        var target: NodeID?
        var requestFlags: UInt8?
        var publication: (channel: [UInt8], message: [UInt8])?
        switch message.kind {
        case .ping: type = .ping
        case .pingRequest(let node):
            type = .pingRequest
            target = node
        case .ack(let subject):
            type = .ack
            target = subject
        case .meet: type = .meet
        case .failoverAuthRequest(let force):
            type = .failoverAuthRequest
            requestFlags = force ? BusFrame.forceFlag : 0
        case .failoverAuthAck: type = .failoverAuthAck
        case .manualFailoverStart: type = .manualFailoverStart
        case .publish(let channel, let payload):
            type = .publish
            publication = (channel, payload)
        }
        writeInteger(type.rawValue)
        let sender = message.sender
        writeInteger(
            BusFrame.flags(of: sender.role) | (sender.manualFailoverPaused ? BusFrame.manualFailoverPausedFlag : 0))
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        writeNodeID(sender.id)
        writeNodeID(sender.role.primaryID)
        writeInteger(sender.incarnation)
        writeInteger(sender.currentEpoch)
        writeInteger(sender.configEpoch)
        writeInteger(message.sequence)
        writeInteger(sender.replicationOffset)
        writeInteger(UInt16(truncatingIfNeeded: sender.port))
        writeInteger(UInt16(truncatingIfNeeded: sender.busPort))
        writeShortString(sender.ip)
        if let target { writeNodeID(target) }
        if let requestFlags { writeInteger(requestFlags) }
        if let publication {
            writeInteger(UInt32(publication.channel.count))
            writeBytes(publication.channel)
            writeInteger(UInt32(publication.message.count))
            writeBytes(publication.message)
        }
        writeSlotSet(sender.slots)
        writeInteger(UInt16(truncatingIfNeeded: message.gossip.count))
        for item in message.gossip { writeGossipItem(item) }
        let length = writerIndex - start
        setInteger(UInt32(length), at: lengthIndex)
        return length
    }

    mutating func writeNodeID(_ id: NodeID?) {
        guard let id else {
            writeRepeatingByte(0, count: NodeID.byteCount)
            return
        }
        writeInteger(id.high)
        writeInteger(id.middle)
        writeInteger(id.low)
    }

    mutating func writeShortString(_ text: String) {
        let bytes = Array(text.utf8.prefix(BusFrame.maximumIPLength))
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeSlotSet(_ slots: SlotSet) {
        let ranges = slots.ranges
        if 2 + ranges.count * 4 <= BusFrame.slotBitmapLength {
            writeInteger(BusFrame.slotRangesForm)
            writeInteger(UInt16(ranges.count))
            for range in ranges {
                writeInteger(UInt16(range.lowerBound))
                writeInteger(UInt16(range.upperBound))
            }
        } else {
            writeInteger(BusFrame.slotBitmapForm)
            for word in slots.words { writeInteger(word) }
        }
    }

    mutating func writeGossipItem(_ item: GossipItem) {
        let lengthIndex: Int
        switch item {
        case .alive(let info):
            writeInteger(BusFrame.GossipKind.alive.rawValue)
            lengthIndex = writerIndex
            writeInteger(UInt16(0))
            writeNodeID(info.id)
            writeInteger(info.incarnation)
            writeInteger(BusFrame.flags(of: info.role))
            writeNodeID(info.role.primaryID)
            writeInteger(UInt16(truncatingIfNeeded: info.port))
            writeInteger(UInt16(truncatingIfNeeded: info.busPort))
            writeShortString(info.ip)
        case .suspect(let subject, let incarnation, let reporter):
            writeInteger(BusFrame.GossipKind.suspect.rawValue)
            lengthIndex = writerIndex
            writeInteger(UInt16(0))
            writeNodeID(subject)
            writeInteger(incarnation)
            writeNodeID(reporter)
        case .failed(let subject, let incarnation):
            writeInteger(BusFrame.GossipKind.failed.rawValue)
            lengthIndex = writerIndex
            writeInteger(UInt16(0))
            writeNodeID(subject)
            writeInteger(incarnation)
        case .slots(let owner, let configEpoch, let slots):
            writeInteger(BusFrame.GossipKind.slots.rawValue)
            lengthIndex = writerIndex
            writeInteger(UInt16(0))
            writeNodeID(owner)
            writeInteger(configEpoch)
            writeSlotSet(slots)
        }
        setInteger(UInt16(writerIndex - lengthIndex - 2), at: lengthIndex)
    }
}

extension BusFrame {
    static func flags(of role: MemberRole) -> UInt16 {
        (role.isReplica ? replicaFlag : 0) | (role.noFailover ? noFailoverFlag : 0)
    }

    /// The encoded size of a slot set.
    public static func encodedLength(of slots: SlotSet) -> Int {
        1 + min(2 + slots.ranges.count * 4, slotBitmapLength)
    }

    /// The encoded size of one gossip item, its kind and length bytes included.
    public static func encodedLength(of item: GossipItem) -> Int {
        let id = NodeID.byteCount
        switch item {
        case .alive(let info): return 3 + id + 8 + 2 + id + 4 + 1 + min(info.ip.utf8.count, maximumIPLength)
        case .suspect: return 3 + id + 8 + id
        case .failed: return 3 + id + 8
        case .slots(_, _, let slots): return 3 + id + 8 + encodedLength(of: slots)
        }
    }

    /// The encoded size of a whole message, without encoding it (the simulator counts bus bytes with this).
    public static func encodedLength(of message: BusMessage) -> Int {
        var length = fixedHeaderLength + min(message.sender.ip.utf8.count, maximumIPLength)
        switch message.kind {
        case .ping, .meet, .failoverAuthAck, .manualFailoverStart: break
        case .pingRequest, .ack: length += NodeID.byteCount
        case .failoverAuthRequest: length += 1
        case .publish(let channel, let payload): length += 8 + channel.count + payload.count
        }
        length += encodedLength(of: message.sender.slots) + 2
        for item in message.gossip { length += encodedLength(of: item) }
        return length
    }
}
