import Logging
import Testing

@testable import SwallowCLI

struct Refused: Error, CustomStringConvertible {
    var description: String { "refused" }
}

@Suite struct StandardErrorLogHandlerTests {
    private func line(
        _ handler: StandardErrorLogHandler, _ message: Logger.Message, metadata: Logger.Metadata? = nil,
        error: (any Error)? = nil
    ) -> String {
        let event = LogEvent(
            level: .info, message: message, error: error, metadata: metadata, source: "SMTPServer",
            file: #fileID, function: #function, line: #line)
        return handler.line(for: event, at: "2026-11-30T09:00:00+0000")
    }

    @Test func aLineWithoutMetadata() {
        let handler = StandardErrorLogHandler(label: "swallow")
        #expect(line(handler, "listening") == "2026-11-30T09:00:00+0000 info swallow: [SMTPServer] listening\n")
    }

    /// The handler's and the event's metadata in one key order, as `StreamLogHandler` prints them; on a key in
    /// both, the event's value.
    @Test func metadataIsMergedInKeyOrderAndTheEventWins() {
        var handler = StandardErrorLogHandler(label: "swallow")
        handler.metadata = ["conn": "C1", "client": "127.0.0.1", "to": "handler"]
        #expect(
            line(handler, "message accepted", metadata: ["id": "X", "to": "<a@b.test>", "from": "<>", "size": "3"])
                == "2026-11-30T09:00:00+0000 info swallow: client=127.0.0.1 conn=C1 from=<> id=X size=3 "
                + "to=<a@b.test> [SMTPServer] message accepted\n")
        #expect(
            line(handler, "closed") == "2026-11-30T09:00:00+0000 info swallow: client=127.0.0.1 conn=C1 to=handler "
                + "[SMTPServer] closed\n")
    }

    @Test func anErrorIsPrintedAsMetadata() {
        var handler = StandardErrorLogHandler(label: "")
        handler.metadata = ["conn": "C1"]
        #expect(
            line(handler, "failed", metadata: ["z": .stringConvertible(7)], error: Refused())
                == "2026-11-30T09:00:00+0000 info: conn=C1 error.message=refused "
                + "error.type=SwallowCLITests.Refused z=7 [SMTPServer] failed\n")
    }
}

@Suite struct JSONLogLineTests {
    private func line(_ handler: StandardErrorLogHandler, _ message: Logger.Message, metadata: Logger.Metadata? = nil)
        -> String
    {
        let event = LogEvent(
            level: .notice, message: message, error: nil, metadata: metadata, source: "SMTPServer",
            file: #fileID, function: #function, line: #line)
        return handler.line(for: event, at: "2026-11-30T09:00:00+0000")
    }

    @Test func oneObjectPerLineWithMetadataInKeyOrder() {
        var handler = StandardErrorLogHandler(label: "swallow")
        handler.lineFormat = .json
        handler.metadata = ["conn": "C1", "client": "127.0.0.1"]
        #expect(
            line(handler, "message accepted", metadata: ["id": "X1", "size": "3"])
                == #"{"time":"2026-11-30T09:00:00+0000","level":"notice","label":"swallow","source":"SMTPServer","#
                + #""message":"message accepted","client":"127.0.0.1","conn":"C1","id":"X1","size":"3"}"# + "\n")
    }

    @Test func stringsAreEscapedAndFixedKeysKept() {
        var handler = StandardErrorLogHandler(label: "swallow")
        handler.lineFormat = .json
        let text = line(handler, "a \"quoted\"\\ line\n\u{01}é", metadata: ["message": "from metadata"])
        #expect(
            text.hasSuffix(
                #""message":"a \"quoted\"\\ line\n\u0001é","meta.message":"from metadata"}"# + "\n"))
        #expect(text.filter { $0 == "\n" }.count == 1)
    }
}
