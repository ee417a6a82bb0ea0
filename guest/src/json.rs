//! A stored file's JSON, scanned once: checked against RFC 8259, its
//! insignificant whitespace removed, and the members of a top-level object
//! found, each kept as its JSON text.
//!
//! Why not `serde_json` for files on disk: it refuses two kinds of JSON that
//! Python's `json` writes and the lab app reads (issue 10, point 3): nesting
//! deeper than 128 (its recursion limit) and lone surrogate escapes such as
//! `"\ud800"` (valid JSON text, not a valid Rust `String`). A file that is
//! JSON must never be "recovered" as corrupt, which loses its
//! `first_seen_at` and unknown fields.
//!
//! Bounds that protect the guest: the host hands the policy at most its read
//! limit (default 1 MiB; a bigger file is refused by the host with
//! `io_error` and never recovered). The scan is a loop, not a recursion: one
//! byte of heap per open array or object, so any depth that fits in the
//! file is read without touching the component's small stack, and there is
//! no nesting bound but the size.
//!
//! Not JSON (`decode_error`): text that is not UTF-8, breaks the grammar of
//! RFC 8259, or holds a number outside the range of a double (docs/spec.md
//! section 6). That includes `NaN`, `Infinity` and `-Infinity`, which
//! Python's `json` writes for such floats: they are not JSON, and reading
//! them as JSON while `1e400` is refused would make one infinity a file and
//! the other a corrupt one.

use std::collections::HashMap;
use std::ops::Range;

/// A stored document, scanned.
#[derive(Debug)]
pub struct Document<'a> {
    stored: &'a str,
    compact: String,
    /// The members of a top-level object in file order; `None` for any
    /// other value. A repeated key keeps its first place and its last
    /// value, as Python's `json.loads` does.
    members: Option<Vec<Slots>>,
}

/// Where one member is: in the compact text, and its value as stored.
#[derive(Debug)]
struct Slots {
    name: String,
    key: Range<usize>,
    value: Range<usize>,
    stored: Range<usize>,
}

/// One member of a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'d> {
    /// The key, decoded (a lone surrogate reads as U+FFFD).
    pub name: &'d str,
    /// The key's string literal exactly as stored, quotes included.
    pub key: &'d str,
    /// The value's JSON text without insignificant whitespace.
    pub value: &'d str,
    /// The value's JSON text exactly as stored.
    pub stored: &'d str,
}

impl<'a> Document<'a> {
    /// Scans `bytes`; the error says why they are not JSON, and where.
    pub fn scan(bytes: &'a [u8]) -> Result<Self, String> {
        let stored = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
        Scanner::new(stored).run()
    }

    /// The whole document without insignificant whitespace, keys in file order.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    pub fn into_compact(self) -> String {
        self.compact
    }

    pub fn is_object(&self) -> bool {
        self.members.is_some()
    }

    /// The members of a top-level object, in file order (none otherwise).
    pub fn members(&self) -> impl Iterator<Item = Member<'_>> {
        self.members.iter().flatten().map(|s| Member {
            name: &s.name,
            key: &self.compact[s.key.clone()],
            value: &self.compact[s.value.clone()],
            stored: &self.stored[s.stored.clone()],
        })
    }

    /// The top-level member called `name`.
    pub fn get(&self, name: &str) -> Option<Member<'_>> {
        self.members().find(|m| m.name == name)
    }
}

/// What a JSON value is, from its text.
pub fn type_name(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

/// The text of a string literal that [`Document::scan`] accepted. A lone
/// surrogate escape reads as U+FFFD: a Rust (and WIT) `string` cannot hold
/// it. Only what is decoded changes; the file's own text is kept as it is.
pub fn string_value(literal: &str) -> String {
    let inner = &literal[1..literal.len() - 1];
    if !inner.contains('\\') {
        return inner.to_owned();
    }
    String::from_utf16_lossy(&utf16_units(literal))
}

/// The UTF-16 code units a string literal spells, lone surrogates included:
/// the exact identity of a key (`"\ud800"` and `"\uD800"` are one key).
fn utf16_units(literal: &str) -> Vec<u16> {
    let mut units = Vec::with_capacity(literal.len());
    let mut chars = literal[1..literal.len() - 1].chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        units.push(match chars.next() {
            Some('b') => 0x08,
            Some('f') => 0x0c,
            Some('n') => 0x0a,
            Some('r') => 0x0d,
            Some('t') => 0x09,
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).unwrap_or(0xFFFD)
            }
            // `"`, `\` and `/` stand for themselves.
            Some(c) => c as u16,
            None => break,
        });
    }
    units
}

/// The bracket that closes `open`.
fn closing(open: u8) -> u8 {
    if open == b'[' {
        b']'
    } else {
        b'}'
    }
}

