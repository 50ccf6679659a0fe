import NIOCore
import RoostCluster
import Testing

func sampleMessages() -> [BusMessage] {
    let a = node(0x11)
    let b = node(0x22)
    let c = node(0x33)
    let sender = BusMessage.Sender(
        id: a, incarnation: 3, role: .primary, ip: "10.0.0.1", port: 7000, busPort: 17000, currentEpoch: 9,
        configEpoch: 4, slots: SlotSet([0...5460]))
    var replica = sender
    replica.role = .replica(of: b, noFailover: true)
    replica.ip = ""
    replica.slots = SlotSet()
    var scattered = SlotSet()
    for slot in stride(from: 0, to: clusterSlotCount, by: 2) { scattered.insert(slot) }
    var bitmapSender = sender
    bitmapSender.slots = scattered
    var paused = sender
    paused.manualFailoverPaused = true
    paused.replicationOffset = .max
    var candidate = replica
    candidate.currentEpoch = 10
    candidate.replicationOffset = 0x0102_0304_0506_0708
    candidate.slots = SlotSet([0...5460])
    let gossip: [GossipItem] = [
        .alive(MemberInfo(id: b, incarnation: 7, role: .primary, ip: "fe80::1%eth0", port: 7001, busPort: 17001)),
        .alive(MemberInfo(id: c, incarnation: 0, role: .replica(of: b), ip: "10.0.0.3", port: 7002, busPort: 17002)),
        .suspect(subject: b, incarnation: 7, reporter: c),
        .failed(subject: c, incarnation: .max),
        .slots(owner: b, configEpoch: 12, slots: SlotSet([5461...10922, 16383...16383])),
        .slots(owner: c, configEpoch: 1, slots: scattered),
    ]
    return [
        BusMessage(kind: .ping, sender: sender, sequence: 1),
        BusMessage(kind: .meet, sender: replica, sequence: 0, gossip: gossip),
        BusMessage(kind: .pingRequest(target: c), sender: sender, sequence: .max, gossip: [gossip[0]]),
        BusMessage(kind: .ack(subject: b), sender: bitmapSender, sequence: 42, gossip: gossip),
        BusMessage(kind: .failoverAuthRequest(force: false), sender: candidate, sequence: 7),
        BusMessage(kind: .failoverAuthRequest(force: true), sender: candidate, sequence: 8, gossip: [gossip[2]]),
        BusMessage(kind: .failoverAuthAck, sender: paused, sequence: 8),
        BusMessage(kind: .manualFailoverStart, sender: candidate, sequence: 9, gossip: gossip),
        BusMessage(
            kind: .publish(channel: Array("news".utf8), message: [0, 13, 10, 255]), sender: sender, sequence: 0),
    ]
}

func encode(_ message: BusMessage) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeBusFrame(message)
    return buffer
}

@Suite("Bus frames")
struct BusFrameTests {
    @Test("Round trip, whole and byte by byte; encodedLength matches", arguments: 0..<9)
    func roundTrip(index: Int) throws {
        let message = sampleMessages()[index]
        var whole = encode(message)
        #expect(whole.readableBytes == BusFrame.encodedLength(of: message))
        var copy = whole
        whole.writeBuffer(&copy)  // two frames back to back
        #expect(try BusFrame.decode(&whole) == message)
        #expect(try BusFrame.decode(&whole) == message)
        #expect(whole.readableBytes == 0)
        let bytes = Array(encode(message).readableBytesView)
        var stream = ByteBuffer()
        var decoded: [BusMessage] = []
        for byte in bytes {
            stream.writeInteger(byte)
            if let message = try BusFrame.decode(&stream) { decoded.append(message) }
        }
        #expect(decoded == [message])
    }

    @Test("The header layout is the documented one")
    func layout() {
        let message = sampleMessages()[0]
        let bytes = Array(encode(message).readableBytesView)
        #expect(Array(bytes[0..<4]) == Array("RBUS".utf8))
        #expect(bytes[4] == 2 && bytes[5] == 1)
        #expect(Array(bytes[6..<8]) == [0, 0])
        #expect(Array(bytes[8..<12]) == [0, 0, 0, UInt8(bytes.count)])
        #expect(Array(bytes[12..<32]) == node(0x11).bytes)
        #expect(Array(bytes[32..<52]) == [UInt8](repeating: 0, count: 20))
        #expect(Array(bytes[52..<60]) == [0, 0, 0, 0, 0, 0, 0, 3])
        #expect(Array(bytes[84..<92]) == [0, 0, 0, 0, 0, 0, 0, 0])  // replication offset
        #expect(Array(bytes[92..<96]) == [0x1B, 0x58, 0x42, 0x68])
        #expect(bytes[96] == 8 && String(decoding: bytes[97..<105], as: UTF8.self) == "10.0.0.1")
        // Slots: ranges form, one range 0-5460; then no gossip.
        #expect(Array(bytes[105...]) == [0, 0, 1, 0, 0, 0x15, 0x54, 0, 0])
        #expect(bytes.count == BusFrame.minimumFrameLength + 8 + 4)
    }

