import ArgumentParser
import SwallowKit

/// `swallow check-config FILE`: validate a configuration without starting anything.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check a configuration file and print the settings in effect.")

    @Argument(help: "The TOML configuration file.")
    var file: String

    func run() async throws {
        do {
            let configuration = try ConfigurationLoader.load(file: file)
            print("\(file): OK")
            print("hostname: \(configuration.hostname)")
            print("listen: \(configuration.listen.map(\.description).joined(separator: ", "))")
            print("data_dir: \(configuration.dataDirectory)")
            print("domains: \(configuration.domains.map(\.name).joined(separator: ", "))")
            print("catch_all: \(configuration.isCatchAll)")
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
    }
}
