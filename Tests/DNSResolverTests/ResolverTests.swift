import DNSCore
import DNSResolver
import NIOCore
import Synchronization
import Testing

private func client(_ port: Int, timeout: Duration = .seconds(2)) throws -> DNSClient {
    DNSClient(
        configuration: ResolverConfiguration(
            nameservers: [try SocketAddress(ipAddress: "127.0.0.1", port: port)], timeout: timeout, attempts: 1))
}

@Test func readsResolvConf() throws {
    let servers = ResolverConfiguration.parse(
        resolvConf:
            "# comment\nsearch example.test\nnameserver 192.0.2.53\nnameserver\t2001:db8::53\nnameserver fe80::1%eth0\n"
    )
    #expect(servers.count == 3)
    #expect(
        Array(servers.prefix(2)) == [
            try SocketAddress(ipAddress: "192.0.2.53", port: 53),
            try SocketAddress(ipAddress: "2001:db8::53", port: 53),
        ])
    #expect(ResolverConfiguration.parse(resolvConf: "") == [try SocketAddress(ipAddress: "127.0.0.1", port: 53)])
    #expect(
        ResolverConfiguration.nameserver("127.0.0.1:5353") == (try SocketAddress(ipAddress: "127.0.0.1", port: 5353)))
    #expect(ResolverConfiguration.nameserver("[::1]:5353") == (try SocketAddress(ipAddress: "::1", port: 5353)))
    #expect(ResolverConfiguration.nameserver("::1") == (try SocketAddress(ipAddress: "::1", port: 53)))
    #expect(ResolverConfiguration.nameserver("dns.example") == nil)
    #expect(ResolverConfiguration.nameserver("127.0.0.1:0") == nil)
}

@Test func truncatedAnswerIsAskedAgainOverTCP() async throws {
    let server = try await FakeNameserver.start { query, overTCP in
        overTCP
            ? response(to: query, records: [record("example.test", type: 15, data: mxData(10, "mx.example.test"))])
            : response(to: query, truncated: true)
    }
    defer { server.stop() }
    let answer = try await client(server.port).query(DNSName("example.test")!, .mx)
    #expect(!answer.isTruncated)
    #expect(answer.answers.first?.data == .mx(preference: 10, exchange: DNSName("mx.example.test")!))
}

@Test func anAnswerToAnotherQuestionIsRefused() async throws {
    let server = try await FakeNameserver.start { query, _ in
        var wrong = response(to: query)
        wrong[0] ^= 0xFF  // another ID
        return wrong
    }
    defer { server.stop() }
    await #expect(throws: DNSError.self) { try await client(server.port).query(DNSName("example.test")!, .mx) }
}

@Test func silenceIsATimeout() async throws {
    let server = try await FakeNameserver.start { _, _ in nil }
    defer { server.stop() }
    await #expect(throws: DNSError.timeout) {
        try await client(server.port, timeout: .milliseconds(200)).query(DNSName("example.test")!, .mx)
    }
}

@Test func mxHostsComeByPreferenceShuffledAmongEquals() async throws {
    let server = try await FakeNameserver.start { query, _ in
        guard let (name, type) = question(of: query) else { return nil }
        if type == 15 {
            return response(
                to: query,
                records: [
                    record(name, type: 15, data: mxData(20, "backup.example.test")),
                    record(name, type: 15, data: mxData(10, "a.example.test")),
                    record(name, type: 15, data: mxData(10, "b.example.test")),
                ])
        }
        let last = UInt8(name.hasPrefix("a.") ? 1 : name.hasPrefix("b.") ? 2 : 3)
        return type == 1
            ? response(to: query, records: [record(name, type: 1, data: [192, 0, 2, last])]) : response(to: query)
    }
    defer { server.stop() }
    let router = MailRouter(client: try client(server.port))
    var firsts = Set<String>()
    for _ in 0..<20 {
        guard case .hosts(let hosts) = await router.route("example.test") else {
            Issue.record("no hosts")
            return
        }
        #expect(hosts.map(\.preference) == [10, 10, 20])
        #expect(hosts.last?.name == "backup.example.test")
        #expect(hosts.last?.addresses == [try SocketAddress(ipAddress: "192.0.2.3", port: 0)])
        firsts.insert(hosts[0].name)
    }
    #expect(firsts == ["a.example.test", "b.example.test"], "equal preferences are tried in random order")
}

@Test func routingFailures() async throws {
    let server = try await FakeNameserver.start { query, _ in
        guard let (name, type) = question(of: query) else { return nil }
        switch name {
        case "nx.test": return response(to: query, rcode: 3)
        case "fail.test": return response(to: query, rcode: 2)
        case "null.test": return response(to: query, records: [record(name, type: 15, data: mxData(0, "."))])
        case "noaddress.test":
            return type == 15
                ? response(to: query, records: [record(name, type: 15, data: mxData(5, "nx.test"))])
                : response(to: query)
        default: return response(to: query)
        }
    }
    defer { server.stop() }
    let router = MailRouter(client: try client(server.port))
    guard case .permanentFailure(let nx) = await router.route("nx.test") else { return #expect(Bool(false)) }
    #expect(nx.contains("NXDOMAIN"))
    guard case .temporaryFailure = await router.route("fail.test") else { return #expect(Bool(false)) }
    guard case .permanentFailure(let null) = await router.route("null.test") else { return #expect(Bool(false)) }
    #expect(null.contains("null MX"))
    guard case .permanentFailure = await router.route("empty.test") else { return #expect(Bool(false)) }
    guard case .temporaryFailure = await router.route("noaddress.test") else { return #expect(Bool(false)) }
}

@Test func positiveAnswersAreCachedForTheirTTL() async throws {
    let queries = Mutex(0)
    let server = try await FakeNameserver.start { query, _ in
        queries.withLock { $0 += 1 }
        guard let (name, type) = question(of: query) else { return nil }
        if type == 15 {
            return response(to: query, records: [record(name, type: 15, data: mxData(10, "mx.example.test"))])
        }
        return type == 1
            ? response(to: query, records: [record(name, type: 1, data: [192, 0, 2, 1])]) : response(to: query)
    }
    defer { server.stop() }
    let router = MailRouter(client: try client(server.port))
    for _ in 0..<3 {
        guard case .hosts = await router.route("example.test") else { return #expect(Bool(false)) }
    }
    // MX, AAAA (empty: not cached, asked each time) and A for the first route; then AAAA only.
    #expect(queries.withLock { $0 } == 3 + 2)
    let uncached = MailRouter(client: try client(server.port), cache: nil)
    _ = await uncached.route("example.test")
    #expect(queries.withLock { $0 } == 5 + 3)
}

@Test func cacheIsBounded() async {
    let cache = DNSCache(capacity: 2)
    let record = DNSRecord(name: DNSName("a.test")!, type: .a, ttl: 60, data: .a([192, 0, 2, 1]))
    for name in ["a.test", "b.test", "c.test"] { await cache.store([record], for: DNSName(name)!, .a) }
    #expect(await cache.count == 2)
    #expect(await cache.records(DNSName("c.test")!, .a) == [record])
    await cache.store(
        [DNSRecord(name: DNSName("z.test")!, type: .a, ttl: 0, data: .a([0, 0, 0, 0]))], for: DNSName("z.test")!, .a)
    #expect(await cache.records(DNSName("z.test")!, .a) == nil, "TTL 0 is not kept")
}
