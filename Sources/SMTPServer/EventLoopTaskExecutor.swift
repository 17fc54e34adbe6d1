import NIOCore

/// Runs a connection's backend calls on the connection's own event loop. A call that does not suspend (most MAIL,
/// RCPT and RSET answers) then completes without leaving the loop's thread, instead of crossing to Swift's global
/// executor and back, which cost two thread wake-ups per command; one that waits (a commit) comes back in one.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
