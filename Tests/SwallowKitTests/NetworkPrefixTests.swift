import SwallowKit
import Testing

@Test func networkPrefixesMatchTheirAddresses() throws {
    let ten = try #require(NetworkPrefix("10.0.0.0/8"))
    #expect(ten.contains("10.1.2.3"))
    #expect(!ten.contains("11.0.0.1"))
    #expect(ten.contains("::ffff:10.9.9.9"), "IPv4-mapped IPv6 counts as IPv4")
    let odd = try #require(NetworkPrefix("192.0.2.128/25"))
    #expect(odd.contains("192.0.2.200") && !odd.contains("192.0.2.127"))
    let host = try #require(NetworkPrefix("192.0.2.1"))
    #expect(host.contains("192.0.2.1") && !host.contains("192.0.2.2"))
    let v6 = try #require(NetworkPrefix("2001:db8::/32"))
    #expect(v6.contains("2001:db8:1::5") && !v6.contains("2001:db9::1") && !v6.contains("10.0.0.1"))
    #expect(try #require(NetworkPrefix("0.0.0.0/0")).contains("203.0.113.9"))
    for bad in ["10.0.0.0/33", "::/129", "example.test", "10.0.0.0/", "10.0.0/8", "/8", "10.0.0.0/8/8"] {
        #expect(NetworkPrefix(bad) == nil, "\(bad)")
    }
}

@Test func trustedNetworksAreRead() throws {
    let config = try ConfigurationLoader.parse(
        "[delivery]\ntrusted_networks = [\"127.0.0.0/8\", \"::1\"]", file: "swallow.toml")
    #expect(config.delivery.trustedNetworks.map(\.description) == ["127.0.0.0/8", "::1"])
    let error = try #require(throws: ConfigurationError.self) {
        try ConfigurationLoader.parse("[delivery]\ntrusted_networks = [\"10.0.0.0/40\"]", file: "swallow.toml")
    }
    #expect(error.key == "delivery.trusted_networks[0]")
}
