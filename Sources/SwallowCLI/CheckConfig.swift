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
            print(
                "limits: max_message_size=\(configuration.maxMessageSize) max_recipients=\(configuration.maxRecipients)"
                    + " max_errors=\(configuration.maxErrors) max_connections=\(configuration.effectiveMaxConnections)"
                    + " max_connections_per_client=\(configuration.maxConnectionsPerClient)"
                    + " greeting_delay=\(configuration.greetingDelay)"
                    + " commands_per_second=\(configuration.commandsPerSecond)"
                    + " command_burst=\(configuration.commandBurst) min_data_rate=\(configuration.minDataRate)"
                    + " min_data_rate_grace=\(configuration.minDataRateGrace)"
                    + " max_session_bytes=\(configuration.maxSessionBytes.map(String.init) ?? "default")")
            print("http: \(configuration.httpListen?.description ?? "off")")
            print(
                "user: \(configuration.user ?? "(whoever starts it)") group: \(configuration.group ?? "(the user's)")"
                    + " allow_root: \(configuration.allowRoot) log_format: \(configuration.logFormat.rawValue)")
            print(
                "storage: journal=\(configuration.journal) checkpoint_interval=\(configuration.checkpointInterval)"
                    + " (\(configuration.journalDirectory))")
            let delivery = configuration.delivery
            print(
                "delivery: nameservers="
                    + (delivery.nameservers.isEmpty ? "/etc/resolv.conf" : delivery.nameservers.joined(separator: ","))
                    + " port=\(delivery.port) smarthost=\(delivery.smarthost ?? "none") tls=\(delivery.tls)"
                    + " retry_initial=\(delivery.retryInitial) retry_maximum=\(delivery.retryMaximum)"
                    + " lifetime=\(delivery.lifetime) concurrency=\(delivery.concurrency)"
                    + " (\(configuration.queueDirectory))")
        } catch {
            Options.printError(error)
            throw ExitCode.failure
        }
    }
}
