import SwallowKit
import Testing

@Suite struct ConnectionCapacityTests {
    @Test func theDefaultLimitFollowsDescriptorsAndMemory() {
        let gib = 1 << 30
        #expect(ConnectionCapacity.defaultLimit(descriptors: 20_000, memory: 24 * gib) == 19_744)
        #expect(ConnectionCapacity.defaultLimit(descriptors: 1024, memory: 24 * gib) == 768)
        // One connection per 64 KiB of memory at most.
        #expect(ConnectionCapacity.defaultLimit(descriptors: 1_048_576, memory: gib) == 16_384)
        // Never below the old fixed default, nor above 100,000.
        #expect(ConnectionCapacity.defaultLimit(descriptors: 300, memory: 24 * gib) == 500)
        #expect(ConnectionCapacity.defaultLimit(descriptors: .max, memory: .max) == 100_000)
    }

    @Test func raisingTheDescriptorLimitNeverLowersIt() {
        let first = ConnectionCapacity.raiseDescriptorLimit()
        #expect(first >= 64)
        #expect(ConnectionCapacity.raiseDescriptorLimit() == first)
    }

    @Test func timeoutsAgainstIdleClientsCanBeSet() throws {
        let config = try ConfigurationLoader.parse(
            "[timeouts]\nhello = 30\ncommand_line = 60\nunder_pressure = 5\n[limits]\nmax_connections = 42\n",
            file: "swallow.toml")
        #expect(config.helloTimeout == 30)
        #expect(config.commandLineTimeout == 60)
        #expect(config.pressureTimeout == 5)
        #expect(config.effectiveMaxConnections == 42)
        let server = config.serverConfiguration
        #expect(server.helloTimeout == .seconds(30))
        #expect(server.pressureTimeout == .seconds(5))
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse("[timeouts]\nhello = 0\n", file: "swallow.toml")
        }
        let defaults = try ConfigurationLoader.parse("", file: "swallow.toml")
        #expect(defaults.maxConnections == nil)
        #expect(defaults.effectiveMaxConnections >= 500)
    }
}
