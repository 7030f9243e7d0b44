//! The server binary's allocator: mimalloc, asked the way the system allocator is asked.
//!
//! A request allocates and frees about a hundred small objects (futures, headers, the response
//! tree); mimalloc's per-thread free lists serve them in a fraction of glibc's instructions
//! (decision 0023). The `mimalloc` crate's `GlobalAlloc` sends every allocation through
//! `mi_malloc_aligned`, whose fast path covers blocks up to 1 KiB only (a request's larger
//! futures take the generic path) and which over-allocates where a size is not a multiple of
//! its alignment. This one calls plain `mi_malloc` whenever mimalloc's own alignment is enough,
//! as Rust's system allocator does with `malloc` (decision 0024). The library and its tests run
//! on the system allocator; only `main.rs` installs this one.

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys as ffi;

/// mimalloc as the global allocator.
pub struct Mimalloc;

/// The alignment every `mi_malloc` block of at least this size has (`MI_MAX_ALIGN_SIZE`).
const MI_MALLOC_ALIGN: usize = 16;

/// Whether `mi_malloc(size)` is aligned enough for `align`: blocks smaller than 16 bytes are
/// aligned to their own size class only, hence the second condition (the system allocator's).
fn plain_is_enough(size: usize, align: usize) -> bool {
    align <= MI_MALLOC_ALIGN && align <= size
}

// SAFETY: every method forwards to mimalloc, which returns null or a block of at least the
// asked size and alignment (plain calls only where `plain_is_enough` says mimalloc's own
// alignment covers the layout), frees any block it returned however it was aligned, and keeps
// the asked alignment when it reallocates.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_is_enough(size, align) {
            unsafe { ffi::mi_malloc(size).cast() }
        } else {
            unsafe { ffi::mi_malloc_aligned(size, align).cast() }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_is_enough(size, align) {
            unsafe { ffi::mi_zalloc(size).cast() }
        } else {
            unsafe { ffi::mi_zalloc_aligned(size, align).cast() }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { ffi::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain_is_enough(new_size, layout.align()) {
            unsafe { ffi::mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            unsafe { ffi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around mimalloc's size classes and its 1 KiB small-block limit, with every
    /// alignment up to a page.
    fn layouts() -> impl Iterator<Item = Layout> {
        let sizes = [
            1, 4, 8, 12, 16, 24, 40, 64, 100, 1000, 1024, 1025, 2536, 4096, 70_000,
        ];
        sizes.into_iter().flat_map(|size| {
            (0..=12).map(move |shift| Layout::from_size_align(size, 1 << shift).unwrap())
        })
    }

    fn is_aligned(ptr: *mut u8, layout: Layout) -> bool {
        !ptr.is_null() && (ptr as usize).is_multiple_of(layout.align())
    }

    #[test]
    fn every_block_is_aligned_as_asked_and_writable() {
        for layout in layouts() {
            unsafe {
                let ptr = Mimalloc.alloc(layout);
                assert!(is_aligned(ptr, layout), "{layout:?}");
                ptr.write_bytes(0xA5, layout.size());
                Mimalloc.dealloc(ptr, layout);
                let zeroed = Mimalloc.alloc_zeroed(layout);
                assert!(is_aligned(zeroed, layout), "zeroed {layout:?}");
                let bytes = std::slice::from_raw_parts(zeroed, layout.size());
                assert!(bytes.iter().all(|&b| b == 0), "zeroed {layout:?}");
                Mimalloc.dealloc(zeroed, layout);
            }
        }
    }

    #[test]
    fn reallocation_keeps_the_contents_and_the_alignment() {
        for layout in layouts() {
            for new_size in [1, layout.size() / 2 + 1, layout.size() * 3 + 7] {
                unsafe {
                    let ptr = Mimalloc.alloc(layout);
                    let kept = layout.size().min(new_size);
                    for i in 0..kept {
                        ptr.add(i).write(i as u8);
                    }
                    let moved = Mimalloc.realloc(ptr, layout, new_size);
                    let new_layout = Layout::from_size_align(new_size, layout.align()).unwrap();
                    assert!(is_aligned(moved, new_layout), "{layout:?} to {new_size}");
                    for i in 0..kept {
                        assert_eq!(moved.add(i).read(), i as u8, "{layout:?} to {new_size}");
                    }
                    Mimalloc.dealloc(moved, new_layout);
                }
            }
        }
    }
}