/// The scanner's state: where it is in the stored text, what it has written.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
    out: String,
    /// The open arrays and objects, innermost last: `[` or `{`.
    open: Vec<u8>,
    members: Option<Vec<Slots>>,
    index: HashMap<Vec<u16>, usize>,
    /// The top-level member whose value is being scanned.
    pending: Option<Slots>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            at: 0,
            out: String::with_capacity(text.len()),
            open: Vec::new(),
            members: None,
            index: HashMap::new(),
            pending: None,
        }
    }

    fn run(mut self) -> Result<Document<'a>, String> {
        self.skip_whitespace();
        if self.peek() == Some(b'{') {
            self.members = Some(Vec::new());
        }
        loop {
            if self.value()? {
                continue; // inside a new array or object: its first value
            }
            // After a value: close what ends here, then find the next value.
            loop {
                self.skip_whitespace();
                if self.open.len() == 1 {
                    self.finish_member();
                }
                let Some(&inside) = self.open.last() else {
                    if self.at < self.text.len() {
                        return Err(self.error("trailing characters after the value"));
                    }
                    return Ok(Document {
                        stored: self.text,
                        compact: self.out,
                        members: self.members,
                    });
                };
                match self.peek() {
                    Some(b',') => {
                        self.emit(1);
                        if inside == b'{' {
                            self.key()?;
                        }
                        break;
                    }
                    Some(c) if c == closing(inside) => {
                        self.emit(1);
                        self.open.pop();
                    }
                    _ => return Err(self.error("expected `,` or the end of the array or object")),
                }
            }
        }
    }

    /// One value, or the opening of an array or object: then `true` when a
    /// first value (after its key) follows inside. The loop in `run` goes on
    /// inside, so nesting never recurses.
    fn value(&mut self) -> Result<bool, String> {
        self.skip_whitespace();
        match self.peek() {
            Some(open @ (b'[' | b'{')) => {
                self.emit(1);
                self.open.push(open);
                self.skip_whitespace();
                if self.peek() == Some(closing(open)) {
                    return Ok(false); // empty: `run` closes it
                }
                if open == b'{' {
                    self.key()?;
                }
                Ok(true)
            }
            Some(b'"') => self.string().map(|_| false),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| false),
            Some(b't') => self.literal("true").map(|()| false),
            Some(b'f') => self.literal("false").map(|()| false),
            Some(b'n') => self.literal("null").map(|()| false),
            _ => Err(self.error("expected a value")),
        }
    }

    /// A key and its colon; at the top level of an object, a member begins.
    fn key(&mut self) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let key = self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:` after the key"));
        }
        self.emit(1);
        if self.open.len() == 1 {
            self.skip_whitespace();
            self.pending = Some(Slots {
                name: string_value(&self.out[key.clone()]),
                key,
                value: self.out.len()..self.out.len(),
                stored: self.at..self.at,
            });
        }
        Ok(())
    }

    /// Records the top-level member whose value just ended.
    fn finish_member(&mut self) {
        let stored_end = self.stored_end();
        let (Some(mut slots), Some(members)) = (self.pending.take(), self.members.as_mut()) else {
            return;
        };
        slots.value.end = self.out.len();
        slots.stored.end = stored_end;
        let identity = utf16_units(&self.out[slots.key.clone()]);
        match self.index.get(&identity) {
            Some(&i) => {
                members[i].value = slots.value;
                members[i].stored = slots.stored;
            }
            None => {
                self.index.insert(identity, members.len());
                members.push(slots);
            }
        }
    }

    /// Where the value just scanned ends in the stored text (whitespace after it skipped).
    fn stored_end(&self) -> usize {
        self.text[..self.at]
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .len()
    }

    /// A string literal, copied as written; its range in the output.
    fn string(&mut self) -> Result<Range<usize>, String> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None => return Err(self.error_at(i, "unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    let valid = match bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u')
                            if bytes
                                .get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            6
                        }
                        _ => return Err(self.error_at(i, "invalid escape in a string")),
                    };
                    i += valid;
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.error_at(i, "control character in a string"))
                }
                Some(_) => i += 1,
            }
        }
        let out_start = self.out.len();
        self.emit(i + 1 - start);
        Ok(out_start..self.out.len())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, within a double's range.
    fn number(&mut self) -> Result<(), String> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes[i] == b'-' {
            i += 1;
        }
        let int_start = i;
        if !digits(&mut i) || (bytes[int_start] == b'0' && i - int_start > 1) {
            return Err(self.error_at(int_start, "invalid number"));
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return Err(self.error_at(i, "invalid number: no digits after `.`"));
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(self.error_at(i, "invalid number: no digits in the exponent"));
            }
        }
        let text = &self.text[start..i];
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(self.error_at(start, "number outside the range of a double"));
        }
        self.emit(i - start);
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.emit(word.len());
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    /// Copies the next `len` bytes of the stored text to the output.
    fn emit(&mut self, len: usize) {
        self.out.push_str(&self.text[self.at..self.at + len]);
        self.at += len;
    }

    fn error(&self, what: &str) -> String {
        self.error_at(self.at, what)
    }

    /// `what`, at a line and column (1-based) of the stored text.
    fn error_at(&self, at: usize, what: &str) -> String {
        let before = &self.text.as_bytes()[..at.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{what} at line {line} column {column}")
    }
}
