//! Reading whole files: line numbers, blank lines, bounds on errors, I/O errors.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use kafo_model::parse::{self, HouseholdLines, MAX_LINE_BYTES, ParseFileError, Problem};

fn line(id: &str) -> String {
    format!(r#"{{"area":"sikoro","chw":"chw-01","id":"{id}","name":"Famille {id}"}}"#)
}

fn parse(text: &str, max_errors: usize) -> Result<Vec<String>, ParseFileError> {
    parse::parse_reader(Cursor::new(text.as_bytes().to_vec()), max_errors)
        .map(|households| households.into_iter().map(|h| h.id.to_string()).collect())
}

/// One bad line as `(line number, fields, problems)`.
type Bad = (u64, Vec<String>, Vec<Problem>);

/// The bad lines of `text`, and how many more there were.
fn bad_lines(text: &str, max_errors: usize) -> (Vec<Bad>, usize) {
    match parse(text, max_errors) {
        Err(ParseFileError::Invalid(invalid)) => (
            invalid
                .lines
                .iter()
                .map(|bad| {
                    (
                        bad.line,
                        bad.errors.errors.iter().map(|e| e.field.clone()).collect(),
                        bad.errors
                            .errors
                            .iter()
                            .map(|e| e.problem.clone())
                            .collect(),
                    )
                })
                .collect(),
            invalid.more,
        ),
        other => panic!("expected bad lines, got {other:?}"),
    }
}

#[test]
fn a_good_file_gives_every_household_in_order() {
    let text = format!("{}\n{}\n{}", line("h2"), line("h1"), line("h3"));
    assert_eq!(parse(&text, 10).expect("valid"), ["h2", "h1", "h3"]);
    assert_eq!(
        parse("", 10).expect("an empty file is valid"),
        Vec::<String>::new()
    );
}

#[test]
fn line_endings_byte_order_mark_and_trailing_blank_lines_are_accepted() {
    let text = format!("\u{feff}{}\r\n{}\r\n\n  \n", line("h1"), line("h2"));
    assert_eq!(parse(&text, 10).expect("valid"), ["h1", "h2"]);
}

#[test]
fn an_empty_line_before_the_end_is_bad() {
    let text = format!("{}\n\n\n{}\n\n", line("h1"), line("h2"));
    let (bad, more) = bad_lines(&text, 10);
    assert_eq!(
        bad,
        [
            (2, vec![String::new()], vec![Problem::EmptyLine]),
            (3, vec![String::new()], vec![Problem::EmptyLine]),
        ]
    );
    assert_eq!(more, 0);
}

#[test]
fn bad_lines_are_numbered_from_one_and_bounded() {
    let mut text = String::new();
    for n in 1..=10 {
        if n % 2 == 0 {
            text.push_str(&format!("{{\"id\":\"bad-{n}\"}}\n"));
        } else {
            text.push_str(&line(&format!("h{n}")));
            text.push('\n');
        }
    }
    let (bad, more) = bad_lines(&text, 3);
    let numbers: Vec<u64> = bad.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(numbers, [2, 4, 6]);
    assert_eq!(more, 2);
    assert_eq!(bad[0].1, ["area", "chw", "name"]);
    assert!(bad[0].2.iter().all(|p| *p == Problem::Missing));

    let (bad, more) = bad_lines(&text, 0);
    assert!(bad.is_empty());
    assert_eq!(more, 5);
}

#[test]
fn a_household_id_may_appear_on_one_line_only() {
    let text = format!("{}\n{}\n{}\n", line("h1"), line("h2"), line("h1"));
    let (bad, _) = bad_lines(&text, 10);
    assert_eq!(
        bad,
        [(
            3,
            vec!["id".to_owned()],
            vec![Problem::DuplicateHousehold { first_line: 1 }]
        )]
    );
}

#[test]
fn bytes_that_are_not_utf8_make_a_bad_line_not_an_io_error() {
    let mut bytes = format!("{}\n", line("h1")).into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"\xff\"}\n");
    bytes.extend_from_slice(format!("{}\n", line("h2")).as_bytes());
    match parse::parse_reader(Cursor::new(bytes), 10) {
        Err(ParseFileError::Invalid(invalid)) => {
            assert_eq!(invalid.lines.len(), 1);
            assert_eq!(invalid.lines[0].line, 2);
            assert_eq!(invalid.lines[0].errors.errors[0].problem, Problem::NotUtf8);
        }
        other => panic!("expected a bad line, got {other:?}"),
    }
}

#[test]
fn a_line_too_long_is_bad_and_reading_goes_on() {
    let long = format!("{{\"name\":\"{}\"}}", "a".repeat(MAX_LINE_BYTES));
    let text = format!("{}\n{long}\n{}\n{}", line("h1"), line("h2"), long);
    let reader = BufReader::with_capacity(64 * 1024, Cursor::new(text.into_bytes()));
    let lines: Vec<_> = HouseholdLines::new(reader)
        .map(|parsed| parsed.expect("no I/O error"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].household.is_ok());
    assert_eq!(
        lines[1].household.as_ref().expect_err("too long").errors[0].problem,
        Problem::LineTooLong {
            max: MAX_LINE_BYTES
        }
    );
    assert_eq!(lines[2].line, 3);
    assert!(lines[2].household.is_ok());
    assert!(lines[3].household.is_err());
}

/// A reader that fails after its first line.
struct FailingReader {
    sent: bool,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent {
            return Err(io::Error::other("disk unplugged"));
        }
        self.sent = true;
        let first = format!("{}\n", line("h1"));
        buf[..first.len()].copy_from_slice(first.as_bytes());
        Ok(first.len())
    }
}

#[test]
fn io_errors_are_their_own_variant_with_the_line_being_read() {
    let reader: Box<dyn BufRead> = Box::new(BufReader::new(FailingReader { sent: false }));
    match parse::parse_reader(reader, 10) {
        Err(ParseFileError::Read(err)) => {
            assert_eq!(err.line, 2);
            assert_eq!(err.source.to_string(), "disk unplugged");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn bad_lines_serialise_for_machine_readable_output() {
    let text = format!("{}\n{{\"id\":\"h 2\"}}\n", line("h1"));
    let Err(ParseFileError::Invalid(invalid)) = parse(&text, 10) else {
        panic!("expected bad lines");
    };
    let json = serde_json::to_value(&invalid).expect("serialisable");
    assert_eq!(json["lines"][0]["line"], 2);
    assert_eq!(json["lines"][0]["errors"][0]["field"], "id");
    assert_eq!(
        json["lines"][0]["errors"][0]["problem"],
        "bad identifier: identifier has ' ' at position 1; only A-Z a-z 0-9 . _ - are allowed"
    );
    assert_eq!(json["more"], 0);
}
