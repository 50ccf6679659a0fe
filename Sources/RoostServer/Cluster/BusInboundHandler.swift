import Logging
import NIOCore
import RoostCluster

/// Reads length-prefixed bus frames from a peer's connection and hands each message to the controller.
///
/// A connection over the controller's limit is closed before anything is read. A frame the decoder refuses closes
/// the connection: after a bad frame the stream is out of step, and a peer sending garbage gets nothing else. A
/// connection that does not deliver complete frames in time (``BusInboundLimits/Link``) is closed too, so no
/// connection holds a partial frame for long. Refusals are logged within the controller's shared budget.
final class BusInboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let controller: ClusterController
    private var buffer: ByteBuffer?
    private var closed = false
    private var link: BusInboundLimits.Link?
    private var timer: (deadline: Int64, task: Scheduled<Void>)?

    init(controller: ClusterController) {
        self.controller = controller
    }

    /// Milliseconds on a monotonic clock, for the link's deadlines.
    private static func now() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
    }

    func channelActive(context: ChannelHandlerContext) {
        guard controller.inboundOpened(context.channel) else {
            closed = true
            context.close(promise: nil)
            return
        }
        link = BusInboundLimits.Link(limits: controller.inboundLimits, opened: Self.now())
        armTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        controller.inboundClosed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        var incoming = unwrapInboundIn(data)
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        let source = context.channel.remoteAddress?.ipAddress ?? ""
        var frames = 0
        do {
            while var pending = buffer, let message = try BusFrame.decode(&pending) {
                buffer = pending
                frames += 1
                controller.receive(message, from: source)
            }
        } catch {
            close(context: context, "Closing a cluster bus link that sent a bad frame", error: "\(error)")
            return
        }
        if let readable = buffer?.readableBytes, readable == 0 { buffer = nil } else { buffer?.discardReadBytes() }
        link?.onRead(now: Self.now(), frames: frames, buffered: buffer?.readableBytes ?? 0)
        armTimer(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Makes sure the timer fires by the link's deadline (a read can bring the deadline forward: a frame starts).
    private func armTimer(context: ChannelHandlerContext) {
        guard let link, !closed else { return }
        let deadline = link.deadline
        if let timer {
            if timer.deadline <= deadline { return }
            timer.task.cancel()
        }
        let delay = TimeAmount.milliseconds(max(0, deadline - Self.now()))
        let task = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            timer = nil
            guard !closed, let link = self.link else { return }
            if link.isExpired(now: Self.now()) {
                close(context: context, "Closing a cluster bus link that sent no complete frame in time")
            } else {
                armTimer(context: context)
            }
        }
        timer = (deadline, task)
    }

    private func close(context: ChannelHandlerContext, _ message: Logger.Message, error: String? = nil) {
        controller.logBusRefusal(message, channel: context.channel, metadata: error.map { ["error": "\($0)"] } ?? [:])
        closed = true
        buffer = nil
        timer?.task.cancel()
        timer = nil
        context.close(promise: nil)
    }
}
