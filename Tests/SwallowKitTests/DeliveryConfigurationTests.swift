import SwallowKit
import Testing

@Suite struct DeliveryConfigurationTests {
    @Test func defaultsWithoutASection() throws {
        let config = try ConfigurationLoader.parse("", file: "swallow.toml")
        #expect(config.delivery == DeliverySettings())
        #expect(config.delivery.port == 25)
        #expect(config.delivery.lifetime == 5 * 86_400)
        #expect(config.delivery.nameservers.isEmpty)
        #expect(config.queueDirectory == "./swallow-data/queue")
    }

    @Test func readsTheSection() throws {
        let config = try ConfigurationLoader.parse(
            """
            [delivery]
            nameservers = ["127.0.0.1:5353", "[::1]:53"]
            dns_timeout = 0.5
            port = 2526
            smarthost = "10.0.0.1:2526"
            tls = "required"
            retry_initial = 1
            retry_maximum = 2.5
            lifetime = 60
            concurrency = 4
            greeting_timeout = 10
            command_timeout = 11
            data_timeout = 12
            data_end_timeout = 13
            connect_timeout = 3
            """, file: "swallow.toml")
        let delivery = config.delivery
        #expect(delivery.nameservers == ["127.0.0.1:5353", "[::1]:53"])
        #expect(delivery.dnsTimeout == 0.5)
        #expect(delivery.port == 2526)
        #expect(delivery.smarthost == "10.0.0.1:2526")
        #expect(delivery.tls == "required")
        #expect(delivery.retryInitial == 1 && delivery.retryMaximum == 2.5 && delivery.lifetime == 60)
        #expect(delivery.concurrency == 4)
        #expect(delivery.greetingTimeout == 10 && delivery.commandTimeout == 11)
        #expect(delivery.dataTimeout == 12 && delivery.dataEndTimeout == 13 && delivery.connectTimeout == 3)
        // One nameserver may be a plain string.
        let one = try ConfigurationLoader.parse("[delivery]\nnameservers = \"192.0.2.53\"", file: "f.toml")
        #expect(one.delivery.nameservers == ["192.0.2.53"])
    }

    @Test(arguments: [
        ("[delivery]\nnameservers = [\"dns.example\"]", "delivery.nameservers[0]"),
        ("[delivery]\nport = 0", "delivery.port"),
        ("[delivery]\nsmarthost = \"relay.example\"", "delivery.smarthost"),
        ("[delivery]\ntls = \"maybe\"", "delivery.tls"),
        ("[delivery]\nretry_initial = 600\nretry_maximum = 60", "delivery.retry_maximum"),
        ("[delivery]\nlifetime = \"5d\"", "delivery.lifetime"),
        ("[delivery]\nconcurrency = 0", "delivery.concurrency"),
        ("[delivery]\nrelayhost = \"x\"", "delivery.relayhost"),
        ("delivery = 3", "delivery"),
        ("[delivery]\nsmarthost = \"10.0.0.1:25\"\nsmarthost_user = \"u\"", "delivery.smarthost_user"),
        ("[delivery]\nsmarthost_user = \"u\"\nsmarthost_password_file = \"/p\"", "delivery.smarthost_user"),
        (
            "[delivery]\nsmarthost = \"10.0.0.1:25\"\nsmarthost_user = \"u\"\nsmarthost_password_file = \"/p\"\ntls = \"none\"",
            "delivery.tls"
        ),
    ])
    func refusesBadValues(text: String, key: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(text, file: "swallow.toml")
        }
        #expect(error.file == "swallow.toml")
        #expect(error.key == key, "\(error)")
    }
}
