import NIOCore
public import RoostProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What went wrong talking to a server.
public struct RESPClientError: Error, Sendable, CustomStringConvertible {
    /// The text of the error, naming the address.
    public var description: String

    /// An error with its text.
    public init(_ description: String) {
        self.description = description
    }
}

/// A small blocking RESP2 client: one TCP connection, one command at a time, with a time bound on connecting,
/// sending and receiving. Requests are arrays of bulk strings; replies are parsed by ``RESPValueParser``.
public final class RESPClient {
    /// The address connected to, as `host:port`.
    public let address: String
    private let descriptor: Int32
    private var parser = RESPValueParser()
    private var input = ByteBuffer()

    /// Connects to `host:port` (a name or numeric address), giving up after `timeout` seconds.
    public init(host: String, port: Int, timeout: Double = 5) throws(RESPClientError) {
        self.address = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw RESPClientError("\(host):\(port): cannot resolve host: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            Self.setTimeout(fd, seconds: timeout)
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                self.descriptor = fd
                return
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw RESPClientError("\(host):\(port): cannot connect: \(lastError)")
    }

    deinit {
        close(descriptor)
    }

    /// Bounds every following send and receive to `seconds` (SO_SNDTIMEO and SO_RCVTIMEO).
    private static func setTimeout(_ fd: Int32, seconds: Double) {
        var time = timeval()
        time.tv_sec = .init(seconds)
        time.tv_usec = .init((seconds - seconds.rounded(.down)) * 1_000_000)
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, size)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, size)
    }

    /// Sends one command and returns its reply; an error reply is returned as ``RESPValue/error(_:)``, not thrown.
    public func send(_ arguments: [String]) throws(RESPClientError) -> RESPValue {
        var request = ByteBuffer()
        request.writeRESPArrayHeader(arguments.count)
        for argument in arguments { request.writeRESPBulkString(argument) }
        try write(request)
        while true {
            do {
                if let reply = try parser.parse(&input) { return reply }
            } catch {
                throw RESPClientError("\(address): \(error.message)")
            }
            try read()
        }
    }

    /// Sends one command and returns its reply, throwing on an error reply.
    public func call(_ arguments: String...) throws(RESPClientError) -> RESPValue {
        let reply = try send(arguments)
        if case .error(let message) = reply {
            throw RESPClientError("\(address): \(arguments.joined(separator: " ")): \(String(buffer: message))")
        }
        return reply
    }

    /// Sends one command whose reply is a string (simple or bulk) and returns it as text.
    public func text(_ arguments: String...) throws(RESPClientError) -> String {
        let reply = try send(arguments)
        switch reply {
        case .simpleString(let bytes), .bulkString(.some(let bytes)), .verbatimString(_, let bytes):
            return String(buffer: bytes)
        case .error(let message):
            throw RESPClientError("\(address): \(arguments.joined(separator: " ")): \(String(buffer: message))")
        default:
            throw RESPClientError("\(address): \(arguments.joined(separator: " ")): unexpected reply \(reply)")
        }
    }

    /// Sends one command whose reply is an integer.
    public func integer(_ arguments: String...) throws(RESPClientError) -> Int64 {
        let reply = try send(arguments)
        switch reply {
        case .integer(let value):
            return value
        case .error(let message):
            throw RESPClientError("\(address): \(arguments.joined(separator: " ")): \(String(buffer: message))")
        default:
            throw RESPClientError("\(address): \(arguments.joined(separator: " ")): unexpected reply \(reply)")
        }
    }

    private func write(_ buffer: ByteBuffer) throws(RESPClientError) {
        var remaining = buffer
        while remaining.readableBytes > 0 {
            let written = remaining.withUnsafeReadableBytes { bytes in
                #if canImport(Glibc)
                    Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
                #else
                    Darwin.send(descriptor, bytes.baseAddress, bytes.count, 0)
                #endif
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw RESPClientError("\(address): send failed: \(String(cString: strerror(errno)))")
            }
            remaining.moveReaderIndex(forwardBy: written)
        }
    }

    private func read() throws(RESPClientError) {
        input.reserveCapacity(minimumWritableBytes: 16 * 1024)
        let count = input.withUnsafeMutableWritableBytes { bytes in
            recv(descriptor, bytes.baseAddress, bytes.count, 0)
        }
        if count < 0 {
            if errno == EINTR { return }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RESPClientError("\(address): timed out waiting") }
            throw RESPClientError("\(address): receive failed: \(String(cString: strerror(errno)))")
        }
        if count == 0 { throw RESPClientError("\(address): connection closed by the server") }
        input.moveWriterIndex(forwardBy: count)
    }
}
