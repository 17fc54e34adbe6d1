import ArgumentParser
import SwallowKit

/// The `swallow` command line. `serve` is the default subcommand.
public struct SwallowCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swallow",
        abstract: "Swallow, an SMTP mail server.",
        version: SwallowVersion.current,
        subcommands: [Serve.self, CheckConfig.self, StatusCommand.self, UserCommand.self, CertCommand.self],
        defaultSubcommand: Serve.self
    )

    public init() {}
}
