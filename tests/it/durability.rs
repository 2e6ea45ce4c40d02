//! Acknowledged means durable: `kill -9` at random moments, graceful
//! shutdown, and a full disk.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::support::*;

/// Streams batches from two clients; returns the ids of acknowledged events.
fn stream_until_error(
    addr: std::net::SocketAddr,
    key: &str,
    round: usize,
    acked: &Mutex<Vec<String>>,
) {
    std::thread::scope(|s| {
        for client_no in 0..2 {
            s.spawn(move || {
                for batch_no in 0.. {
                    let ids: Vec<String> = (0..200)
                        .map(|i| format!("r{round}-c{client_no}-b{batch_no}-{i}"))
                        .collect();
                    let body: Vec<String> = ids.iter().map(|id| login("acme-eu", id)).collect();
                    let auth = format!("Bearer {key}");
                    let headers = [
                        ("authorization", auth.as_str()),
                        ("content-type", "application/x-ndjson"),
                    ];
                    let Ok(mut client) = Client::connect(addr) else {
                        return;
                    };
                    match client.request(
                        "POST",
                        "/api/v1/events",
                        &headers,
                        body.join("\n").as_bytes(),
                    ) {
                        Ok(response) if response.status == 200 => {
                            assert_eq!(response.json()["accepted"], 200);
                            acked.lock().unwrap().extend(ids);
                        }
                        _ => return,
                    }
                }
            });
        }
    });
}

fn acknowledged_events_survive_kill_9_at_random_moments(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let acked = Mutex::new(Vec::new());
    for round in 0..5 {
        let server = Server::start(dir.path());
        let pid = server.child.id();
        let wait = Duration::from_millis(rng.random_range(50..400));
        std::thread::scope(|s| {
            s.spawn(|| stream_until_error(server.addr, &key, round, &acked));
            std::thread::sleep(wait);
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
        });
        server.kill9();
    }
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() > 1000,
        "the test acknowledged too little to mean anything: {}",
        acked.len()
    );
    assert_all_stored(dir.path(), &acked);

    // Stored exactly once: sending every acknowledged event again adds nothing.
    let server = Server::start(dir.path());
    let before = stored_count(dir.path());
    for chunk in acked.chunks(5000) {
        let body: Vec<String> = chunk.iter().map(|id| login("acme-eu", id)).collect();
        let answer = server.post_ndjson(&key, &body.join("\n")).json();
        assert_eq!(
            (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
            (Some(0), Some(chunk.len() as u64))
        );
    }
    assert_eq!(stored_count(dir.path()), before);
}

on_both_engines!(acknowledged_events_survive_kill_9_at_random_moments);

fn sigterm_finishes_in_flight_requests_and_exits_0(engine: Engine) {
    let dir = engine_dir(engine);
    let key = create_key(dir.path(), "ingest", None);
    let mut server = Server::start(dir.path());
    let addr = server.addr;
    let acked = Mutex::new(Vec::new());
    let status = std::thread::scope(|s| {
        s.spawn(|| stream_until_error(addr, &key, 0, &acked));
        std::thread::sleep(Duration::from_millis(300));
        let pid = server.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        // The clients stop on their own once the server refuses them.
        server.child.wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    let acked = acked.into_inner().unwrap();
    let stored: BTreeSet<String> = stored_ids(dir.path())
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(!acked.is_empty());
    assert!(acked.iter().all(|id| stored.contains(id)));
}
on_both_engines!(sigterm_finishes_in_flight_requests_and_exits_0);

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it, which needs root (as in CI)"
        );
        SmallDisk { path }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_answers_503_and_ingest_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path().join("disk"), "4m");
    let data = disk.path.join("data");
    let key = create_key(&data, "ingest", None);
    let server = Server::start(&data);
    assert_eq!(
        server.post_ndjson(&key, &login("acme-eu", "before")).status,
        200
    );

    // Fill the disk, leaving too little for a batch.
    let filler = disk.path.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    drop(file);
    let big: Vec<String> = (0..5000)
        .map(|i| login("acme-eu", &format!("full-{i}")))
        .collect();
    let response = server.post_ndjson(&key, &big.join("\n"));
    assert_eq!(
        response.status,
        503,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.header("retry-after").is_some());
    assert_eq!(response.json()["error"], "unavailable");

    // Space returns: the same batch goes through, and nothing was half-stored.
    std::fs::remove_file(&filler).unwrap();
    let response = server.post_ndjson(&key, &big.join("\n"));
    assert_eq!(response.status, 200);
    assert_summary(&response.json(), 5000, 0, &[]);
    drop(server);
    assert_eq!(stored_count(&data), 5001);
}
