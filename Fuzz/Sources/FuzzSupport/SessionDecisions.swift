import SMTPCore

private let mechanisms = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]

/// A session configuration, and whether the connection starts in TLS, from decisions: XORed with the defaults, so
/// that a used-up input gives the default session with AUTH allowed in the clear.
public func fuzzSessionConfiguration(_ input: inout FuzzInput) -> (SessionConfiguration, isTLS: Bool) {
    let flags = input.choiceByte() ^ 0b0000_0111
    let choices = input.choiceByte()
    var config = SessionConfiguration(hostname: "mx.example")
    config.chunking = flags & 1 != 0
    config.dsn = flags & 2 != 0
    config.smtpUTF8 = flags & 4 != 0
    config.startTLS = flags & 8 != 0
    config.requireAuth = flags & 16 != 0
    config.bareLineEndings = flags & 32 != 0 ? .normalize : .reject
    let isTLS = flags & 64 != 0
    config.authWithoutTLS = flags & 128 == 0
    let offered = (choices & 7) ^ 7
    config.authMechanisms = mechanisms.enumerated().filter { offered & (1 << $0.offset) != 0 }.map(\.element)
    let policies: [LookupPolicy] = [.authenticated, .enabled, .disabled]
    config.vrfy = policies[Int(choices >> 3 & 3) % 3]
    config.expn = policies[Int(choices >> 5 & 3) % 3]
    config.rejectEarlyPipelining = choices & 0x80 == 0
    config.maxErrors = [10, 0, 1, 3][input.choice(4)]
    config.maxRecipients = [100, 1, 2][input.choice(3)]
    config.maxMessageSize = [25 * 1024 * 1024, 0, 10, 200][input.choice(4)]
    config.maxAuthFailures = [3, 0, 1][input.choice(3)]
    return (config, isTLS)
}

/// Connection limits from decisions: the defaults, none, tight ones, or any.
public func fuzzConnectionLimits(_ input: inout FuzzInput) -> ConnectionLimits {
    var limits = ConnectionLimits()
    switch input.choice(4) {
    case 0: break
    case 1: limits = ConnectionLimits(commandsPerSecond: 0, minDataRate: 0, maxSessionBytes: 0)
    case 2:
        limits = ConnectionLimits(
            commandsPerSecond: 2, commandBurst: 3, minDataRate: 10, minDataRateGrace: .seconds(1), maxSessionBytes: 300)
    default:
        limits = ConnectionLimits(
            commandsPerSecond: input.choice(in: 0...Int(Int32.max)), commandBurst: input.choice(in: 0...Int(Int32.max)),
            minDataRate: input.choice(in: 0...Int(Int32.max)), minDataRateGrace: .seconds(input.choice(in: 0...1000)),
            maxSessionBytes: input.choiceBool() ? nil : input.choice(in: 0...Int(Int32.max)))
    }
    return limits
}
