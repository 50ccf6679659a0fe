/// The wire form of a ``BusMessage``: Roost's own versioned, length-prefixed binary frame.
///
/// All integers are big-endian. A frame is:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `RBUS` |
/// | 4 | 1 | version (2; version 1, without the replication offset and failover messages, is refused) |
/// | 5 | 1 | type: 1 ping, 2 ping-request, 3 ack, 4 meet, 5 failover-auth-request, 6 failover-auth-ack, |
/// |   |   | 7 manual-failover-start, 8 publish |
/// | 6 | 2 | sender flags: bit 0 replica, bit 1 no-failover, bit 2 manual-failover-paused (a primary only); other |
/// |   |   | bits must be 0 |
/// | 8 | 4 | frame length, this header included |
/// | 12 | 20 | sender ID |
/// | 32 | 20 | sender's primary ID (all zero: none) |
/// | 52 | 8 | sender incarnation |
/// | 60 | 8 | current epoch (failover-auth-request: the election's epoch) |
/// | 68 | 8 | config epoch (a replica's: its primary's) |
/// | 76 | 8 | sequence number |
/// | 84 | 8 | replication offset (a primary's master offset, a replica's applied offset) |
/// | 92 | 2 | client port |
/// | 94 | 2 | bus port |
/// | 96 | 1+n | announced IP: length (at most 46), ASCII |
/// | | 20 | ping-request: target ID; ack: subject ID |
/// | | 1 | failover-auth-request: bit 0 force (grant though the primary is not failed); other bits must be 0 |
/// | | 4+n, 4+m | publish: channel length and bytes, message length and bytes (n + m at most |
/// | | | ``maximumPublishPayload``) |
/// | | | (nothing more for ping, meet, failover-auth-ack and manual-failover-start) |
/// | | | sender's slots (a slot set, below; a replica sends its primary's) |
/// | | 2 | gossip item count |
/// | | | gossip items: kind (1 byte), payload length (2 bytes), payload |
///
/// A slot set is a form byte then either `0`: a count (2 bytes) of inclusive `start, end` ranges (2 + 2 bytes
/// each, ascending, separated by at least one slot, all below 16384), or `1`: the 16384-bit bitmap as 256
/// big-endian 64-bit words, slot `s` at bit `s % 64` of word `s / 64`. The encoder picks the shorter.
///
/// Gossip payloads: `1` alive: ID, incarnation (8), flags (2, as the header's), primary ID, client port (2), bus
/// port (2), IP (length-prefixed), its flags limited to bits 0 and 1; `2` suspect: subject ID, incarnation (8), reporter ID; `3` failed: subject ID,
/// incarnation (8); `4` slots: owner ID, config epoch (8), slot set.
///
/// A publish frame may exceed ``Limits/maximumFrameLength`` by its payload, up to ``maximumPublishPayload``; every
/// other frame is held to the limit.
///
/// The decoder treats every frame as hostile: it checks the magic, version, type and length as soon as their
/// bytes arrive (so an oversized length is refused before anything is buffered), reads every field with bounds
/// checks, refuses unknown versions, types, flags and gossip kinds, a paused replica, invalid slot sets and
/// trailing bytes, and never reserves memory from a count it has not checked against the bytes present.
public enum BusFrame {
    /// The four bytes every frame starts with.
    public static let magic: [UInt8] = Array("RBUS".utf8)
    /// The version this code writes and reads.
    public static let version: UInt8 = 2
    /// The fixed part of the header, up to and including the IP length byte.
    public static let fixedHeaderLength = 97
    /// The shortest possible frame: the fixed header, an empty IP, an empty slot set and no gossip.
    public static let minimumFrameLength = fixedHeaderLength + 3 + 2
    /// The longest announced IP accepted (an IPv6 address with a zone fits).
    public static let maximumIPLength = 46
    /// The most bytes of channel and message one publish frame carries (a `PUBLISH` larger than this is refused in
    /// cluster mode rather than delivered to only some nodes).
    public static let maximumPublishPayload = 4 << 20

    /// Limits a receiver applies to incoming frames.
    public struct Limits: Hashable, Sendable {
        /// The longest frame accepted, in bytes.
        public var maximumFrameLength: Int
        /// The most gossip items accepted in one frame.
        public var maximumGossipItems: Int

        /// Limits; the defaults fit the largest frame Roost sends with room to spare.
        public init(maximumFrameLength: Int = 256 * 1024, maximumGossipItems: Int = 1024) {
            self.maximumFrameLength = maximumFrameLength
            self.maximumGossipItems = maximumGossipItems
        }
    }

    enum MessageType: UInt8 {
        case ping = 1
        case pingRequest = 2
        case ack = 3
        case meet = 4
        case failoverAuthRequest = 5
        case failoverAuthAck = 6
        case manualFailoverStart = 7
        case publish = 8
    }

    enum GossipKind: UInt8 {
        case alive = 1
        case suspect = 2
        case failed = 3
        case slots = 4
    }

    static let replicaFlag: UInt16 = 1 << 0
    static let noFailoverFlag: UInt16 = 1 << 1
    static let manualFailoverPausedFlag: UInt16 = 1 << 2
    /// The flags a gossiped member may carry.
    static let knownFlags: UInt16 = replicaFlag | noFailoverFlag
    /// The flags a message's sender may carry.
    static let knownSenderFlags: UInt16 = knownFlags | manualFailoverPausedFlag
    static let forceFlag: UInt8 = 1 << 0

    static let slotRangesForm: UInt8 = 0
    static let slotBitmapForm: UInt8 = 1
    static let slotBitmapLength = SlotSet.wordCount * 8
}

/// Why a bus frame was refused. The connection it came on should be closed: after a bad frame the stream is out
/// of step.
public struct BusFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: Hashable, Sendable {
        /// The first four bytes are not `RBUS`.
        case badMagic
        /// A version this node does not speak.
        case unsupportedVersion
        /// An unknown message type.
        case unknownType
        /// The length field is below the header's size or above the limit.
        case badLength
        /// A field runs past the end of the frame.
        case truncated
        /// A field has a value the format does not allow.
        case invalidField
        /// An unknown gossip item kind.
        case unknownGossipKind
        /// More gossip items than the limit.
        case tooManyGossipItems
        /// Bytes left over after the last field.
        case trailingBytes
    }

    /// The kind of problem.
    public var code: Code
    /// What was wrong, for logs.
    public var message: String

    /// An error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `message`.
    public var description: String { message }
}
