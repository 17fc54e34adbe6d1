/// The session's actions, turned into the connection's, and the answers to them.
extension ServerConnection {
    /// Carries out what the state machine decided: replies go out, backend questions wait for their answers.
    mutating func perform(_ action: Action, at now: Duration) -> ConnectionAction? {
        switch action {
        case .send(let replies, let closing):
            if closing { return close(replies, .quit) }
            if machine.greeting != nil { deadlines.greeted = true }
            return .send(replies)
        case .hangUp(let replies, let reason):
            return hangUp(replies, .hangUp(reason))
        case .checkSender(let path, let parameters):
            return wait(.checkSender(path, parameters), at: now)
        case .checkRecipient(let recipient):
            return wait(.checkRecipient(recipient), at: now)
        case .lookup(let kind, let name):
            return wait(.lookup(kind, name), at: now)
        case .reset(let reply):
            replyAfterReset = reply
            if machine.greeting != nil { deadlines.greeted = true }
            return wait(.reset, at: now)
        case .openMessage(let envelope):
            opening = .data
            return open(envelope, at: now)
        case .receiveChunk(let size, let envelope, let deliver):
            if let envelope {
                opening = .chunk(size: size)
                return open(envelope, at: now)
            }
            state = .reading(.chunk(remaining: size, deliver: deliver, openRefusal: nil))
            return nil
        case .commit:
            return wait(.commit, at: now)
        case .abortMessage(let reply):
            replyAfterReset = reply
            return wait(.abortMessage, at: now)
        case .startTLS(let reply):
            // The handshake is the driver's; the session goes on reading commands, inside TLS.
            return .startTLS(reply)
        case .authenticate(let mechanism, let initialResponse):
            return wait(.authenticate(mechanism: mechanism, initialResponse: initialResponse), at: now)
        case .continueAuthentication(let response):
            return wait(.continueAuthentication(response), at: now)
        case .authenticated(let user):
            return wait(.authenticated(user), at: now)
        }
    }

    private mutating func open(_ envelope: Envelope, at now: Duration) -> ConnectionAction {
        bodySize = 0
        bodyWireBytes = 0
        return wait(.openMessage(envelope), at: now)
    }

    private mutating func wait(_ action: ConnectionAction, at now: Duration) -> ConnectionAction {
        state = .waiting(since: now)
        return action
    }

    /// The end of a wait: the time the server took is not the client's, and reading resumes in `input`.
    private mutating func resume(_ input: Input, at now: Duration) {
        if case .waiting(let since) = state { limiter.serverPaused(for: now - since) }
        state = .reading(input)
        deadlines.lastActivity = max(deadlines.lastActivity, now)
    }

    /// The action that answers a call, or the hang-up decided while it was out, after the answer's replies.
    private mutating func answer(_ action: ConnectionAction?) -> ConnectionAction? {
        guard let pending = pendingClose, !isWaiting else { return action }
        pendingClose = nil
        switch action {
        case .send(let replies): return close(replies + pending.replies, pending.reason)
        case .close(let replies, let reason): return close(replies + pending.replies, reason)
        default: return close(pending.replies, pending.reason)
        }
    }

    /// The backend's verdict on the sender: nil accepts it.
    public mutating func senderChecked(_ refusal: Reply?, at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        return answer(perform(machine.senderChecked(refusal), at: now))
    }

    /// The backend's verdict on a recipient: nil accepts it.
    public mutating func recipientChecked(_ recipient: Recipient, refusal: Reply?, at now: Duration)
        -> ConnectionAction?
    {
        resume(.command, at: now)
        return answer(perform(machine.recipientChecked(recipient, refusal: refusal), at: now))
    }

    /// The backend's answer to VRFY or EXPN.
    public mutating func lookupAnswered(_ reply: Reply, at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        return answer(perform(machine.lookupAnswered(reply), at: now))
    }

    /// The backend has forgotten the transaction (`.reset` or `.abortMessage`).
    public mutating func resetDone(at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        let reply = replyAfterReset ?? .localError
        replyAfterReset = nil
        return answer(.send([reply]))
    }

    /// The backend's answer to `.openMessage`: nil means the body may come.
    public mutating func messageOpened(refusal: Reply?, at now: Duration) -> ConnectionAction? {
        let opening = self.opening
        self.opening = nil
        switch opening {
        case .chunk(let size):
            // The chunk's octets are read whatever the answer; a refusal ends the transaction with the last one.
            resume(.chunk(remaining: size, deliver: refusal == nil, openRefusal: refusal), at: now)
            return answer(nil)
        case .data, nil:
            resume(
                refusal == nil ? .data(DotUnstuffer(bareLineEndings: settings.server.bareLineEndings)) : .command,
                at: now)
            return answer(perform(machine.messageOpened(refusal: refusal), at: now))
        }
    }

    /// What `.commit` came to: the id the message was stored under, or the refusal (451 4.3.0, 452 4.3.1, …).
    public mutating func messageCommitted(_ result: Result<String, Reply>, at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        let reply: Reply
        switch result {
        case .success(let id):
            reply = Reply(250, .init(2, 0, 0), "OK: queued as \(id)")
            limiter.messageAccepted(octets: bodyWireBytes)
        case .failure(let refusal):
            reply = refusal
        }
        return answer(perform(machine.messageCommitted(reply), at: now))
    }

    /// The outcome of one SASL step.
    public mutating func authStepped(_ step: AuthStep, at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        return answer(perform(machine.authStepped(step), at: now))
    }

    /// The backend knows who the client is: 235.
    public mutating func authenticationRecorded(at now: Duration) -> ConnectionAction? {
        resume(.command, at: now)
        return answer(perform(machine.authenticationRecorded(), at: now))
    }
}
