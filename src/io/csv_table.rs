//! CSV tables: the one reader behind every comma-separated text file fourdvar reads
//! (observation files, RNN sequence data, state text files), built on the `csv` crate, plus
//! the number parser and the number format those files share.
//!
//! What any of these files may hold, whatever its columns:
//! * a UTF-8 byte-order mark at the very start;
//! * comment lines, whose first non-blank character is `#`, and blank lines; both are skipped;
//! * LF or CRLF line ends (a lone CR ends a line too, as the `csv` crate reads it);
//! * fields separated by commas, each with the blanks around it dropped; a field may be
//!   quoted (`"1.5"`, with `""` for a quote inside it) when the quote is its first character,
//!   but it may not run over several lines;
//! * rows of differing lengths: whether that is an error is for each format to say, since
//!   each words it its own way.
//!
//! Every row knows the 1-based file line it starts on, so that errors name the file and line.

use std::io::Cursor;
use std::path::Path;

use csv::{ByteRecord, StringRecord};

use crate::error::{Error, Result};

/// The UTF-8 encoding of U+FEFF, the byte-order mark some editors put at the start of a file.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// A CSV file read row by row: comments, blank lines and the byte-order mark skipped, fields
/// trimmed, each row with its file line.
pub(crate) struct CsvTable<'p> {
    path: &'p Path,
    reader: csv::Reader<Cursor<Vec<u8>>>,
    record: ByteRecord,
    not_utf8_note: &'static str,
}

/// One row of a [`CsvTable`]: its fields, trimmed, and where it is in the file.
#[derive(Clone, Debug)]
pub(crate) struct CsvRow {
    line: usize,
    fields: StringRecord,
    /// The row's bytes in the file, from its first field to its line end.
    span: std::ops::Range<usize>,
}

impl CsvRow {
    /// The 1-based file line the row starts on.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// The fields in file order, trimmed and unquoted.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter()
    }

    /// Field `index` (0-based), trimmed and unquoted, if the row has it.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        self.fields.get(index)
    }
}

impl<'p> CsvTable<'p> {
    /// A table over the whole content `bytes` of the file `path` (the path is for messages).
    pub(crate) fn new(path: &'p Path, mut bytes: Vec<u8>) -> Self {
        mark_indented_comments(&mut bytes);
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(Cursor::new(bytes));
        CsvTable {
            path,
            reader,
            record: ByteRecord::new(),
            not_utf8_note: "",
        }
    }

    /// Adds `note` to the message for text that is not UTF-8 (for example that the file is
    /// not NetCDF either, for files that may be one or the other).
    pub(crate) fn with_not_utf8_note(mut self, note: &'static str) -> Self {
        self.not_utf8_note = note;
        self
    }

    /// The file's bytes as the `csv` reader sees them.
    fn bytes(&self) -> &[u8] {
        self.reader.get_ref().get_ref()
    }

    /// The next row, or None at the end of the file. Text that is not UTF-8, a quoted field
    /// that spans lines and a file that ends inside a quoted field are [`Error::Input`]s
    /// naming the file and the line.
    pub(crate) fn next_row(&mut self) -> Result<Option<CsvRow>> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| Error::input(self.path, None, format!("cannot be read: {e}")))?;
            // The crate dates a record from where the previous one ended, before the comment
            // and blank lines it skipped, so the record's own first line is found from there.
            let (after, line_before) = self
                .record
                .position()
                .map_or((0, 1), |p| (p.byte() as usize, p.line() as usize));
            let (start, line) =
                record_start(self.bytes(), after, line_before).map_err(|bad| self.not_utf8(bad))?;
            if !more {
                return Ok(None);
            }
            let end = (self.reader.position().byte() as usize).max(start);
            let fields = match StringRecord::from_byte_record(std::mem::take(&mut self.record)) {
                Ok(mut fields) => {
                    fields.trim();
                    fields
                }
                Err(_) => return Err(self.not_utf8(line)),
            };
            // A line of blanks is a record of one empty field for the crate, and a blank line
            // here; a quoted empty field (`""`) is a field.
            if std::str::from_utf8(&self.bytes()[start..end]).is_ok_and(|t| t.trim().is_empty()) {
                continue;
            }
            self.check_quotes(line, start..end, &fields)?;
            return Ok(Some(CsvRow {
                line,
                fields,
                span: start..end,
            }));
        }
    }

    /// The error for text on `line` that is not UTF-8.
    fn not_utf8(&self, line: usize) -> Error {
        Error::input(
            self.path,
            Some(line),
            format!("not valid UTF-8 text{}", self.not_utf8_note),
        )
    }

    /// Refuses a row that the `csv` crate read across lines through an open quote: a field
    /// that holds a line break, or (at the end of the file) an odd number of quotes.
    fn check_quotes(
        &self,
        line: usize,
        span: std::ops::Range<usize>,
        fields: &StringRecord,
    ) -> Result<()> {
        if let Some(j) = fields.iter().position(|f| f.contains(['\n', '\r'])) {
            return Err(Error::input(
                self.path,
                Some(line),
                format!(
                    "field {} is a quoted field that runs over more than one line (is a closing \
                     double quote missing?)",
                    j + 1
                ),
            ));
        }
        // An unclosed quote swallows everything after it, so such a row ends the file.
        let bytes = self.bytes();
        let quotes = bytes[span.clone()].iter().filter(|&&b| b == b'"').count();
        if span.end == bytes.len() && quotes % 2 == 1 {
            return Err(Error::input(
                self.path,
                Some(line),
                "the file ends inside a quoted field (a closing double quote is missing)",
            ));
        }
        Ok(())
    }

    /// The text of `row` as written in the file (quotes and all), trimmed, for messages.
    pub(crate) fn source_text(&self, row: &CsvRow) -> String {
        let bytes = self.bytes();
        let span = row.span.start.min(bytes.len())..row.span.end.min(bytes.len());
        String::from_utf8_lossy(&bytes[span]).trim().to_string()
    }
}

