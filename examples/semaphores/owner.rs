//! Section "A semaphore has no owner": a semaphore released by a process that never
//! took it, and an error-checking mutex that refuses an unlock by a non-owner.

use anyhow::Result;
use shmbook::helper::Helper;
use shmbook::locks::{check, describe};
use shmbook::semaphore::Semaphore;
use shmbook::semaphores::demo::{create, object, open, publish, Object};
use shmbook::PROCESS_TIMEOUT;

use crate::pmutex::{Kind, PMutex};

// ANCHOR: release
pub fn release() -> Result<()> {
    let shmem = create()?;
    // SAFETY: the object's place is 8-aligned inside the segment; no helper exists yet.
    let sem = unsafe { Semaphore::init(&shmem, object(&shmem), 1)? };
    publish(&shmem, Object::Semaphore); // the header: "a semaphore, set up"
    sem.wait_within(PROCESS_TIMEOUT, "the semaphore")?;
    println!("parent: took the semaphore; its count is {}", sem.value()?);

    Helper::spawn("_post", &[shmem.get_os_id()])?.wait_ok(PROCESS_TIMEOUT)?;
    println!("parent: its count is {} again", sem.value()?);
    // SAFETY: the helper has exited; nobody else uses the semaphore.
    unsafe { sem.destroy() };
    Ok(())
}

pub fn post_unowned(name: &str) -> Result<()> {
    // `open` checks the segment's length and header; `Semaphore::open` the bytes.
    let shmem = open(name, Object::Semaphore)?;
    // SAFETY: the header says the parent set up a semaphore there (bytes checked).
    let sem = unsafe { Semaphore::open(&shmem, object(&shmem))? };
    sem.post()?; // this process never called wait: a semaphore has no owner
    println!("helper: released it without ever taking it: allowed");
    Ok(())
}
// ANCHOR_END: release

// ANCHOR: unlock_other
pub fn unlock_other() -> Result<()> {
    let shmem = create()?;
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let mutex = unsafe { PMutex::init(&shmem, object(&shmem), Kind::ErrorCheck)? };
    publish(&shmem, Object::ErrorCheck);
    check("pthread_mutex_lock", mutex.lock())?; // free, so this returns at once
    println!("parent: locked the error-checking mutex");

    Helper::spawn("_unlock", &[shmem.get_os_id()])?.wait_ok(PROCESS_TIMEOUT)?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: unlocked it myself: allowed");
    // SAFETY: the helper has exited and the mutex is unlocked.
    unsafe { mutex.destroy() };
    Ok(())
}

pub fn unlock_unowned(name: &str) -> Result<()> {
    let shmem = open(name, Object::ErrorCheck)?;
    // SAFETY: the header says the parent set up an error-checking mutex there (kind
    // checked by `PMutex::open`).
    let mutex = unsafe { PMutex::open(&shmem, object(&shmem), Kind::ErrorCheck)? };
    let rc = mutex.unlock();
    println!(
        "helper: pthread_mutex_unlock on the parent's mutex: {}",
        describe(rc)
    );
    Ok(())
}
// ANCHOR_END: unlock_other
