//! The three CSV formats (observation files, RNN sequence data, state text files) read
//! through the one CSV reader: quoted fields, a byte-order mark, CRLF line ends, comment and
//! blank lines, short and long rows and truncated files, each error naming the file and the
//! line the row starts on.

use std::fs;
use std::path::{Path, PathBuf};

use fourdvar::geometry::ring::{line, LineOutput};
use fourdvar::geometry::Geometry;
use fourdvar::io::observation_file::read_observations;
use fourdvar::io::rnn_files::{parse_sequence_data, SequenceData};
use fourdvar::io::state_file::read_state;
use fourdvar::obs::ObservationSet;
use fourdvar::Error;

const DT: f64 = 0.05;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// `err`'s message, after checking that it is an input error at `line` naming `file`.
fn input_error_at(err: Error, file: &str, line: usize) -> String {
    let message = err.to_string();
    assert!(
        matches!(err, Error::Input { line: Some(l), .. } if l == line),
        "expected an input error at line {line}: {message}"
    );
    assert!(
        message.contains(&format!("{file}, line {line}: ")),
        "{message}"
    );
    message
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------------------------------------
// observation files

/// Three variables on a ring of 40 points.
fn ring() -> Geometry {
    let output = LineOutput {
        dimension: "site",
        dimension_long_name: "site".into(),
        coordinate: (0..120).map(|i| i as f64).collect(),
        array: "x",
        array_long_name: "state".into(),
    };
    line(&[("a", 40), ("b", 40), ("c", 40)], 40.0, true, output)
}

fn observations(text: &[u8]) -> Result<ObservationSet, Error> {
    let dir = tempfile::tempdir().unwrap();
    read_observations(&write(&dir, "obs.csv", text), DT, &ring())
}

#[test]
fn observation_csv_reads_quotes_bom_crlf_comments_and_blank_lines() {
    let text = b"\xef\xbb\xbf# made by hand\r\n\r\n  # an indented comment, \"quoted\r\n\
        \"time\",\"position\", value ,sigma,\"kind\"\r\n\
        0.1,\" 2.5 \",0.30000000000000004,0.5,\"square\"\r\n\
        \t\r\n\
        # between rows\r\n\
        0.15000000000000002,17.7,-1e-7,\"1\",abs";
    let set = observations(text).unwrap();
    let got: Vec<_> = set
        .as_slice()
        .iter()
        .map(|o| (o.line, o.step, o.kind.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(5), 2, "square".to_string()),
            (Some(8), 3, "abs".to_string())
        ]
    );
    let o = set.as_slice();
    assert_eq!(
        bits(&[
            o[0].location.coordinates()[0],
            o[0].value,
            o[0].sigma,
            o[1].time,
            o[1].value
        ]),
        bits(&[2.5, 0.30000000000000004, 0.5, 0.15000000000000002, -1e-7])
    );
}

#[test]
fn observation_csv_keeps_a_quoted_comma_inside_its_field() {
    // Four fields, not five: the error is about the value, not the field count.
    let err = observations(b"time,position,value,sigma\n0,1,\"1,5\",1\n").unwrap_err();
    let message = input_error_at(err, "obs.csv", 2);
    assert!(
        message.contains("column value: cannot parse '1,5' as a number"),
        "{message}"
    );
}

#[test]
fn observation_csv_short_and_long_rows_name_their_line() {
    let head = "# c\r\n\r\ntime,position,value,sigma\r\n# d\r\n0,1,2,1\r\n\r\n";
    let err = observations(format!("{head}0,1,2\r\n").as_bytes()).unwrap_err();
    let message = input_error_at(err, "obs.csv", 7);
    assert!(
        message.contains("expected 4 comma-separated fields"),
        "{message}"
    );
    assert!(message.contains("found 3"), "{message}");
    let err = observations(format!("{head}0,1,2,1,\"9\"\r\n").as_bytes()).unwrap_err();
    assert!(input_error_at(err, "obs.csv", 7).contains("found 5"));
}

