import Testing

@testable import SMTPCore

@Suite("HelpText")
struct HelpTextTests {
    @Test("HELP without a topic lists the commands")
    func overview() {
        let reply = HelpText.reply(for: nil)
        #expect(reply.codes == "214 2.0.0")
        #expect(reply.lines.count == 3)
        let text = reply.lines.joined(separator: " ")
        for command in ["HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "HELP", "VRFY", "EXPN"]
        {
            #expect(text.contains(command), "\(command) missing from HELP")
        }
    }

    @Test("every verb has a help topic", arguments: Verb.allCases)
    func topic(verb: Verb) {
        #expect(HelpText.topics[verb] != nil)
        let reply = HelpText.reply(for: verb.rawValue)
        #expect(reply.codes == "214 2.0.0")
        #expect(reply.lines.count == 2)
        #expect(reply.lines[0].hasPrefix(verb.rawValue))
        #expect(HelpText.reply(for: verb.rawValue.lowercased()) == reply)
    }

    @Test("the MAIL and RCPT topics name the parameters")
    func parameterTopics() {
        let mail = HelpText.reply(for: "MAIL").lines[0]
        for parameter in ["SIZE=", "BODY=", "SMTPUTF8", "RET=", "ENVID="] {
            #expect(mail.contains(parameter))
        }
        let rcpt = HelpText.reply(for: "rcpt").lines[0]
        #expect(rcpt.contains("NOTIFY="))
        #expect(rcpt.contains("ORCPT="))
    }

    @Test(
        "an unknown topic is 504 5.5.1",
        arguments: ["FOO", "", "MAILFROM", "SEND", "X", "ma\u{131}l", "\u{17F}tarttls", "quit!"])
    func unknownTopic(topic: String) {
        let reply = HelpText.reply(for: topic)
        #expect(reply.codes == "504 5.5.1")
        #expect(reply.lines == ["HELP topic \"\(topic)\" unknown"])
    }

    @Test("an unknown topic is echoed at most 40 characters long")
    func longTopic() {
        let topic = String(repeating: "z", count: 300)
        let reply = HelpText.reply(for: topic)
        #expect(reply.lines == ["HELP topic \"\(String(repeating: "z", count: 40))\" unknown"])
    }

    @Test("HELP texts fit a reply line")
    func lengths() {
        for lines in HelpText.topics.values {
            for line in lines {
                #expect(line.utf8.count < 500)
                #expect(!line.contains { $0.isNewline })
            }
        }
    }
}
