//! A full disk for real: the server's data directory is a small tmpfs mounted for the test
//! (root only; otherwise the test says so and passes). When the log cannot be written,
//! write commands get `-MISCONF` while reads keep working; once space is freed, writes
//! resume by themselves, and every acknowledged write survives a restart.

use peregrine_testkit::{poll_until, run, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// A tmpfs of `megabytes` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    mount_point: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("disk fault test did NOT run: mounting a small file system needs root");
            return None;
        }
        let parent = tempfile::tempdir().ok()?;
        let mount_point = parent.path().join("disk");
        std::fs::create_dir(&mount_point).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&mount_point)
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            println!("disk fault test did NOT run: mount -t tmpfs failed");
            return None;
        }
        Some(SmallDisk {
            mount_point,
            _parent: parent,
        })
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
    }
}

/// 8 KiB that do not compress.
fn value(seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:08x}", state as u32)
        })
        .collect()
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_by_itself() {
    let Some(disk) = SmallDisk::mount(6) else {
        return;
    };
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![1u8; 3 << 20]).unwrap();
    let dir = disk.path().display().to_string();
    let mut server = TestServer::start_with(
        BIN,
        1,
        &[
            "--dir",
            &dir,
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--aof-segment-size",
            "1mb",
        ],
    );
    let mut connection = server.client();
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for index in 0..2000u64 {
        let key = format!("key:{index}");
        match redis::cmd("SET")
            .arg(&key)
            .arg(value(index))
            .query::<()>(&mut connection)
        {
            Ok(()) => acknowledged.push(key),
            Err(error) => {
                refusal = Some(peregrine_testkit::error_text(&error));
                break;
            }
        }
        // Let the writer reach the disk so that the failure shows before memory does.
        std::thread::sleep(Duration::from_millis(2));
    }
    let refusal = refusal.expect("the disk never filled up");
    assert!(refusal.starts_with("MISCONF"), "{refusal}");
    assert!(
        acknowledged.len() > 10,
        "only {} writes before the disk filled",
        acknowledged.len()
    );
    // Reads keep working, INFO tells.
    let first: String = run(&mut connection, &["GET", &acknowledged[0]]);
    assert_eq!(first, value(0));
    let info: String = run(&mut connection, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    // Space comes back: writes resume without anyone's help.
    std::fs::remove_file(&filler).unwrap();
    let resumed = poll_until(Duration::from_secs(20), || {
        redis::cmd("SET")
            .arg("after")
            .arg("space")
            .query::<()>(&mut connection)
            .is_ok()
    });
    assert!(resumed, "writes did not resume after space was freed");
    acknowledged.push("after".to_owned());
    // Everything acknowledged reaches the disk and survives a crash.
    std::thread::sleep(Duration::from_millis(1500));
    server.crash();
    let restarted = server.restart();
    let mut connection = restarted.client();
    for key in &acknowledged {
        let exists: bool = run(&mut connection, &["EXISTS", key]);
        assert!(exists, "acknowledged {key} was lost");
    }
    drop(restarted);
}
