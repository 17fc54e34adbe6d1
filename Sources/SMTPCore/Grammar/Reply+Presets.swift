// Replies used in more than one place, named after what they mean rather than their number.
extension Reply {
    public static let ok = Reply(250, .init(2, 0, 0), "OK")
    public static let senderOK = Reply(250, .init(2, 1, 0), "Sender OK")
    public static let recipientOK = Reply(250, .init(2, 1, 5), "Recipient OK")
    public static let resetOK = Reply(250, .init(2, 0, 0), "Reset OK")
    public static let startMailInput = Reply(354, nil, "Start mail input; end with <CRLF>.<CRLF>")
    public static let bye = Reply(221, .init(2, 0, 0), "Bye")

    public static let badSequence = Reply(503, .init(5, 5, 1), "Bad sequence of commands")
    public static let needHelo = Reply(503, .init(5, 5, 1), "Send HELO or EHLO first")
    public static let needMail = Reply(503, .init(5, 5, 1), "Need MAIL command first")
    public static let nestedMail = Reply(503, .init(5, 5, 1), "Sender already specified; send RSET to start over")
    public static let needRecipient = Reply(503, .init(5, 5, 1), "Need a valid RCPT command first")
    public static let unknownCommand = Reply(500, .init(5, 5, 2), "Command not recognized")
    public static let lineTooLong = Reply(500, .init(5, 5, 2), "Line too long (at most 512 octets with CRLF)")
    public static let notImplemented = Reply(502, .init(5, 5, 1), "Command not implemented")

    public static let localError = Reply(451, .init(4, 3, 0), "Local error in processing; try again later")
    public static let insufficientStorage = Reply(452, .init(4, 3, 1), "Insufficient system storage; try again later")
    public static let tooManyRecipients = Reply(452, .init(4, 5, 3), "Too many recipients")
    public static let messageTooBig = Reply(552, .init(5, 3, 4), "Message size exceeds fixed maximum message size")
    public static let badLineEndings = Reply(
        550, .init(5, 6, 0), "Message refused: bare CR or LF found; lines must end with CRLF")
    public static let nonASCIIAddress = Reply(
        553, .init(5, 6, 7), "Non-ASCII address requires the SMTPUTF8 parameter on MAIL")

    public static let noSuchUser = Reply(550, .init(5, 1, 1), "No such user here")
    public static let relayDenied = Reply(550, .init(5, 7, 1), "Relay access denied")
    public static let cannotVerify = Reply(
        252, .init(2, 5, 0), "Cannot VRFY user, but will accept message and attempt delivery")
    public static let expnDisabled = Reply(502, .init(5, 5, 1), "EXPN not available")
    public static let turnRefused = Reply(530, .init(5, 7, 0), "TURN requires an authenticated session; refused")

    public static let readyToStartTLS = Reply(220, .init(2, 0, 0), "Ready to start TLS")
    public static let alreadyTLS = Reply(503, .init(5, 5, 1), "TLS already active")
    public static let authSucceeded = Reply(235, .init(2, 7, 0), "Authentication successful")
    public static let authFailed = Reply(535, .init(5, 7, 8), "Authentication credentials invalid")
    public static let authCancelled = Reply(501, .init(5, 5, 2), "Authentication cancelled")
    public static let authMalformed = Reply(501, .init(5, 5, 2), "Malformed authentication response")
    public static let authUnknownMechanism = Reply(504, .init(5, 5, 4), "Unrecognized authentication mechanism")
    public static let authNeedsTLS = Reply(
        538, .init(5, 7, 11), "Encryption required for requested authentication mechanism")
    public static let authAlreadyDone = Reply(503, .init(5, 5, 1), "Already authenticated")
    public static let authInTransaction = Reply(503, .init(5, 5, 1), "AUTH not permitted during a mail transaction")
    public static let authThrottled = Reply(
        454, .init(4, 7, 0), "Too many failed authentications; try again later")
    public static let authRequired = Reply(530, .init(5, 7, 0), "Authentication required")
    public static let turnNotAvailable = Reply(502, .init(5, 5, 1), "TURN is not available")
    public static let tooManyErrors = Reply(421, .init(4, 7, 0), "Too many errors; closing connection")
    public static let timeout = Reply(421, .init(4, 4, 2), "Timeout exceeded; closing connection")
    public static let shuttingDown = Reply(421, .init(4, 3, 2), "Server shutting down; closing connection")
    public static let tooManyConnections = Reply(421, .init(4, 7, 0), "Too many connections; try again later")
}

// Replies that end a connection because a limit was reached or a rule broken (see `HangUpReason`).
extension Reply {
    public static let pregreet = Reply(554, .init(5, 7, 1), "Protocol error: you talked before the greeting; closing")
    public static let earlyPipelining = Reply(
        554, .init(5, 5, 0), "Protocol synchronization error: command sent before the previous reply; closing")
    public static let tooManyCommands = Reply(421, .init(4, 7, 0), "Too many commands per second; closing connection")
    public static let dataRateTooLow = Reply(421, .init(4, 4, 2), "Message data too slow; closing connection")
    public static let sessionBytesExceeded = Reply(
        421, .init(4, 7, 0), "Too much data in one session; closing connection")
    public static let sessionExpired = Reply(421, .init(4, 4, 2), "Session time limit exceeded; closing connection")
}
