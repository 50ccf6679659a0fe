import NIOCore
import RoostCluster
import Synchronization

extension ClusterController {
    /// Sends a `PUBLISH` to every other node over the bus (one publish frame per node, no acknowledgement: pub/sub
    /// is at most once). A frame for a link that is not accepting writes (its peer has fallen more than the bus
    /// links' write buffer behind) is dropped, so a slow or dead peer cannot make this node's memory grow; a link
    /// still connecting queues at most ``maximumPendingFrames`` frames. A channel and message over
    /// ``BusFrame/maximumPublishPayload`` bytes is refused, so no node delivers what the others cannot.
    func broadcastPublish(channel: ByteBuffer, message: ByteBuffer) throws(CommandError) {
        guard channel.readableBytes + message.readableBytes <= BusFrame.maximumPublishPayload else {
            throw CommandError(
                "ERR message too large for the cluster bus: channel and message may have at most "
                    + "\(BusFrame.maximumPublishPayload) bytes")
        }
        let channelBytes = Array(channel.readableBytesView)
        let messageBytes = Array(message.readableBytesView)
        let outgoing = core.withLock { $0.gossip.publishMessages(channel: channelBytes, message: messageBytes) }
        for message in outgoing where !isPartitioned(message.to) {
            var frame = ByteBuffer()
            frame.writeBusFrame(message.message)
            sendDroppable(frame, toHost: message.ip, port: message.busPort, node: message.to)
        }
    }

    /// A publish frame arrived: the sender is alive (its state goes to the state machine as any frame's does,
    /// without an answer), and the message goes to this node's subscribers.
    func receivePublish(_ message: BusMessage, channel: [UInt8], payload: [UInt8]) {
        guard let server = serverLink.withLock({ $0.server }) else { return }
        _ = server.pubsub.publish(channel: ByteBuffer(bytes: channel), message: ByteBuffer(bytes: payload))
    }
}
