//! 1.3's interleavings, made on purpose: party A's mapping of the header page is made
//! inaccessible, so that each of A's accesses to it faults; the fault handler lets that
//! one access happen (the page readable again, the CPU's trap flag set), and the trap
//! after it closes the page again. After A's k-th access, party B arrives in full,
//! through a mapping of its own. Each k is a fresh segment; every point between A's
//! accesses is tried, so a race shows every time, not by luck. x86-64 Linux only (the
//! trap flag is x86's).

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use homework::segments_unlink::arrive;
use shared_memory::Shmem;

/// The page of A's header, its accesses so far, after which one B arrives, B's mapping
/// and what B's arrive said (0 not yet, 1 false, 2 true, 3 an error or a panic).
static PAGE: AtomicUsize = AtomicUsize::new(0);
static STEPS: AtomicU32 = AtomicU32::new(0);
static AT: AtomicU32 = AtomicU32::new(0);
static B: AtomicPtr<Shmem> = AtomicPtr::new(std::ptr::null_mut());
static SAID: AtomicU32 = AtomicU32::new(0);

const TRAP_FLAG: i64 = 0x100;

fn page_size() -> usize {
    shmbook::os::page_size()
}

fn protect(prot: libc::c_int) {
    let page = PAGE.load(Ordering::SeqCst);
    // SAFETY: `page` is the first page of A's mapping, which stays mapped while
    // PAGE is set; only its protection changes.
    unsafe { libc::mprotect(page as *mut libc::c_void, page_size(), prot) };
}

extern "C" fn on_fault(_: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::SeqCst);
    if page == 0 || addr & !(page_size() - 1) != page {
        // Not ours: the default action (the access faults again, and ends the process).
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
        return;
    }
    protect(libc::PROT_READ | libc::PROT_WRITE);
    // SAFETY: a valid ucontext (see above); the flags register is restored on return.
    unsafe {
        (*uc.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_EFL as usize] |= TRAP_FLAG
    };
}

extern "C" fn on_trap(_: libc::c_int, _: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: as in `on_fault`.
    unsafe {
        (*uc.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_EFL as usize] &= !TRAP_FLAG
    };
    if STEPS.fetch_add(1, Ordering::SeqCst) + 1 == AT.load(Ordering::SeqCst) {
        // A is between two instructions of its arrive, none of them in an allocator.
        // SAFETY: B's mapping outlives this call (see `paused`).
        let b = unsafe { &*B.load(Ordering::SeqCst) };
        let said = match crate::kit::catch(|| arrive(b)) {
            Ok(Ok(false)) => 1,
            Ok(Ok(true)) => 2,
            _ => 3,
        };
        SAID.store(said, Ordering::SeqCst);
    }
    protect(libc::PROT_NONE);
}

fn install(
    sig: libc::c_int,
    f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void),
) -> libc::sigaction {
    // SAFETY: zeroed sigaction is a valid start; the handler has the SA_SIGINFO shape.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = f as usize;
        new.sa_flags = libc::SA_SIGINFO;
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &new, &mut old);
        old
    }
}

/// A arrives through `a`, B through `b` once A has made `at` accesses to its header.
/// Gives A's result and B's (None: A made fewer accesses).
pub fn paused(a: &Shmem, b: &Shmem, at: u32) -> (Result<bool, String>, Option<u32>) {
    PAGE.store(a.as_ptr() as usize, Ordering::SeqCst);
    STEPS.store(0, Ordering::SeqCst);
    AT.store(at, Ordering::SeqCst);
    SAID.store(0, Ordering::SeqCst);
    B.store(std::ptr::from_ref(b).cast_mut(), Ordering::SeqCst);
    let old_segv = install(libc::SIGSEGV, on_fault);
    let old_trap = install(libc::SIGTRAP, on_trap);
    protect(libc::PROT_NONE);
    let a_said = match crate::kit::catch(|| arrive(a)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => Err(format!("panicked: {panic}")),
    };
    protect(libc::PROT_READ | libc::PROT_WRITE);
    // SAFETY: putting back the dispositions saved above.
    unsafe {
        libc::sigaction(libc::SIGSEGV, &old_segv, std::ptr::null_mut());
        libc::sigaction(libc::SIGTRAP, &old_trap, std::ptr::null_mut());
    }
    PAGE.store(0, Ordering::SeqCst);
    B.store(std::ptr::null_mut(), Ordering::SeqCst);
    let b_said = SAID.load(Ordering::SeqCst);
    (a_said, (b_said != 0).then_some(b_said))
}
