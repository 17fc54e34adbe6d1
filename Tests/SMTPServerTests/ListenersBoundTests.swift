import NIOCore
import SMTPServer
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `onListenersBound` runs before any connection is served: the daemon drops root there, and no client byte may be
/// read (nor greeting sent) before it returns.
@Suite struct ListenersBoundTests {
    @Test func noConnectionIsServedBeforeTheHookReturns() async throws {
        let client = Mutex<Int32>(-1)
        var configuration = SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)])
        configuration.onListenersBound = { addresses in
            // A client connects while the hook runs: the kernel completes the handshake, but the server must not
            // accept it, so no greeting comes within 300 ms.
            let fd = try Self.dial(port: addresses[0].port!)
            client.withLock { $0 = fd }
            var byte: UInt8 = 0
            Self.setReceiveTimeout(fd, milliseconds: 300)
            let count = recv(fd, &byte, 1, 0)
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK else {
                throw HookFailure(message: "the server answered before its listeners-bound hook returned")
            }
        }
        let server = SMTPServer(configuration: configuration, backend: MemoryBackend())
        let task = Task { try await server.run() }
        _ = try await server.listeningAddresses
        // After the hook: the waiting connection is accepted and greeted.
        let fd = client.withLock { $0 }
        #expect(fd >= 0)
        defer { close(fd) }
        Self.setReceiveTimeout(fd, milliseconds: 5000)
        var greeting = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &greeting, greeting.count, 0)
        #expect(count > 3 && Array(greeting[0..<3]) == Array("220".utf8))
        server.stop()
        try await task.value
    }

    @Test func anErrorFromTheHookStopsTheServer() async throws {
        var configuration = SMTPServerConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)])
        configuration.onListenersBound = { _ in throw HookFailure(message: "cannot drop privileges") }
        let server = SMTPServer(configuration: configuration, backend: MemoryBackend())
        await #expect(throws: HookFailure.self) { try await server.run() }
        await #expect(throws: HookFailure.self) { _ = try await server.listeningAddresses }
    }

    struct HookFailure: Error {
        let message: String
    }

    static func dial(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw HookFailure(message: "connect: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }
}
