/// A delivery status notification (RFC 3464): `multipart/report; report-type=delivery-status` with a text part
/// for people, a `message/delivery-status` part for programs, and the original message (or its headers when
/// `RET=HDRS` was asked, RFC 3461 §4.3).
public struct DeliveryStatusReport: Sendable {
    /// This host's name: `Reporting-MTA`, the `From:` address's domain and the Message-ID's.
    public var reportingMTA: String
    /// The report's `Date:` (RFC 5322 form).
    public var date: String
    /// The original message's arrival, RFC 5322 form.
    public var arrivalDate: String
    /// Unique per report: the MIME boundary and the Message-ID's left side.
    public var token: String

    public init(reportingMTA: String, date: String, arrivalDate: String, token: String) {
        self.reportingMTA = reportingMTA
        self.date = date
        self.arrivalDate = arrivalDate
        self.token = token
    }

    /// The bounce for `failed` recipients of `message`, addressed to its sender (never call this for the null
    /// sender). `expired` says the recipients failed because the message stayed too long in the queue.
    public func bounce(for message: QueuedMessage, failed: [QueuedRecipient], original: [UInt8], expired: Bool)
        -> [UInt8]
    {
        let intro =
            expired
            ? "Your message could not be delivered to the recipients below before it expired from the queue.\n"
            : "Your message could not be delivered to the recipients below; the receiving servers refused it.\n"
        return render(
            message, failed, original: original, subject: "Undelivered Mail Returned to Sender", intro: intro,
            action: "failed")
    }

    /// The success report for recipients that asked for one (`NOTIFY=SUCCESS`) and whose message went to a server
    /// that does not offer DSN: Swallow's responsibility ends there, so it reports `relayed` (RFC 3461 §6.2.3.1).
    public func relayed(for message: QueuedMessage, recipients: [QueuedRecipient], original: [UInt8]) -> [UInt8] {
        render(
            message, recipients, original: original, subject: "Successful Mail Delivery Report",
            intro: "Your message was relayed to the recipients below, whose servers send no further reports.\n",
            action: "relayed")
    }

    /// The warning that delivery to `recipients` is taking long and goes on (RFC 3464 `Action: delayed`), with the
    /// original's headers only: the message itself is still on its way.
    public func delayed(for message: QueuedMessage, recipients: [QueuedRecipient], original: [UInt8], until: String)
        -> [UInt8]
    {
        var headersOnly = message
        headersOnly.dsnReturn = "HDRS"
        return render(
            headersOnly, recipients, original: original, subject: "Delayed Mail (still being retried)",
            intro:
                "Your message could not be delivered yet to the recipients below. It will be retried until \(until).\n",
            action: "delayed")
    }

    private func render(
        _ message: QueuedMessage, _ failed: [QueuedRecipient], original: [UInt8], subject: String, intro: String,
        action: String
    ) -> [UInt8] {
        let boundary = "\(token)/\(reportingMTA)"
        var text = """
            From: Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>
            To: <\(message.sender.isEmpty ? "postmaster@\(reportingMTA)" : message.sender)>
            Subject: \(subject)
            Date: \(date)
            Message-ID: <\(token)@\(reportingMTA)>
            Auto-Submitted: auto-replied
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="\(boundary)"

            This is a MIME-encapsulated message.

            --\(boundary)
            Content-Type: text/plain; charset=utf-8
            Content-Description: Notification

            This is the mail system at \(reportingMTA).

            """
        text += intro + "\n"
        for recipient in failed {
            text += "<\(recipient.address)>: \(recipient.lastHost.map { "host \($0) said: " } ?? "")"
            text += "\(recipient.lastReply?.description ?? "no reply")\n"
        }
        text += """

            --\(boundary)
            Content-Type: message/delivery-status
            Content-Description: Delivery report

            Reporting-MTA: dns; \(reportingMTA)

            """
        if let id = message.envelopeID { text += "Original-Envelope-Id: \(Self.clean(id))\n" }
        text += "Arrival-Date: \(arrivalDate)\n"
        for recipient in failed {
            text += "\nFinal-Recipient: rfc822; \(Self.clean(recipient.address))\n"
            if let original = recipient.originalRecipient {
                text += "Original-Recipient: \(Self.clean(original.replacingFirst(";", with: "; ")))\n"
            }
            text += "Action: \(action)\n"
            text += "Status: \(recipient.lastReply?.status ?? (action == "failed" ? "5.0.0" : "2.0.0"))\n"
            if let host = recipient.lastHost, let name = host.split(separator: "[").first {
                text += "Remote-MTA: dns; \(Self.clean(String(name)))\n"
            }
            if let reply = recipient.lastReply {
                text += "Diagnostic-Code: smtp; \(Self.clean(reply.description))\n"
            }
        }
        let headersOnly = message.dsnReturn == "HDRS"
        text += """

            --\(boundary)
            Content-Type: \(headersOnly ? "text/rfc822-headers" : "message/rfc822")
            Content-Description: \(headersOnly ? "Headers of the message" : "The message")


            """
        var bytes = Array(text.replacingNewlines().utf8)
        bytes += headersOnly ? Self.headers(of: original) : original
        if bytes.last != UInt8(ascii: "\n") { bytes += Array("\r\n".utf8) }
        bytes += Array("\r\n--\(boundary)--\r\n".utf8)
        return bytes
    }

    /// The header section of a message: everything up to and including the first empty line.
    static func headers(of message: [UInt8]) -> [UInt8] {
        let end = Array("\r\n\r\n".utf8)
        guard message.count >= 4 else { return message }
        for index in 0...(message.count - 4) where message[index..<(index + 4)].elementsEqual(end) {
            return Array(message[..<(index + 4)])
        }
        return message
    }

    /// A value for a header field: no line breaks or other control characters that could start a new field.
    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        var out = ""
        for character in self {
            if character == "\n" { out += "\r\n" } else { out.append(character) }
        }
        return out
    }

    fileprivate func replacingFirst(_ target: Character, with replacement: String) -> String {
        guard let position = firstIndex(of: target) else { return self }
        return String(self[..<position]) + replacement + String(self[index(after: position)...])
    }
}
