/// Texts for `HELP` and `HELP <command>` (RFC 5321 §4.1.1.8).
public enum HelpText {
    static let topics: [Verb: [String]] = [
        .helo: ["HELO <hostname>", "Identify yourself and start a plain SMTP session."],
        .ehlo: ["EHLO <hostname>", "Identify yourself and start an ESMTP session; lists the extensions."],
        .mail: [
            "MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME|BINARYMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=id]",
            "Start a mail transaction; <> is the null sender of bounces.",
        ],
        .rcpt: [
            "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=rfc822;address]",
            "Add a recipient; repeat for each recipient.",
        ],
        .data: ["DATA", "Send the message after 354; end it with a line holding a single dot."],
        .bdat: ["BDAT <octets> [LAST]", "Send the next chunk of the message (CHUNKING)."],
        .rset: ["RSET", "Abandon the current transaction."],
        .noop: ["NOOP", "Do nothing; the server answers 250."],
        .quit: ["QUIT", "End the session."],
        .help: ["HELP [command]", "Show this text, or help on one command."],
        .vrfy: ["VRFY <name>", "Verify a mailbox name (may be disabled by policy)."],
        .expn: ["EXPN <list>", "Show the members of a mailing list (may be disabled by policy)."],
        .turn: ["TURN", "Reverse roles; refused unless the session is authenticated."],
        .startTLS: ["STARTTLS", "Start TLS (not offered by this server yet)."],
        .auth: ["AUTH <mechanism>", "Authenticate (not offered by this server yet)."],
    ]

    public static func reply(for topic: String?) -> Reply {
        guard let topic else {
            return Reply(
                214, .init(2, 0, 0),
                lines: [
                    "Swallow SMTP server. Commands:",
                    "HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN TURN",
                    "HELP <command> describes one command. See RFC 5321.",
                ])
        }
        guard let verb = Verb(rawValue: topic.utf8.asciiUppercasedString), let lines = topics[verb] else {
            return Reply(504, .init(5, 5, 1), "HELP topic \"\(topic.prefix(40))\" unknown")
        }
        return Reply(214, .init(2, 0, 0), lines: lines)
    }
}
