import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A task executor whose jobs run on a `NIOThreadPool`: the threads of slow, CPU-bound work (password hashing),
/// never an event loop's. On Linux the pool's threads run at a lower priority (nice +10), so that an event loop
/// woken by a client's command preempts a hash in progress instead of waiting for its time slice.
final class ThreadPoolTaskExecutor: TaskExecutor {
    private let pool: NIOThreadPool

    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { _ in
            Self.lowerPriority()
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    /// Idempotent and cheap next to a hash; a thread cannot raise its priority again without privileges, so
    /// only lowering is attempted. On Linux the nice value is a thread's own, and `who` 0 names the calling
    /// thread, not the process.
    private static func lowerPriority() {
        #if canImport(Glibc)
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            if getpriority(which, 0) < 10 { _ = setpriority(which, 0, 10) }
        #endif
    }
}
