import SMTPCore
import SwallowKit
import Testing

@Suite struct ConfigurationLoaderTests {
    static let blackBox = """
        hostname = "mx.example.test"
        listen = ["127.0.0.1:2525", "[::1]:2525"]
        data_dir = "/var/lib/swallow"
        [limits]
        max_message_size = 1048576
        max_errors = 5
        [timeouts]
        command = 60
        [policy]
        vrfy = "enabled"
        expn = "enabled"
        bare_line_endings = "normalize"
        [domains."example.test"]
        mailboxes = ["alice", "bob"]
        aliases = { team = ["alice", "bob"] }
        """

    @Test func readsEverySection() throws {
        let config = try ConfigurationLoader.parse(Self.blackBox, file: "swallow.toml")
        #expect(config.hostname == "mx.example.test")
        #expect(config.listen.map(\.description) == ["127.0.0.1:2525", "[::1]:2525"])
        #expect(config.dataDirectory == "/var/lib/swallow")
        #expect(config.maxMessageSize == 1_048_576)
        #expect(config.maxErrors == 5)
        #expect(config.maxRecipients == 100)
        #expect(config.commandTimeout == 60)
        #expect(config.vrfy == .enabled)
        #expect(config.expn == .enabled)
        #expect(config.bareLineEndings == .normalize)
        #expect(
            config.domains == [
                DomainConfiguration(
                    name: "example.test", mailboxes: ["alice", "bob"], aliases: ["team": ["alice", "bob"]])
            ])
        #expect(!config.isCatchAll)
        #expect(config.serverConfiguration.session.maxMessageSize == 1_048_576)
    }

    @Test func emptyFileGivesTheSafeDefaults() throws {
        let config = try ConfigurationLoader.parse("", file: "empty.toml")
        #expect(config.listen.map(\.description) == ["127.0.0.1:2525"])
        #expect(config.isCatchAll)
        #expect(config.vrfy == .authenticated)
        #expect(config.expn == .authenticated)
        #expect(config.bareLineEndings == .reject)
    }

    @Test(
        arguments: [
            ("max_errors = 3", nil, "unknown key"),
            ("[limits]\nmax_errors = \"ten\"", "limits.max_errors", "expected an integer, found string"),
            ("[limits]\nmax_recipients = 0", "limits.max_recipients", "out of range"),
            ("[limits]\nmax_sizes = 1", "limits.max_sizes", "unknown key"),
            ("listen = \"localhost\"", "listen[0]", "HOST:PORT"),
            ("[policy]\nvrfy = \"yes\"", "policy.vrfy", "must be \"disabled\""),
            ("[policy]\nbare_line_endings = 1", "policy.bare_line_endings", "expected a string"),
            (
                "[domains.\"example.test\"]\nmailboxes = [\"a b\"]", "domains.\"example.test\".mailboxes[0]",
                "not a valid mailbox"
            ),
            (
                "[domains.\"example.test\"]\nmailboxes = [\"alice\"]\naliases = { team = [\"zed\"] }",
                "domains.\"example.test\".aliases.team", "neither a mailbox nor an alias"
            ),
            (
                "[domains.\"example.test\"]\naliases = { out = [\"x@gmail.example\"] }",
                "domains.\"example.test\".aliases.out", "not in a local domain"
            ),
            ("hostname = 5", "hostname", "expected a string"),
            ("[limits]\ngreeting_delay = \"6s\"", "limits.greeting_delay", "expected a number of seconds"),
            ("[limits]\ngreeting_delay = -1", "limits.greeting_delay", "out of range"),
            ("[limits]\ngreeting_delay = 301", "limits.greeting_delay", "out of range"),
            ("[limits]\ncommands_per_second = -5", "limits.commands_per_second", "out of range"),
            ("[limits]\ncommand_burst = 0", "limits.command_burst", "out of range"),
            (
                "[limits]\nmin_data_rate = 1.5", "limits.min_data_rate",
                "expected an integer, found floating-point number"
            ),
            ("[limits]\nmin_data_rate_grace = nan", "limits.min_data_rate_grace", "expected a number of seconds"),
            ("[limits]\nmax_session_bytes = -1", "limits.max_session_bytes", "out of range"),
            (
                "[limits]\nmax_message_size = 1000\nmax_session_bytes = 999", "limits.max_session_bytes",
                "less than one message"
            ),
            ("[policy]\nearly_pipelining = \"no\"", "policy.early_pipelining", "must be \"reject\" or \"allow\""),
        ] as [(String, String?, String)])
    func badFilesNameTheFileTheKeyAndTheProblem(text: String, key: String?, message: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(text, file: "/etc/swallow.toml")
        }
        #expect(error.file == "/etc/swallow.toml")
        if let key {
            #expect(error.key == key)
        } else {
            #expect(error.key == "max_errors")
        }
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("/etc/swallow.toml: "))
    }

    @Test func floodLimitsHaveDefaultsAndCanBeSet() throws {
        let defaults = try ConfigurationLoader.parse("", file: "empty.toml").serverConfiguration
        #expect(defaults.limits == ConnectionLimits())
        #expect(defaults.limits.greetingDelay == .zero)
        #expect(defaults.limits.sessionByteLimit(maxMessageSize: defaults.session.maxMessageSize) == 262_144_000)
        #expect(defaults.session.rejectEarlyPipelining)

        let text = """
            [limits]
            max_message_size = 1000
            greeting_delay = 0.5
            commands_per_second = 7
            command_burst = 9
            min_data_rate = 100
            min_data_rate_grace = 3
            max_session_bytes = 5000
            [policy]
            early_pipelining = "allow"
            """
        let server = try ConfigurationLoader.parse(text, file: "limits.toml").serverConfiguration
        #expect(
            server.limits
                == ConnectionLimits(
                    greetingDelay: .milliseconds(500), commandsPerSecond: 7, commandBurst: 9, minDataRate: 100,
                    minDataRateGrace: .seconds(3), maxSessionBytes: 5000))
        #expect(!server.session.rejectEarlyPipelining)
        let off = try ConfigurationLoader.parse("[limits]\nmax_session_bytes = 0", file: "x.toml")
        #expect(off.serverConfiguration.limits.sessionByteLimit(maxMessageSize: 1000) == 0)
    }

    @Test func invalidTOMLNamesTheLine() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse("hostname = \"a\"\n[limits\nx=1", file: "bad.toml")
        }
        #expect(error.description.hasPrefix("bad.toml: invalid TOML at line 2"))
    }

    @Test func missingFileIsReported() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: "/nonexistent/swallow.toml")
        }
        #expect(error.description.contains("/nonexistent/swallow.toml: cannot read file"))
    }
}
