//! Names: random and chosen ones, what a collision does, and file links.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use shared_memory::{ShmemConf, ShmemError};
use shmbook::cleanup::{self, Resource, Tracked};
use shmbook::{names, os};

use crate::create::yes_no;

// ANCHOR: names
pub fn run() -> Result<()> {
    // Without os_id, shared_memory picks a random name and retries on a collision.
    // Its name is known only once it exists: registered in the same step.
    let random = cleanup::create_then(
        || ShmemConf::new().size(64).create(),
        |shmem| Resource::Segment(shmem.get_os_id().into()),
    )
    .map_err(os::explain)?;
    println!("random name:  {}", random.get_os_id());

    let chosen = names::unique("segments");
    let create = |name: &str| ShmemConf::new().size(64).os_id(name).create();
    let _first = cleanup::segment(&chosen, || create(&chosen)).map_err(os::explain)?;
    println!("chosen name:  {chosen}");
    match create(&chosen) {
        Err(e @ ShmemError::MappingIdExists) => {
            println!("second create with that name: {}", os::explain(e))
        }
        Err(e) => bail!("unexpected error on a second create: {e}"),
        Ok(_) => bail!("a second create with the same name succeeded"),
    }

    // Linux takes up to 255 bytes after the slash; macOS 31 bytes with the slash.
    let long = format!("{chosen}-{}", "x".repeat(40 - chosen.len() - 1));
    match cleanup::segment(&long, || create(&long)) {
        Ok(_) => println!("a {}-character name: accepted here", long.len()),
        Err(e) => println!(
            "a {}-character name: refused here: {}",
            long.len(),
            os::explain(e)
        ),
    }
    Ok(())
}
// ANCHOR_END: names

// ANCHOR: flink
pub fn flink() -> Result<()> {
    let (_dir, dir) = private_dir()?; // removed with what it holds, on Ctrl-C too
    let link = dir.join("link");
    let name = names::unique("segments");
    let conf = || ShmemConf::new().size(4096).os_id(&name).flink(&link);
    let mut guard = cleanup::segment(&name, || conf().create().map(Some)).map_err(os::explain)?;
    let shmem = guard.take().expect("create returned the Shmem");
    println!("created {name} with a file link");
    let inside = std::fs::read_to_string(&link).context("reading the link file")?;
    println!(
        "the link file holds the segment's name: {}",
        yes_no(inside == name)
    );

    let opener = ShmemConf::new().flink(&link).open().map_err(os::explain)?;
    let same = yes_no(opener.get_os_id() == name);
    println!(
        "opened through the link: {} bytes, same name: {same}",
        opener.len()
    );
    drop(opener);

    match conf().create() {
        Err(e @ ShmemError::LinkExists) => println!("a second create with the same link: {e}"),
        Err(e) => bail!("expected LinkExists, got {e}"),
        Ok(_) => bail!("a second create with the same link succeeded"),
    }
    drop(shmem); // the owner's drop
    println!(
        "after the owner's drop the link file exists: {}",
        yes_no(link.exists())
    );
    Ok(())
}
// ANCHOR_END: flink

/// A new directory for this run's link file, `/tmp/shmbook-flink-PID`; its guard removes
/// it with everything in it. A directory already there is an error, and is left alone.
fn private_dir() -> Result<(Tracked<()>, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("shmbook-flink-{}", std::process::id()));
    let guard = cleanup::create(Resource::Dir(dir.clone()), || std::fs::create_dir(&dir))
        .with_context(|| format!("creating the directory {}", dir.display()))?;
    Ok((guard, dir))
}
