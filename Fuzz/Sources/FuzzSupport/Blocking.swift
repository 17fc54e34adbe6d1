import Dispatch

/// Runs async code to completion from libFuzzer's synchronous callback.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Box<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

/// Written by the task before the semaphore is signalled, read after the wait: the semaphore orders the two.
private final class Box<T>: @unchecked Sendable {
    var value: T?
}
