//! Shared by the bench binaries: a counting global allocator, and the allocation report.
//!
//! Every bench binary prints `allocs <criterion id> <count>` lines (allocations of one
//! operation, after a warm-up run), read beside criterion's medians for the README tables.
#![allow(dead_code)] // each binary uses part of it

#[path = "../../../engineio-proto/tests/support/counting.rs"]
mod counting;

/// Allocations (and reallocations) of one run of `f`, after a warm-up run.
pub(crate) fn allocations(mut f: impl FnMut()) -> usize {
    f();
    counting::allocations_during(f)
}

/// Prints the allocation count of one operation under its criterion id (`group/function/case`).
pub(crate) fn report(id: &str, f: impl FnMut()) {
    println!("allocs {id} {}", allocations(f));
}

/// Runs a future that never waits (the peers' payload codecs are `async` over in-memory
/// bodies), polling it with a no-op waker.
pub(crate) fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("an in-memory codec future is never pending"),
    }
}

/// [`report`] for an operation that consumes its input: `make` runs outside the count.
pub(crate) fn report_consuming<T>(
    id: &str,
    mut make: impl FnMut() -> T,
    mut consume: impl FnMut(T),
) {
    consume(make());
    let input = make();
    println!(
        "allocs {id} {}",
        counting::allocations_during(|| consume(input))
    );
}
