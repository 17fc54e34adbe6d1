import Logging
import MailStore
import SMTPServer

/// Assembles the daemon from a configuration: the directory, the Maildir backend and the SMTP server.
public struct SwallowDaemon: Sendable {
    public let configuration: SwallowConfiguration
    public let server: SMTPServer

    public init(configuration: SwallowConfiguration, logger: Logger) throws(MaildirError) {
        self.configuration = configuration
        // Fail at start, not at the first message, when the data directory cannot be made.
        try Maildir(path: configuration.mailDirectory).createRoot()
        let directory = Directory(
            domains: configuration.domains, catchAll: configuration.isCatchAll, fallbackDomain: configuration.hostname)
        let backend = LocalDeliveryBackend(
            directory: directory, mailDirectory: configuration.mailDirectory, hostname: configuration.hostname)
        self.server = SMTPServer(configuration: configuration.serverConfiguration, backend: backend, logger: logger)
    }

    /// What the daemon tells a person at start: where it listens and where mail goes.
    public func banner(listening addresses: [String]) -> String {
        let who =
            configuration.isCatchAll && configuration.domains.isEmpty
            ? "accepting mail for any recipient (catch-all), relaying nothing"
            : "accepting mail for \(configuration.domains.map(\.name).joined(separator: ", ")), relaying nothing"
        return """
            Swallow listening on \(addresses.joined(separator: ", ")) as \(configuration.hostname)
            \(who); mail is stored in \(configuration.mailDirectory)/<domain>/<user>/new
            """
    }
}
