import Foundation
import MailQueue
import SMTPCore
import Testing

private func withDirectory(_ body: (String) async throws -> Void) async throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-queue-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try await body(path)
}

private func message(_ id: String, arrival: Double = 1000) -> QueuedMessage {
    QueuedMessage(
        id: id, sender: "alice@a.test",
        recipients: [
            QueuedRecipient(address: "bob@b.test"), QueuedRecipient(address: "carol@c.test", notify: ["NEVER"]),
        ],
        arrival: arrival, size: 5, eightBit: false, envelopeID: "env-1", dsnReturn: "HDRS",
        authenticatedUser: "alice@a.test")
}

@Suite("FileQueue")
struct FileQueueTests {
    @Test func enqueuedMessagesSurviveAReopen() async throws {
        try await withDirectory { path in
            let queue = try FileQueue(directory: path)
            try await queue.enqueue(message("A1"), body: Array("hello".utf8))
            let reopened = try FileQueue(directory: path)
            #expect(await reopened.all == [message("A1")])
            #expect(try await reopened.body(of: "A1") == Array("hello".utf8))
        }
    }

    @Test func claimsAreLeasedUntilUpdatedOrExpired() async throws {
        try await withDirectory { path in
            let queue = try FileQueue(directory: path)
            try await queue.enqueue(message("A1"), body: [])
            try await queue.enqueue(message("B2", arrival: 2000), body: [])
            #expect(await queue.claim(now: 999, limit: 10, lease: 60).isEmpty, "not due yet")
            #expect(await queue.claim(now: 1500, limit: 10, lease: 60).map(\.id) == ["A1"])
            #expect(await queue.claim(now: 1501, limit: 10, lease: 60).isEmpty, "held by the first claim")
            #expect(await queue.nextDue() == 2000)
            // The lease runs out: another worker may take it.
            #expect(await queue.claim(now: 1561, limit: 10, lease: 60).map(\.id) == ["A1"])
            var updated = message("A1")
            updated.recipients[0].status = .delivered
            updated.nextAttempt = 3000
            try await queue.update(updated)
            #expect(await queue.claim(now: 2500, limit: 10, lease: 60).map(\.id) == ["B2"])
            #expect(
                try await FileQueue(directory: path).all.first { $0.id == "A1" }?.recipients[0].status == .delivered)
            try await queue.complete("A1")
            #expect(await queue.count == 1)
            #expect(try await FileQueue(directory: path).count == 1)
            #expect(!FileManager.default.fileExists(atPath: "\(path)/A1.body"))
        }
    }

    @Test func aBodyWithoutEnvelopeIsACrashLeftover() async throws {
        try await withDirectory { path in
            _ = try FileQueue(directory: path)
            try Data("orphan".utf8).write(to: URL(fileURLWithPath: "\(path)/X9.body"))
            try Data("half".utf8).write(to: URL(fileURLWithPath: "\(path)/.Y.env.abc123"))
            let queue = try FileQueue(directory: path)
            #expect(await queue.count == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: path).isEmpty)
        }
    }

    @Test func queueIDsAreFileNames() {
        let id = FileQueue.makeID(now: 1_800_000_000)
        #expect(!id.isEmpty && id.allSatisfy { $0.isLetter || $0.isNumber })
        #expect(FileQueue.makeID(now: 1) != FileQueue.makeID(now: 1))
    }
}

@Test func retryScheduleBacksOffToItsMaximum() {
    let schedule = RetrySchedule(initialDelay: 300, maximumDelay: 4000, lifetime: 5 * 86_400)
    #expect((1...6).map { schedule.delay(afterAttempts: $0) } == [300, 600, 1200, 2400, 4000, 4000])
    #expect(schedule.delay(afterAttempts: 1000) == 4000)
    #expect(!schedule.hasExpired(arrival: 0, now: 5 * 86_400 - 1))
    #expect(schedule.hasExpired(arrival: 0, now: 5 * 86_400))
}

@Test func recipientsKeepTheirDSNParameters() {
    let recipient = QueuedRecipient(
        address: "bob@B.test", notify: ["SUCCESS", "FAILURE"], originalRecipient: "rfc822;bob@b.test")
    #expect(recipient.domain == "b.test")
    #expect(recipient.recipient.parameters.notify == DSNNotify(success: true, failure: true))
    #expect(
        recipient.recipient.parameters.originalRecipient
            == OriginalRecipient(addressType: "rfc822", address: "bob@b.test"))
    #expect(recipient.wantsFailureNotice)
    #expect(!QueuedRecipient(address: "x@y", notify: ["NEVER"]).wantsFailureNotice)
    #expect(message("A").reversePath == .mailbox(Mailbox(localPart: "alice", domain: "a.test")))
    var bounce = message("B")
    bounce.sender = ""
    #expect(bounce.reversePath == .null)
}

@Test func bounceIsAMultipartReport() {
    var failed = QueuedRecipient(address: "bob@b.test", originalRecipient: "rfc822;bob@b.test")
    failed.lastReply = StoredReply(Reply(550, .init(5, 1, 1), "No such user\r\nInjected: header"))
    failed.lastHost = "mx.b.test[192.0.2.1]:25"
    let report = DeliveryStatusReport(
        reportingMTA: "mx.a.test", date: "Mon, 07 Dec 2026 22:00:00 +0000",
        arrivalDate: "Mon, 07 Dec 2026 21:00:00 +0000", token: "T1")
    let original = Array("Subject: hi\r\nMessage-ID: <m@a.test>\r\n\r\nsecret body\r\n".utf8)
    let text = String(
        decoding: report.bounce(for: message("A"), failed: [failed], original: original, expired: false), as: UTF8.self)
    #expect(text.hasPrefix("From: Mail Delivery System <MAILER-DAEMON@mx.a.test>\r\nTo: <alice@a.test>\r\n"))
    #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status; boundary=\"T1/mx.a.test\"\r\n"))
    #expect(text.contains("\r\nContent-Type: message/delivery-status\r\n"))
    #expect(text.contains("\r\nOriginal-Envelope-Id: env-1\r\n"))
    #expect(
        text.contains(
            "\r\nFinal-Recipient: rfc822; bob@b.test\r\nOriginal-Recipient: rfc822; bob@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.b.test\r\n"
        ))
    #expect(!text.contains("\r\nInjected: header"), "a reply cannot add a header line")
    // RET=HDRS: the headers only.
    #expect(text.contains("Content-Type: text/rfc822-headers"))
    #expect(text.contains("Message-ID: <m@a.test>"))
    #expect(!text.contains("secret body"))
    #expect(text.hasSuffix("\r\n--T1/mx.a.test--\r\n"))
    #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "only CRLF line ends")
}
