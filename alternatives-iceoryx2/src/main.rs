use iceoryx2::prelude::*;
fn main() {
    let _ = NodeBuilder::new().create::<ipc::Service>();
}
