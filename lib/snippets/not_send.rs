// ANCHOR: not_send
use shared_memory::ShmemConf;

let shmem = ShmemConf::new().size(4096).create().unwrap();
std::thread::spawn(move || {
    // error[E0277]: `*mut u8` cannot be sent between threads safely
    println!("{} bytes", shmem.len());
});
// ANCHOR_END: not_send