    @Test("Failover messages: type, paused flag, offset and the force byte are where the table says")
    func failoverLayout() {
        let messages = sampleMessages()
        let request = Array(encode(messages[5]).readableBytesView)
        #expect(request[5] == 5)
        #expect(Array(request[6..<8]) == [0, 3])  // replica, no-failover
        #expect(Array(request[60..<68]) == [0, 0, 0, 0, 0, 0, 0, 10])  // the election epoch
        #expect(Array(request[84..<92]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(request[96] == 0 && request[97] == 1)  // no IP, then the force byte
        #expect(request[98] == 0)  // slots, ranges form
        #expect(Array(encode(messages[4]).readableBytesView)[97] == 0)
        let ack = Array(encode(messages[6]).readableBytesView)
        #expect(ack[5] == 6)
        #expect(Array(ack[6..<8]) == [0, 4])  // paused
        #expect(Array(ack[84..<92]) == [UInt8](repeating: 0xFF, count: 8))
        #expect(Array(ack[105...]) == [0, 0, 1, 0, 0, 0x15, 0x54, 0, 0])  // nothing between the IP and the slots
        #expect(Array(encode(messages[7]).readableBytesView)[5] == 7)
    }

    @Test("A scattered slot set is sent as a bitmap, a contiguous one as ranges")
    func slotForms() {
        let messages = sampleMessages()
        #expect(BusFrame.encodedLength(of: messages[3].sender.slots) == 1 + 2048)
        #expect(BusFrame.encodedLength(of: messages[0].sender.slots) == 1 + 2 + 4)
    }

