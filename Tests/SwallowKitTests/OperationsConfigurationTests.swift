import SMTPServer
import SwallowKit
import Testing

/// `[http]`, `user`, `group` and `allow_root`, and what the daemon decides about root from them.
@Suite struct OperationsConfigurationTests {
    @Test func httpIsOnWithoutAFileAndOffInAFileWithoutSection() throws {
        #expect(SwallowConfiguration().httpListen == ListenAddress(host: "127.0.0.1", port: 8025))
        #expect(try ConfigurationLoader.parse("hostname = \"mx.example.test\"\n", file: "s.toml").httpListen == nil)
    }

    @Test func httpSection() throws {
        let defaulted = try ConfigurationLoader.parse("[http]\n", file: "s.toml")
        #expect(defaulted.httpListen == ListenAddress(host: "127.0.0.1", port: 8025))
        let set = try ConfigurationLoader.parse("[http]\nlisten = \"[::1]:9100\"\n", file: "s.toml")
        #expect(set.httpListen == ListenAddress(host: "::1", port: 9100))
    }

    @Test(arguments: [
        ("[http]\nlisten = \"8025\"\n", "s.toml: http.listen: \"8025\" is not HOST:PORT (for IPv6: [ADDRESS]:PORT)"),
        ("[http]\nlisten = 8025\n", "s.toml: http.listen: expected a string, found integer"),
        ("[http]\nport = 8025\n", "s.toml: http.port: unknown key (allowed here: listen)"),
        ("user = \"\"\n", "s.toml: user: \"\" is not a user or group name"),
        ("user = \"a:b\"\n", "s.toml: user: \"a:b\" is not a user or group name"),
        ("group = \"mail\"\n", "s.toml: group: needs user"),
        ("allow_root = \"yes\"\n", "s.toml: allow_root: expected true or false, found string"),
    ])
    func errorsNameFileKeyAndProblem(text: String, expected: String) {
        do {
            _ = try ConfigurationLoader.parse(text, file: "s.toml")
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func accountKeys() throws {
        let config = try ConfigurationLoader.parse(
            "user = \"nobody\"\ngroup = \"nogroup\"\nallow_root = true\n", file: "s.toml")
        #expect(config.user == "nobody")
        #expect(config.group == "nogroup")
        #expect(config.allowRoot)
    }

    @Test func rootWithoutUserIsRefusedBeyondLoopbackOnly() throws {
        var config = SwallowConfiguration()
        #expect(try PrivilegePlan.decide(config, effectiveUID: 0) == .keep)
        config.listen = [ListenAddress(host: "0.0.0.0", port: 25)]
        #expect(throws: DaemonSetupError.self) { try PrivilegePlan.decide(config, effectiveUID: 0) }
        #expect(try PrivilegePlan.decide(config, effectiveUID: 1000) == .keep)
        config.allowRoot = true
        #expect(try PrivilegePlan.decide(config, effectiveUID: 0) == .keep)
        // The HTTP listener counts too.
        config = SwallowConfiguration()
        config.httpListen = ListenAddress(host: "0.0.0.0", port: 8025)
        #expect(throws: DaemonSetupError.self) { try PrivilegePlan.decide(config, effectiveUID: 0) }
    }

    @Test func rootWithUserDrops() throws {
        var config = SwallowConfiguration()
        config.listen = [ListenAddress(host: "0.0.0.0", port: 25)]
        config.user = "nobody"
        guard case .drop(let account) = try PrivilegePlan.decide(config, effectiveUID: 0) else {
            Issue.record("expected a drop")
            return
        }
        #expect(account.user == "nobody")
        #expect(account.uid != 0)
        // Already that user (systemd's User=): nothing to do. Another unprivileged user cannot switch.
        #expect(try PrivilegePlan.decide(config, effectiveUID: account.uid) == .keep)
        #expect(throws: DaemonSetupError.self) { try PrivilegePlan.decide(config, effectiveUID: account.uid + 1) }
        config.user = "no-such-user-at-all"
        #expect(throws: DaemonSetupError.self) { try PrivilegePlan.decide(config, effectiveUID: 0) }
    }
}