#[test]
fn observation_csv_truncated_files() {
    let head = "time,position,value,sigma\n0,1,2,1\n";
    // A last line without its line end is a whole row.
    let set = observations(format!("{head}0.05,3,2.5,1").as_bytes()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(
        (set.as_slice()[1].line, set.as_slice()[1].value),
        (Some(3), 2.5)
    );
    // Cut in the middle of a row: too few fields, on the row's line.
    let err = observations(format!("{head}0.05,3").as_bytes()).unwrap_err();
    assert!(input_error_at(err, "obs.csv", 3).contains("found 2"));
    // Cut inside a quoted field.
    let err = observations(format!("{head}0.05,3,\"2.5").as_bytes()).unwrap_err();
    assert!(input_error_at(err, "obs.csv", 3).contains("ends inside a quoted field"));
    // A quote that is never closed does not swallow the rows after it.
    let err = observations(format!("{head}0.05,3,\"2.5,1\n0.1,4,1,1\n").as_bytes()).unwrap_err();
    assert!(input_error_at(err, "obs.csv", 3).contains("more than one line"));
}

// ---------------------------------------------------------------------------------------------
// RNN sequence data

fn sequence(text: &str) -> Result<SequenceData, Error> {
    parse_sequence_data(Path::new("seq.csv"), text)
}

#[test]
fn sequence_csv_reads_quotes_bom_crlf_comments_and_blank_lines() {
    let text = "\u{feff}# steps\r\n\r\n\"t\",u0,\"y0\",y1\r\n  # indented\r\n\
        1,\"0.1\",\" 2 \",3\r\n\r\n2,5e-324,\"\",\r\n3,-0.0,1,2";
    let data = sequence(text).unwrap();
    assert_eq!(data.header_line, 3);
    assert_eq!(data.lines, [5, 7, 8]);
    assert_eq!(data.has_target, [true, false, true]);
    assert_eq!(bits(&data.inputs), bits(&[0.1, 5e-324, -0.0]));
    assert_eq!(bits(&data.targets), bits(&[2.0, 3.0, 0.0, 0.0, 1.0, 2.0]));
}

#[test]
fn sequence_csv_short_and_long_rows_name_their_line() {
    let head = "# c\nt,u0,y0\n\n1,0.5,1\n# d\n";
    let message = input_error_at(
        sequence(&format!("{head}2,0.5\n")).unwrap_err(),
        "seq.csv",
        6,
    );
    assert!(
        message.ends_with("has 2 fields, the header has 3"),
        "{message}"
    );
    let message = input_error_at(
        sequence(&format!("{head}2,\"0.5,1\",1,7\r\n")).unwrap_err(),
        "seq.csv",
        6,
    );
    assert!(
        message.ends_with("has 4 fields, the header has 3"),
        "{message}"
    );
}

#[test]
fn sequence_csv_truncated_files() {
    let head = "t,u0,y0\n1,0.5,1\n";
    let data = sequence(&format!("{head}2,0.25,")).unwrap();
    assert_eq!(
        (data.has_target, data.lines),
        (vec![true, false], vec![2, 3])
    );
    let message = input_error_at(sequence(&format!("{head}2,0.2")).unwrap_err(), "seq.csv", 3);
    assert!(
        message.ends_with("has 2 fields, the header has 3"),
        "{message}"
    );
    let message = input_error_at(
        sequence(&format!("{head}2,\"0.2")).unwrap_err(),
        "seq.csv",
        3,
    );
    assert!(message.contains("ends inside a quoted field"), "{message}");
}

#[test]
fn sequence_csv_quoted_field_is_one_field() {
    let message = input_error_at(
        sequence("t,u0,y0\n1,\"0.5,0.25\",1\n").unwrap_err(),
        "seq.csv",
        2,
    );
    assert!(
        message.ends_with("u0 = '0.5,0.25' is not a number"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// state text files

fn state(text: &[u8], len: usize) -> Result<Vec<f64>, Error> {
    let dir = tempfile::tempdir().unwrap();
    read_state(&write(&dir, "x0.txt", text), len)
}

#[test]
fn state_text_reads_quotes_bom_crlf_comments_and_blank_lines() {
    let text = b"\xef\xbb\xbf# x0\r\n\r\n\"0.1\"\r\n  # indented, \"quoted\r\n\" -2.5e-3 \" \r\n\r\n5e-324";
    let values = state(text, 3).unwrap();
    assert_eq!(bits(&values), bits(&[0.1, -2.5e-3, 5e-324]));
}

#[test]
fn state_text_long_rows_and_truncated_files_name_their_line() {
    // A line of two fields is shown as written.
    let err = state(b"# c\n\n1.0\n2.0, 3.0\n", 3).unwrap_err();
    let message = input_error_at(err, "x0.txt", 4);
    assert!(
        message.ends_with("cannot parse '2.0, 3.0' as a number"),
        "{message}"
    );
    // A row with nothing in it is a blank line, but a quoted empty field is a field.
    let err = state(b"1.0\n \t\n\"\"\n", 2).unwrap_err();
    assert!(input_error_at(err, "x0.txt", 3).ends_with("cannot parse '' as a number"));
    // Truncated: the last number without its line end reads; a cut quote does not.
    assert_eq!(state(b"1.0\r\n2.5", 2).unwrap(), [1.0, 2.5]);
    let err = state(b"1.0\r\n\"2.5", 2).unwrap_err();
    assert!(input_error_at(err, "x0.txt", 2).contains("ends inside a quoted field"));
    let err = state(b"1.0\n\"2.5\n3.0\n", 2).unwrap_err();
    assert!(input_error_at(err, "x0.txt", 2).contains("more than one line"));
}
