import SwallowKit
import Testing

/// Inputs found by the configuration fuzzer (Fuzz/, target `config`), kept as regression tests.
@Suite struct ConfigurationFuzzRegressionTests {
    /// A value that starts with a date and has a `T` not followed by a digit made toml++ (inside TOMLKit) fail an
    /// `assert` and abort the process: `swallow check-config` died of SIGABRT instead of naming the error.
    @Test(arguments: [
        // The fuzzer's input.
        "listen =1979-05-27T.0.1:99999\"]\n[limits]\nmax_recipients = 0\nmax_message_siz = \"a.pem\" }]\n",
        "listen = 1979-05-27T.0.1:2525\n",
        "listen = [\"127.0.0.1:25\", 2024-02-29tx]\n",
        "[limits]\nmax_errors = { a = 2000-01-01T }\n",
        "hostname = \"mx.example\" # 1979-05-27T is only a comment here\ndata_dir = 1979-05-27T:00\n",
    ])
    func malformedDateTimeIsAnErrorNotACrash(text: String) {
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(text, file: "fuzz.toml") }
        do {
            _ = try ConfigurationLoader.parse(text, file: "fuzz.toml")
        } catch {
            #expect(error.message.contains("invalid TOML at line"))
        }
    }

    /// A table header whose `[` is not followed by a key made toml++'s `parse_key` fail an `assert` likewise.
    @Test(arguments: [
        // The fuzzer's input (the black-box test configuration with one line mutated).
        "hostname = \"mx.example.test\"\nlisten = [\"127.0.0.1:2525\", \"[:::1]2525\"]\ndata_dir = \"/var/lib/swallow\"\n"
            + "[limits]\nmax_message_size = 1048576\nmax_errors = 5\n[ = \"normalize\"\n[domains.\"example.test\"]\n"
            + "mailboxes = [\"alice\", \"bob\"]\naliases = { team = [\"alice\", \"bob\"] }\n",
        "[ = 1\n", "[.limits]\n", "[[ =x]]\n", "  [\t#]\n", "[\n",
        // Found next: a third `[`.
        "listen = \"127.0.0.1:2525\"\n\n[[[[limits]]]]\nmax_errors = 5\n", "[[[a]]]\n",
    ])
    func malformedTableHeaderIsAnErrorNotACrash(text: String) {
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(text, file: "fuzz.toml") }
    }

    /// A `}` where an array expects an element made toml++'s `parse_value` fail an `assert` likewise.
    @Test(arguments: [
        // The fuzzer's input, shortened to its last line.
        "[domains.\"example.test\"]\nmailboxes = [\"alice\", \"bob\"]\naliases = { team = [\"alice\", }bob\"] }\n",
        "listen = [}\n", "listen = [\"127.0.0.1:25\",\n  # comment\n  }\n]\n",
    ])
    func braceInArrayIsAnErrorNotACrash(text: String) {
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parse(text, file: "fuzz.toml") }
    }

    /// A nested array that starts a line is a value, not a table header.
    @Test func nestedArrayOnItsOwnLineIsNotAHeader() throws {
        let text = """
            listen = [
              "127.0.0.1:2525",
            ]
            [domains."example.test"]
            mailboxes = ["alice"]
            """
        let config = try ConfigurationLoader.parse(text, file: "x.toml")
        #expect(config.listen.map(\.description) == ["127.0.0.1:2525"])
    }

    /// The same characters inside strings and comments are left to the TOML parser, which reads them as text.
    @Test func dateLikeTextInStringsAndCommentsIsFine() throws {
        let text = """
            # 1979-05-27T. in a comment
            data_dir = "/srv/1979-05-27T.backup"
            log_level = 'info'   # '1979-05-27Tx'
            [domains."example.test"]
            mailboxes = ['\'\'1979-05-27Tx'\'\']
            """
        let config = try ConfigurationLoader.parse(text, file: "x.toml")
        #expect(config.dataDirectory == "/srv/1979-05-27T.backup")
        #expect(config.domains.first?.mailboxes == ["1979-05-27Tx"])
    }
}
