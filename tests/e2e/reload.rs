//! `weft daemon` reloads its workflows folder: a file edited into a broken one keeps its
//! previous version running, fixed it runs the new version, deleted it stops; SIGHUP makes
//! the daemon look at the folder at once.

use std::io::BufReader;
use std::process::Child;
use std::time::Duration;

use super::signals::{read_until, rest, spawn_weft, terminate, wait_for_exit};
use super::write;

/// Every second, a run that logs `message`.
fn ticking(message: &str) -> String {
    format!(
        "name: tick\ntrigger:\n  cron:\n    schedule: \"* * * * * *\"\n    overlap: allow\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: {message}\n"
    )
}

#[allow(unsafe_code)]
fn hangup(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

#[test]
fn a_broken_edit_keeps_the_old_version_a_fix_runs_the_new_one_and_sighup_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    let tick = write(&flows, "tick.yaml", &ticking("version-one"));
    let mut daemon = spawn_weft(
        &data,
        &[
            "-v",
            "daemon",
            "--workflows",
            flows.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    read_until(&mut log, "weft daemon: 1 workflow(s) on cron");
    read_until(&mut log, "version-one");

    std::fs::write(
        &tick,
        ticking("version-two").replace("core.log", "core.logg"),
    )
    .unwrap();
    let reloaded = read_until(&mut log, "has errors").join("\n");
    assert!(
        reloaded.contains("unknown action `core.logg`"),
        "the diagnostics of `weft validate` are shown:\n{reloaded}"
    );
    let after = read_until(&mut log, "version-one").join("\n");
    assert!(!after.contains("version-two"), "{after}");
    // Saved again unchanged (written aside and renamed over it, so that no look finds it half
    // written), and a SIGHUP: the broken file is not reported a second time.
    let broken = std::fs::read(&tick).unwrap();
    let aside = dir.path().join("tick.yaml.new");
    std::fs::write(&aside, broken).unwrap();
    std::fs::rename(&aside, &tick).unwrap();
    hangup(&daemon);
    let again = read_until(&mut log, "SIGHUP: no workflow file changed").join("\n");
    assert!(!again.contains("has errors"), "reported twice:\n{again}");

    std::fs::write(&tick, ticking("version-two")).unwrap();
    read_until(&mut log, "now running the new version of tick");
    read_until(&mut log, "version-two");

    hangup(&daemon);
    read_until(&mut log, "SIGHUP: no workflow file changed");

    std::fs::remove_file(&tick).unwrap();
    read_until(&mut log, "reload: stopped tick");

    terminate(&daemon);
    let status = wait_for_exit(&mut daemon, Duration::from_secs(10));
    let stopping = rest(log);
    assert!(status.success(), "{stopping}");
}
