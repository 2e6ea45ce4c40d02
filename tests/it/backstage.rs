//! Uptake's Backstage packages (`integrations/backstage`) against this
//! build of Uptake: their own tests start a real Backstage backend (the
//! catalog, the scaffolder, the proxy and Uptake's plugin, from npm) and
//! real `uptake` servers from this binary, and compare Uptake's widgets
//! with the portal's catalog, runs and page views.

use std::process::Command;

use crate::support::BIN;

#[test]
fn the_backstage_packages_fill_uptake() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/backstage");
    assert!(
        dir.join("node_modules/@backstage/backend-test-utils")
            .exists(),
        "run `npm ci` in integrations/backstage (./scripts/test does)"
    );
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("UPTAKE_BIN", BIN)
        .output()
        .expect("npm runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Backstage tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Both files ran and every test in them passed.
    assert!(stdout.contains("# pass 2"), "{stdout}");
    assert!(stdout.contains("# fail 0"), "{stdout}");
}
