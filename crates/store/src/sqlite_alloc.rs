//! SQLite allocates through Rust's global allocator (the server's is
//! mimalloc) instead of glibc's malloc, and keeps no memory statistics:
//! glibc's malloc and free and the statistics' global mutex were a seventh
//! of the SQLite writer thread's time.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::ffi::{c_int, c_void};
use std::sync::Once;

use rusqlite::ffi;

/// Every block starts with its size, as SQLite's own malloc wrapper does:
/// SQLite asks for a block's size, and Rust's allocator needs it to free.
const HEADER: usize = 8;
const ALIGN: usize = 8;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, ALIGN).ok()
}

unsafe extern "C" fn x_malloc(size: c_int) -> *mut c_void {
    let Some(layout) = usize::try_from(size).ok().and_then(layout) else {
        return std::ptr::null_mut();
    };
    let block = alloc(layout);
    if block.is_null() {
        return std::ptr::null_mut();
    }
    block.cast::<usize>().write(layout.size() - HEADER);
    block.add(HEADER).cast()
}

unsafe fn block_of(user: *mut c_void) -> (*mut u8, Layout) {
    let block = user.cast::<u8>().sub(HEADER);
    let size = block.cast::<usize>().read();
    (
        block,
        Layout::from_size_align_unchecked(size + HEADER, ALIGN),
    )
}

unsafe extern "C" fn x_free(user: *mut c_void) {
    if !user.is_null() {
        let (block, layout) = block_of(user);
        dealloc(block, layout);
    }
}

unsafe extern "C" fn x_realloc(user: *mut c_void, size: c_int) -> *mut c_void {
    if user.is_null() {
        return x_malloc(size);
    }
    let Some(new) = usize::try_from(size).ok().and_then(layout) else {
        return std::ptr::null_mut();
    };
    let (block, old) = block_of(user);
    let moved = realloc(block, old, new.size());
    if moved.is_null() {
        return std::ptr::null_mut();
    }
    moved.cast::<usize>().write(new.size() - HEADER);
    moved.add(HEADER).cast()
}

unsafe extern "C" fn x_size(user: *mut c_void) -> c_int {
    match user.is_null() {
        true => 0,
        false => block_of(user).1.size() as c_int - HEADER as c_int,
    }
}

unsafe extern "C" fn x_roundup(size: c_int) -> c_int {
    (size + 7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Before the process's first SQLite connection, or not at all: SQLite
/// takes configuration only before it initialises, so in a process that
/// opened one already (a test binary, say) this changes nothing.
pub(crate) fn configure() {
    static ONCE: Once = Once::new();
    // SQLite copies the methods before sqlite3_config returns.
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    ONCE.call_once(|| unsafe {
        let methods: *const ffi::sqlite3_mem_methods = &methods;
        if ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, methods) == ffi::SQLITE_OK {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_know_their_size_through_a_reallocation() {
        unsafe {
            let p = x_malloc(13);
            assert_eq!(x_size(p), 13);
            p.cast::<u8>().write_bytes(7, 13);
            let q = x_realloc(p, 4000);
            assert_eq!(x_size(q), 4000);
            assert_eq!(std::slice::from_raw_parts(q.cast::<u8>(), 13), &[7; 13]);
            assert_eq!(q as usize % ALIGN, 0);
            x_free(q);
            let r = x_realloc(std::ptr::null_mut(), 24);
            assert_eq!(x_size(r), 24);
            x_free(r);
            x_free(std::ptr::null_mut());
            assert!(x_malloc(-1).is_null());
        }
    }
}
