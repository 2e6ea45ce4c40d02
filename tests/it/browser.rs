//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives
//! Debian's Chromium with playwright-core against a server loaded with the
//! fixture (and an org with hostile names). `./scripts/test` installs both.

use std::path::Path;
use std::process::Command;

use crate::dashboard::{PASSWORD, add_user, hostile_events};
use crate::support::*;
use crate::widgets::fixture_config;

#[test]
fn dashboard_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/dashboard.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium and `npm ci` in tests/browser: run ./scripts/test, which installs both"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    stdout(&uptake(
        dir,
        &["import", fixture("events.ndjson").to_str().unwrap()],
        None,
    ));
    stdout(&uptake(
        dir,
        &["import", "-"],
        Some(hostile_events().as_bytes()),
    ));
    add_user(dir, "admin", None);
    add_user(dir, "eu-viewer", Some("acme-eu"));
    add_user(dir, "evil-viewer", Some("zz-evil"));
    let key = create_key(dir, "read", None);
    let server = Server::start_with(dir, Some(&fixture_config()));
    let artifacts = root.join("target/browser-artifacts");

    let status = Command::new("node")
        .arg(&script)
        .current_dir(root.join("tests/browser"))
        .env("UPTAKE_URL", format!("http://{}", server.addr))
        .env("READ_KEY", &key)
        .env("AS_OF", "2026-10-20T18:00:00Z")
        .env("ADMIN", format!("admin:{PASSWORD}"))
        .env("VIEWER", format!("eu-viewer:{PASSWORD}"))
        .env("VIEWER_ORG", "acme-eu")
        .env("EVIL", format!("evil-viewer:{PASSWORD}"))
        .env("EVIL_ORG", "zz-evil")
        .env("ALL_ORGS", "acme-eu,acme-us,acme-labs,zz-evil")
        .env("ARTIFACTS", &artifacts)
        .status()
        .expect("node runs");
    assert!(status.success(), "the browser checks failed (see above)");
    for tab in ["users", "entities", "actions", "datasources", "ai"] {
        assert!(artifacts.join(format!("admin-{tab}.png")).exists());
    }
}
