//! An output path never destroys anything: every command refuses, before any work, an output
//! that is one of its inputs (by any name: the same path, `./`, `..`, a symbolic or a hard
//! link), two outputs on one file, and an existing output that is not a regular file (a
//! device such as /dev/null, a FIFO, a socket, a directory). An existing regular file is
//! replaced (the convention of command-line tools); a symbolic link to one is replaced by the
//! new file and its target left alone. Stale temporary files of dead processes are removed.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

mod cli_run;
use cli_run::{fourdvar, stderr};

/// Runs a two-step Lorenz-96 forecast into `out`.
fn forecast_to(out: &Path) -> std::process::Output {
    fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Each command with the input options it reads and a value for each; `OUT` marks the output.
/// The inputs need not be valid: the paths are checked before anything is read.
fn commands() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "forecast",
            vec![
                "forecast",
                "--model",
                "IN",
                "--initial",
                "IN",
                "--steps",
                "1",
            ],
        ),
        (
            "observe",
            vec!["observe", "--truth", "IN", "--network", "IN"],
        ),
        (
            "assimilate",
            vec![
                "assimilate",
                "--model",
                "IN",
                "--background",
                "IN",
                "--obs",
                "IN",
                "--truth",
                "IN",
                "--config",
                "IN",
            ],
        ),
        (
            "rnn gradient",
            vec!["rnn", "gradient", "--net", "IN", "--data", "IN"],
        ),
        (
            "rnn sensitivity",
            vec!["rnn", "sensitivity", "--net", "IN", "--data", "IN"],
        ),
        (
            "rnn gradient-flow",
            vec!["rnn", "gradient-flow", "--net", "IN", "--data", "IN"],
        ),
        ("rnn reservoir", vec!["rnn", "reservoir", "--data", "IN"]),
        ("rnn train", vec!["rnn", "train", "--data", "IN"]),
    ]
}

/// Runs `template` with every input a distinct existing file, except input `k` which is
/// `input`, and `--out out`.
fn run_with(
    dir: &Path,
    template: &[&str],
    k: usize,
    input: &Path,
    out: &Path,
) -> std::process::Output {
    let mut args: Vec<String> = Vec::new();
    let mut seen = 0;
    for (i, a) in template.iter().enumerate() {
        if *a == "IN" {
            if seen == k {
                args.push(input.to_str().unwrap().to_string());
            } else {
                let other = dir.join(format!("other{i}"));
                std::fs::write(&other, "other input").unwrap();
                args.push(other.to_str().unwrap().to_string());
            }
            seen += 1;
        } else {
            args.push(a.to_string());
        }
    }
    args.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    fourdvar(&refs)
}

#[test]
fn an_output_that_is_an_input_by_any_name_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    let input = d.join("input.dat");
    let content = "precious input\n";
    std::fs::write(&input, content).unwrap();
    let symlink = d.join("symlink.dat");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hard = d.join("hard.dat");
    std::fs::hard_link(&input, &hard).unwrap();
    let dotted: PathBuf = d.join("sub").join("..").join(".").join("input.dat");
    let mut refused = 0;
    for (name, template) in commands() {
        let inputs = template.iter().filter(|a| **a == "IN").count();
        for k in 0..inputs {
            let option = template[template
                .iter()
                .enumerate()
                .filter(|(_, a)| **a == "IN")
                .nth(k)
                .unwrap()
                .0
                - 1];
            for out in [&input, &symlink, &hard, &dotted] {
                let o = run_with(d, &template, k, &input, out);
                let err = stderr(&o);
                assert_eq!(
                    o.status.code(),
                    Some(2),
                    "{name} {option} = {}: {err}",
                    out.display()
                );
                assert!(
                    err.contains("--out")
                        && err.contains(option)
                        && err.contains("destroy an input"),
                    "{name} {option}: {err}"
                );
                assert_eq!(
                    std::fs::read_to_string(&input).unwrap(),
                    content,
                    "{name} {option}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 4 * 17);
}

#[test]
fn twin_and_cycle_refuse_to_write_over_the_files_their_experiment_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/lorenz96.toml");
    let before = std::fs::read(&model).unwrap();
    for command in ["twin", "cycle"] {
        let o = fourdvar(&[
            command,
            "--config",
            root.join("experiments/lorenz96_cycle.toml")
                .to_str()
                .unwrap(),
            "--out",
            model.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("the model configuration") && err.contains("destroy"),
            "{err}"
        );
        let o = fourdvar(&[
            command,
            "--config",
            root.join("experiments/lorenz96_cycle.toml")
                .to_str()
                .unwrap(),
            "--out",
            root.join("experiments/lorenz96_cycle.toml")
                .to_str()
                .unwrap(),
        ]);
        assert!(stderr(&o).contains("--config"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&model).unwrap(), before);
    drop(dir);
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.json");
    let same = dir.path().join(".").join("net.json");
    let o = fourdvar(&[
        "rnn",
        "train",
        "--task",
        "alarm",
        "--epochs",
        "1",
        "--out",
        net.to_str().unwrap(),
        "--loss-curve",
        same.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--loss-curve") && err.contains("--out"),
        "{err}"
    );
    assert!(!net.exists());
}

/// Special files at an output path are refused and stay what they were.
#[test]
fn only_regular_files_are_ever_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let to_null = dir.path().join("to-null");
    std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
    let cases: [(&Path, &str); 5] = [
        (Path::new("/dev/null"), "character device"),
        (&fifo, "FIFO"),
        (&socket, "socket"),
        (&to_null, "character device"),
        (dir.path(), "directory"),
    ];
    for (path, kind) in cases {
        let before = std::fs::symlink_metadata(path).unwrap().file_type();
        let o = forecast_to(path);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert!(err.contains(kind) && err.contains("regular file"), "{err}");
        let after = std::fs::symlink_metadata(path).unwrap().file_type();
        assert_eq!(before, after, "{} changed", path.display());
    }
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// An existing regular file is replaced; a symbolic link to one is replaced by the new file
/// and its target left alone.
#[test]
fn a_regular_file_is_replaced_and_a_link_target_kept() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.nc");
    std::fs::write(&old, "old").unwrap();
    let target = dir.path().join("target.nc");
    std::fs::write(&target, "target").unwrap();
    let link = dir.path().join("link.nc");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for out in [&old, &link] {
        let o = forecast_to(out);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(netcdf::open(out).is_ok());
    }
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "target");
}

/// A temporary file of a process that no longer runs (as SIGKILL leaves one) is removed by the
/// next write to the same path; one of a running process is not.
#[test]
fn stale_temporary_files_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // No process has an id above the kernel's maximum, 2^22.
    let stale = dir.path().join(".f.nc.tmp-999999999");
    let stale_retry = dir.path().join(".f.nc.tmp-999999998-3");
    let live = dir.path().join(format!(".f.nc.tmp-{}", std::process::id()));
    let other_name = dir.path().join(".g.nc.tmp-999999999");
    for p in [&stale, &stale_retry, &live, &other_name] {
        std::fs::write(p, "partial").unwrap();
    }
    let out = dir.path().join("f.nc");
    let o = forecast_to(&out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stale.exists() && !stale_retry.exists());
    assert!(
        live.exists(),
        "the temporary file of a running process was removed"
    );
    assert!(
        other_name.exists(),
        "a temporary file of another output was removed"
    );
}
