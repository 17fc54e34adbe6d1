import Dispatch
import SwallowCLI

@main
enum SwallowMain {
    /// The command runs as a detached task while the main thread waits for it. Not `async main`: that hands the
    /// main thread to libdispatch (`dispatch_main`), which parks it half-exited, where glibc's `setuid` no longer
    /// reaches it; a daemon that drops root kept one thread with root's ids, and `ps` showed the process as root's.
    static func main() {
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await SwallowCommand.main()
            done.signal()
        }
        done.wait()
    }
}