/// The byte offset and 1-based line of the first field of the record that the `csv` crate
/// started reading at byte `at` on line `line` (or of the end of the file, when no record
/// follows): past a byte-order mark at the start of the file, line ends and comment lines,
/// exactly the bytes the crate skips there. The crate skips comments unread; they must be
/// UTF-8 all the same, like the rest of the file, or the error is the comment's line.
fn record_start(bytes: &[u8], mut at: usize, mut line: usize) -> Result<(usize, usize), usize> {
    if at == 0 && bytes.starts_with(BOM) {
        at = BOM.len();
    }
    loop {
        match bytes.get(at) {
            Some(b'\n') => {
                line += 1;
                at += 1;
            }
            Some(b'\r') => at += 1,
            Some(b'#') => {
                let end = bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| at + n);
                if std::str::from_utf8(&bytes[at..end]).is_err() {
                    return Err(line);
                }
                at = end;
            }
            _ => return Ok((at, line)),
        }
    }
}

/// Moves the `#` of every comment line that starts with blanks to the start of its line
/// (`"  # c"` becomes `"#   c"`, same length), because the `csv` crate only knows comments
/// that start in the first column, and fourdvar's files have always allowed indented ones.
/// Doing it before the crate parses keeps a quote inside such a comment from opening a field.
fn mark_indented_comments(bytes: &mut [u8]) {
    let mut start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| start + n);
        let line = &bytes[start..end];
        // Blanks as `str::trim` counts them (Unicode White_Space), as the readers always did.
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or_default(),
        };
        let blanks = text.len() - text.trim_start().len();
        if blanks > 0 && line.get(blanks) == Some(&b'#') {
            bytes[start] = b'#';
            bytes[start + 1..=start + blanks].fill(b' ');
        }
        start = end + 1;
    }
}

/// A header row's column: what it means for the format (`key`), its name as written and its
/// 1-based number in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column<K> {
    /// What the column holds, in the format's terms.
    pub key: K,
    /// The header's name for it, trimmed.
    pub name: String,
    /// Its 1-based position in the header.
    pub number: usize,
}

/// A CSV header row: the columns in file order and the line they are on.
#[derive(Clone, Debug)]
pub(crate) struct Header<K> {
    /// The columns, in the order of the file's fields.
    pub columns: Vec<Column<K>>,
    /// The header's 1-based file line.
    pub line: usize,
}

/// What is wrong with a header row; each format words its own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderProblem<K> {
    /// Column `number` (1-based) has an empty name.
    Unnamed {
        /// The column's 1-based number.
        number: usize,
    },
    /// Column `number` has a name that the format does not know.
    Unknown {
        /// The column's 1-based number.
        number: usize,
        /// Its name as written.
        name: String,
    },
    /// Columns `first` and `second` both mean `key`.
    Repeated {
        /// What both columns mean.
        key: K,
        /// The second column's name as written.
        name: String,
        /// The first column's 1-based number.
        first: usize,
        /// The second column's 1-based number.
        second: usize,
    },
}

impl<K: Copy + PartialEq> Header<K> {
    /// Reads `row` as a header, naming each field through `key_of` (None for a name the
    /// format does not know). Fields are checked in order; the first empty, unknown or
    /// repeated name is the problem.
    pub(crate) fn parse(
        row: &CsvRow,
        key_of: impl Fn(&str) -> Option<K>,
    ) -> std::result::Result<Self, HeaderProblem<K>> {
        let mut columns: Vec<Column<K>> = Vec::with_capacity(row.len());
        for (j, name) in row.fields().enumerate() {
            let number = j + 1;
            let Some(key) = key_of(name) else {
                return Err(if name.is_empty() {
                    HeaderProblem::Unnamed { number }
                } else {
                    HeaderProblem::Unknown {
                        number,
                        name: name.to_string(),
                    }
                });
            };
            if let Some(first) = columns.iter().find(|c| c.key == key) {
                return Err(HeaderProblem::Repeated {
                    key,
                    name: name.to_string(),
                    first: first.number,
                    second: number,
                });
            }
            columns.push(Column {
                key,
                name: name.to_string(),
                number,
            });
        }
        Ok(Header {
            columns,
            line: row.line(),
        })
    }

