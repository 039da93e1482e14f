//! Shared by the bench binaries: a counting global allocator, and the allocation report.
//!
//! Every bench binary prints `allocs <criterion id> <count>` lines (allocations of one
//! operation, after a warm-up run); `benches/report.py` joins them with criterion's medians
//! into the README tables.
#![allow(dead_code)] // each binary uses part of it

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the counter is an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) of one run of `f`, after a warm-up run.
pub(crate) fn allocations(mut f: impl FnMut()) -> usize {
    f();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
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
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    consume(input);
    println!(
        "allocs {id} {}",
        ALLOCATIONS.load(Ordering::Relaxed) - before
    );
}