    func expectError(_ code: BusFrameError.Code, _ bytes: [UInt8], limits: BusFrame.Limits = .init()) {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            let message = try BusFrame.decode(&buffer, limits: limits)
            Issue.record("expected \(code), got \(String(describing: message))")
        } catch {
            #expect(error.code == code, "\(error)")
        }
    }

    @Test("Bad magic, version, type and length are refused from the first bytes that show them")
    func earlyRefusal() throws {
        expectError(.badMagic, Array("RBX".utf8))
        expectError(.badMagic, Array("*1\r\n$4\r\nPING\r\n".utf8))
        expectError(.unsupportedVersion, Array("RBUS".utf8) + [1])  // version 1 has no failover fields
        expectError(.unsupportedVersion, Array("RBUS".utf8) + [3])
        expectError(.unknownType, Array("RBUS".utf8) + [2, 9])
        expectError(.unknownType, Array("RBUS".utf8) + [2, 0])
        expectError(.badLength, Array("RBUS".utf8) + [2, 1, 0, 0, 0x40, 0, 0, 0])  // 1 GiB
        expectError(.badLength, Array("RBUS".utf8) + [2, 1, 0, 0, 0, 0, 0, 10])
        let frame = Array(encode(sampleMessages()[1]).readableBytesView)
        expectError(.badLength, frame, limits: .init(maximumFrameLength: frame.count - 1))
        expectError(.tooManyGossipItems, frame, limits: .init(maximumGossipItems: 5))
        var partial = ByteBuffer(bytes: Array(frame.prefix(11)))
        #expect(try BusFrame.decode(&partial) == nil)
        #expect(partial.readableBytes == 11)
    }

    @Test("Field checks: flags, zero IDs, IP characters, slot ranges, gossip kinds, trailing bytes")
    func fieldChecks() {
        let ping = Array(encode(sampleMessages()[0]).readableBytesView)
        var flags = ping
        flags[7] = 0x80
        expectError(.invalidField, flags)
        var zeroID = ping
        for index in 12..<32 { zeroID[index] = 0 }
        expectError(.invalidField, zeroID)
        var primaryWithPrimary = ping
        primaryWithPrimary[51] = 1
        expectError(.invalidField, primaryWithPrimary)
        var badIP = ping
        badIP[98] = UInt8(ascii: " ")
        expectError(.invalidField, badIP)
        var badRange = ping
        badRange[110] = 0x40  // end 0x4054 > 16383
        expectError(.invalidField, badRange)
        var badForm = ping
        badForm[105] = 7
        expectError(.invalidField, badForm)
        var trailing = ping + [0]
        trailing[11] += 1
        expectError(.trailingBytes, trailing)
        var unknownKind = ping + [9, 0, 0]
        unknownKind[11] += 3
        unknownKind[unknownKind.count - 4] = 1  // one gossip item
        expectError(.unknownGossipKind, unknownKind)
        var truncated = ping
        truncated[11] -= 1
        truncated.removeLast()
        expectError(.truncated, truncated)
    }

    @Test("Random bytes never crash and are refused or need more data")
    func randomBytes() {
        var generator = SplitMix64(seed: 1)
        for round in 0..<20_000 {
            let length = Int.random(in: 0..<300, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 2 == 0 && length >= 6 {  // a plausible header, to get past the first checks
                bytes.replaceSubrange(
                    0..<6, with: Array("RBUS".utf8) + [2, UInt8.random(in: 1...7, using: &generator)])
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                if let message = try BusFrame.decode(&buffer) { checkConsistent(message) }
            } catch {}
        }
    }

    @Test("Mutated valid frames are refused or decode to a message that round-trips", arguments: 0..<9)
    func mutations(index: Int) {
        let original = Array(encode(sampleMessages()[index]).readableBytesView)
        var generator = SplitMix64(seed: UInt64(index) + 100)
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = original
            switch Int.random(in: 0..<4, using: &generator) {
            case 0:
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[position] ^= UInt8.random(in: 1...255, using: &generator)
            case 1:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator))
            case 2:
                let position = Int.random(in: 0...bytes.count, using: &generator)
                bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
            default:
                for _ in 0..<8 {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                if let message = try BusFrame.decode(&buffer) {
                    accepted += 1
                    checkConsistent(message)
                }
            } catch {}
        }
        #expect(accepted < 3000)
    }

    @Test("Failover fields: unknown sender flag bits, a paused replica, unknown force bits, a missing force byte")
    func failoverFieldChecks() {
        let messages = sampleMessages()
        let ping = Array(encode(messages[0]).readableBytesView)
        var unknownSenderBit = ping
        unknownSenderBit[7] = 0x08
        expectError(.invalidField, unknownSenderBit)
        var pausedPrimary = ping
        pausedPrimary[7] = 0x04
        var buffer = ByteBuffer(bytes: pausedPrimary)
        #expect((try? BusFrame.decode(&buffer))??.sender.manualFailoverPaused == true)
        let request = Array(encode(messages[4]).readableBytesView)
        var pausedReplica = request
        pausedReplica[7] |= 0x04
        expectError(.invalidField, pausedReplica)
        var forceBits = request
        forceBits[97] = 0x02
        expectError(.invalidField, forceBits)
        var noForceByte = request
        noForceByte.remove(at: 97)
        noForceByte[11] -= 1
        expectError(.truncated, noForceByte)  // the slot set starts a byte early: 256 ranges do not fit
        var ackWithForceByte = request
        ackWithForceByte[5] = 6  // an ack has no force byte: the frame no longer parses
        expectError(.truncated, ackWithForceByte)  // read as an empty slot set and 256 gossip items
        // The alive item's flags may not carry the paused bit.
        var aliveBytes = Array(encode(messages[2]).readableBytesView)
        let flagsIndex = aliveBytes.count - BusFrame.encodedLength(of: messages[2].gossip[0]) + 3 + 20 + 8 + 1
        aliveBytes[flagsIndex] = 0x04
        expectError(.invalidField, aliveBytes)
    }

    func checkConsistent(_ message: BusMessage) {
        var again = encode(message)
        do {
            #expect(try BusFrame.decode(&again) == message)
        } catch {
            Issue.record("re-encoded frame refused: \(error)")
        }
    }

    @Test("A publish frame may carry up to maximumPublishPayload beyond the frame limit, not more")
    func publishFrameBound() throws {
        let sender = sampleMessages()[0].sender
        let big = [UInt8](repeating: 7, count: BusFrame.maximumPublishPayload - 4)
        var frame = encode(
            BusMessage(kind: .publish(channel: Array("chan".utf8), message: big), sender: sender, sequence: 0))
        let decoded = try BusFrame.decode(&frame)
        #expect(decoded?.kind == .publish(channel: Array("chan".utf8), message: big))
        var oversized = encode(
            BusMessage(kind: .publish(channel: Array("chan".utf8), message: big + [1]), sender: sender, sequence: 0))
        #expect(throws: BusFrameError.self) { try BusFrame.decode(&oversized) }
        // A ping claiming a publish-sized length is refused as soon as its header arrives.
        var ping = encode(sampleMessages()[0])
        ping.setInteger(UInt32(300 * 1024), at: ping.readerIndex + 8)
        var header = ping.getSlice(at: ping.readerIndex, length: 12)!
        #expect(throws: BusFrameError.self) { try BusFrame.decode(&header) }
    }
}