    /// Whether a column means `key`.
    pub(crate) fn has(&self, key: K) -> bool {
        self.columns.iter().any(|c| c.key == key)
    }

    /// The keys of the columns, in file order.
    pub(crate) fn keys(&self) -> Vec<K> {
        self.columns.iter().map(|c| c.key).collect()
    }

    /// The number of columns, which every data row must have.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }
}

/// Why a field is not a usable number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberProblem {
    /// The text is not a number at all.
    Unparsable,
    /// The text is NaN, an infinity, or overflows to one (`1e400`).
    NotFinite,
}

/// The finite number that the (trimmed) field `text` holds, in Rust's `f64` syntax, which
/// reads the text [`number_text`] writes back to the same bits.
pub(crate) fn parse_number(text: &str) -> std::result::Result<f64, NumberProblem> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(NumberProblem::NotFinite),
        Err(_) => Err(NumberProblem::Unparsable),
    }
}

/// The shortest text that parses back to exactly `v`: plain decimals for magnitudes in
/// [1e-4, 1e15) and zero, scientific notation otherwise (Rust's float formatting is shortest
/// round-trip in both forms).
pub(crate) fn number_text(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-4..1e15).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of `text` as (line, fields).
    fn rows(text: &[u8]) -> Vec<(usize, Vec<String>)> {
        let path = Path::new("t.csv");
        let mut table = CsvTable::new(path, text.to_vec());
        let mut out = Vec::new();
        while let Some(row) = table.next_row().unwrap() {
            out.push((row.line(), row.fields().map(String::from).collect()));
        }
        out
    }

    fn error(text: &[u8]) -> String {
        let mut table = CsvTable::new(Path::new("t.csv"), text.to_vec());
        loop {
            match table.next_row() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error in {:?}", String::from_utf8_lossy(text)),
                Err(e) => return e.to_string(),
            }
        }
    }

    fn row(line: usize, fields: &[&str]) -> (usize, Vec<String>) {
        (line, fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn rows_carry_their_own_line_after_comments_blank_lines_and_crlf() {
        let text = b"\xef\xbb\xbf# c\n\n  a , b\r\n# d, \"e\r\n\r\n   \n\t# f\n1,2\n3";
        assert_eq!(
            rows(text),
            [row(3, &["a", "b"]), row(8, &["1", "2"]), row(9, &["3"])]
        );
    }

    #[test]
    fn unicode_blank_lines_are_skipped_but_a_quoted_empty_field_is_a_row() {
        let text = "a\n\u{a0}\u{3000}\n\"\"\n";
        assert_eq!(rows(text.as_bytes()), [row(1, &["a"]), row(3, &[""])]);
    }

    #[test]
    fn quoted_fields_keep_commas_and_quotes() {
        let text = b"a,b\n\"1,5\",\" x \"\"y\"\" \"\n";
        assert_eq!(
            rows(text),
            [row(1, &["a", "b"]), row(2, &["1,5", "x \"y\""])]
        );
    }

    #[test]
    fn an_indented_comment_with_a_quote_does_not_open_a_field() {
        let text = b"a\n  # it's \"odd,\"x\n1\n";
        assert_eq!(rows(text), [row(1, &["a"]), row(3, &["1"])]);
    }

    #[test]
    fn fields_over_several_lines_and_open_quotes_are_refused_with_their_line() {
        let e = error(b"a,b\n# c\n1,\"2\n3\",4\n");
        assert!(e.starts_with("t.csv, line 3: field 2 "), "{e}");
        let e = error(b"a,b\n1,\"2");
        assert!(e.starts_with("t.csv, line 2: the file ends inside"), "{e}");
        let e = error(b"a\n\xff\n");
        assert_eq!(e, "t.csv, line 2: not valid UTF-8 text");
        let e = error(b"a\n1\n\n  # \xff\n");
        assert_eq!(e, "t.csv, line 4: not valid UTF-8 text");
    }

    #[test]
    fn source_text_is_the_row_as_written() {
        let mut table = CsvTable::new(Path::new("t.csv"), b"# c\n 1, \"2\" \r\n".to_vec());
        let row = table.next_row().unwrap().unwrap();
        assert_eq!(table.source_text(&row), "1, \"2\"");
    }

    #[test]
    fn numbers_are_finite_and_round_trip() {
        assert_eq!(parse_number("1e400"), Err(NumberProblem::NotFinite));
        assert_eq!(parse_number("NaN"), Err(NumberProblem::NotFinite));
        assert_eq!(parse_number("1,5"), Err(NumberProblem::Unparsable));
        for v in [0.1, -0.0, 5e-324, f64::MAX, 1e15, 9.99e-5, 1.0 / 3.0] {
            let back = parse_number(&number_text(v)).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
        assert_eq!(number_text(1e15), "1e15");
        assert_eq!(number_text(0.0001), "0.0001");
    }
}
