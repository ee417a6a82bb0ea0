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

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

/// A stored document, scanned.
#[derive(Debug)]
pub struct Document<'a> {
    stored: &'a str,
    /// Borrowed when the stored text is already compact (as every file
    /// this policy writes is): no copy.
    compact: Cow<'a, str>,
    /// The members of a top-level object in file order; `None` for any
    /// other value. A repeated key keeps its first place and its last
    /// value, as Python's `json.loads` does.
    members: Option<Vec<Slots>>,
    /// No string has an escape, no number a fraction, an exponent or more
    /// than [`PLAIN_DIGITS`] digits, and no nesting is deeper than
    /// [`PLAIN_DEPTH`]: text that `serde_json` reads exactly as this scan
    /// does (see [`Document::is_plain`]).
    plain: bool,
}

/// The most digits of a number in a plain document: any such integer is
/// exact in both an `i64` and a double.
const PLAIN_DIGITS: usize = 15;

/// The deepest nesting of a plain document, well within `serde_json`'s
/// recursion limit (128).
const PLAIN_DEPTH: usize = 64;

/// Where one member is: in the compact text, and its value as stored.
#[derive(Debug)]
struct Slots {
    /// The key, decoded, when it has escapes; else (`None`) it is the key's
    /// text between its quotes.
    name: Option<String>,
    key: Range<usize>,
    value: Range<usize>,
    stored: Range<usize>,
}

/// Objects with more members than this find repeated keys through a hash
/// index; smaller ones (every record) by comparing with each member.
const LINEAR_MEMBERS: usize = 16;

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
        self.compact.into_owned()
    }

    /// Whether `serde_json` reads this text as this scan does, value for
    /// value: no escapes (so no lone surrogates, and a string's text is its
    /// value), no number that a double could round differently (so none
    /// out of range), and no nesting near its recursion limit.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    pub fn is_object(&self) -> bool {
        self.members.is_some()
    }

    /// The members of a top-level object, in file order (none otherwise).
    pub fn members(&self) -> impl Iterator<Item = Member<'_>> {
        self.members.iter().flatten().map(|s| self.member(s))
    }

    /// The top-level member called `name`.
    pub fn get(&self, name: &str) -> Option<Member<'_>> {
        let slots = self.members.as_ref()?;
        let found = slots.iter().find(|s| self.name(s) == name)?;
        Some(self.member(found))
    }

    fn name<'d>(&'d self, slots: &'d Slots) -> &'d str {
        match &slots.name {
            Some(name) => name,
            None => &self.compact[slots.key.start + 1..slots.key.end - 1],
        }
    }

    fn member<'d>(&'d self, slots: &'d Slots) -> Member<'d> {
        Member {
            name: self.name(slots),
            key: &self.compact[slots.key.clone()],
            value: &self.compact[slots.value.clone()],
            stored: &self.stored[slots.stored.clone()],
        }
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

/// How many bytes of `bytes` a string literal can hold as they are: up to
/// the first `"`, `\\` or control character. Eight bytes at a time (wasm
/// has 64-bit integers, not the vector instructions a byte loop would
/// get natively). In accepted text a string's run ends at its `"` or `\\`.
pub(crate) fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `word` that is zero sets its high bit here (exactly the
    // first one; later ones may be false alarms, found by the byte loop).
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let special = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            // Bytes under 0x20: `word - 0x20..` borrows into their high bit
            // (ASCII bytes only; a byte of 0x80 or more is never special).
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if special != 0 {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

/// Appends `value` as a JSON string literal, escaped exactly as
/// `serde_json` escapes it: `"`, `\\` and the control characters, the
/// common ones by their short escapes, the others as `\u00xx`.
pub fn push_string(out: &mut String, value: &str) {
    out.push('"');
    if plain_run(value.as_bytes()) == value.len() {
        out.push_str(value);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0x08 => 'b',
            0x0c => 'f',
            0..=0x1f => 'u',
            _ => continue,
        };
        // An ASCII byte: always a character boundary.
        out.push_str(&value[start..i]);
        out.push('\\');
        out.push(short);
        if short == 'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("00");
            out.push(HEX[usize::from(b >> 4)].into());
            out.push(HEX[usize::from(b & 0xf)].into());
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
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
    /// The compact text so far; `None` while it is `text[..out_len]` (no
    /// whitespace skipped yet), which is never copied.
    out: Option<String>,
    out_len: usize,
    /// The open arrays and objects, innermost last: `[` or `{`.
    open: Vec<u8>,
    members: Option<Vec<Slots>>,
    /// The members' places by key, once there are more than [`LINEAR_MEMBERS`].
    index: HashMap<Vec<u16>, usize>,
    /// The top-level member whose value is being scanned.
    pending: Option<Slots>,
    plain: bool,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            at: 0,
            out: None,
            out_len: 0,
            open: Vec::new(),
            members: None,
            index: HashMap::new(),
            pending: None,
            plain: true,
        }
    }

    /// The compact text written so far.
    fn out(&self) -> &str {
        match &self.out {
            Some(out) => out,
            None => &self.text[..self.out_len],
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
                    let compact = match self.out {
                        Some(out) => Cow::Owned(out),
                        None => Cow::Borrowed(&self.text[..self.out_len]),
                    };
                    return Ok(Document {
                        stored: self.text,
                        compact,
                        members: self.members,
                        plain: self.plain,
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
                self.plain &= self.open.len() <= PLAIN_DEPTH;
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
        let (key, escaped) = self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:` after the key"));
        }
        self.emit(1);
        if self.open.len() == 1 {
            self.skip_whitespace();
            self.pending = Some(Slots {
                name: escaped.then(|| string_value(&self.out()[key.clone()])),
                key,
                value: self.out_len..self.out_len,
                stored: self.at..self.at,
            });
        }
        Ok(())
    }

    /// Records the top-level member whose value just ended.
    fn finish_member(&mut self) {
        let stored_end = self.stored_end();
        let Some(mut slots) = self.pending.take() else {
            return;
        };
        slots.value.end = self.out_len;
        slots.stored.end = stored_end;
        let out = match &self.out {
            Some(out) => out.as_str(),
            None => &self.text[..self.out_len],
        };
        let Some(members) = self.members.as_mut() else {
            return;
        };
        let key = &out[slots.key.clone()];
        let repeated = if members.len() < LINEAR_MEMBERS {
            // Keys without escapes (`name` is `None`) are the same key when
            // they are the same text.
            members.iter().position(|m| match (&m.name, &slots.name) {
                (None, None) => out[m.key.clone()] == *key,
                _ => utf16_units(&out[m.key.clone()]) == utf16_units(key),
            })
        } else {
            if self.index.is_empty() {
                for (i, m) in members.iter().enumerate() {
                    self.index
                        .entry(utf16_units(&out[m.key.clone()]))
                        .or_insert(i);
                }
            }
            let identity = utf16_units(key);
            let found = self.index.get(&identity).copied();
            if found.is_none() {
                self.index.insert(identity, members.len());
            }
            found
        };
        match repeated {
            Some(i) => {
                members[i].value = slots.value;
                members[i].stored = slots.stored;
            }
            None => members.push(slots),
        }
    }

    /// Where the value just scanned ends in the stored text (whitespace after it skipped).
    fn stored_end(&self) -> usize {
        self.text[..self.at]
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .len()
    }

    /// A string literal, copied as written; its range in the output, and
    /// whether it has escapes.
    fn string(&mut self) -> Result<(Range<usize>, bool), String> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            // The plain run first: most of a string needs no look.
            i += plain_run(&bytes[i.min(bytes.len())..]);
            match bytes.get(i) {
                None => return Err(self.error_at(i, "unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
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
        self.plain &= !escaped;
        let out_start = self.out_len;
        self.emit(i + 1 - start);
        Ok((out_start..self.out_len, escaped))
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
        self.plain &= i - int_start <= PLAIN_DIGITS && !text.contains(['.', 'e', 'E']);
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
        // Compact text (every file this policy writes) has none.
        if !matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return;
        }
        let rest = &self.text.as_bytes()[self.at..];
        let skipped = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(rest.len());
        // The output stops being a prefix of the text once whitespace inside
        // it is skipped (whitespace at the very end changes nothing).
        if skipped > 0 && self.out.is_none() && self.at + skipped < self.text.len() {
            let mut out = String::with_capacity(self.text.len());
            out.push_str(&self.text[..self.out_len]);
            self.out = Some(out);
        }
        self.at += skipped;
    }

    /// Copies the next `len` bytes of the stored text to the output.
    fn emit(&mut self, len: usize) {
        if let Some(out) = &mut self.out {
            out.push_str(&self.text[self.at..self.at + len]);
        }
        self.at += len;
        self.out_len += len;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compact_text_is_not_copied_and_whitespace_is_removed_where_it_stands() {
        let compact = r#"{"a":[1,{"b":"c d"}],"e":null}"#;
        let doc = Document::scan(compact.as_bytes()).unwrap();
        assert!(matches!(doc.compact, Cow::Borrowed(_)));
        assert_eq!(doc.compact(), compact);
        // Whitespace at the very end only: still the stored text's prefix.
        let doc = Document::scan(b"[1,2] \n").unwrap();
        assert!(matches!(doc.compact, Cow::Borrowed("[1,2]")));
        let spaced = " {\"a\" : [ 1 , {\"b\":\"c d\"} ],\n\"e\":null } ";
        let doc = Document::scan(spaced.as_bytes()).unwrap();
        assert_eq!(doc.compact(), compact);
        let members: Vec<_> = doc.members().map(|m| (m.name, m.key, m.value)).collect();
        assert_eq!(
            members,
            [
                ("a", r#""a""#, r#"[1,{"b":"c d"}]"#),
                ("e", r#""e""#, "null")
            ]
        );
        assert_eq!(doc.get("a").unwrap().stored, r#"[ 1 , {"b":"c d"} ]"#);
    }

    #[test]
    fn repeated_keys_keep_the_first_place_and_the_last_value_in_small_and_large_objects() {
        for count in [3, LINEAR_MEMBERS - 1, LINEAR_MEMBERS, 40] {
            let mut text = String::from("{");
            for i in 0..count {
                text.push_str(&format!(r#""k{i}":{i},"#));
            }
            // Repeats of the first and the last key, one spelt with escapes.
            let last = count - 1;
            text.push_str(&format!(
                r#""\u006b0":"x","k{last}":"y","\ud800":1,"\uD800":2}}"#
            ));
            let doc = Document::scan(text.as_bytes()).unwrap();
            let members: Vec<_> = doc.members().collect();
            assert_eq!(members.len(), count + 1, "{count}");
            assert_eq!((members[0].name, members[0].value), ("k0", r#""x""#));
            assert_eq!(members[last].value, r#""y""#);
            assert_eq!(members[count].key, r#""\ud800""#);
            assert_eq!(members[count].name, "\u{FFFD}");
            assert_eq!(members[count].value, "2");
        }
    }

    #[test]
    fn the_plain_run_stops_at_the_first_quote_backslash_or_control_byte() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(bytes.len())
        };
        for filler in [b'a', b' ', 0x21, 0x7f, 0x80, 0xc3, 0xff] {
            for len in 0..20 {
                let mut bytes = vec![filler; len];
                assert_eq!(plain_run(&bytes), len);
                for at in 0..len {
                    for special in (0..0x20).chain([b'"', b'\\']) {
                        bytes[at] = special;
                        assert_eq!(plain_run(&bytes), naive(&bytes), "{bytes:?}");
                        bytes[at] = filler;
                    }
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every = String::new();
        for c in (0..0x800)
            .chain([0x2028, 0xFFFF, 0x10FFFF])
            .filter_map(char::from_u32)
        {
            every.push(c);
            let mut out = String::new();
            push_string(&mut out, c.encode_utf8(&mut [0; 4]));
            assert_eq!(out, serde_json::to_string(&c.to_string()).unwrap());
        }
        let mut out = String::new();
        push_string(&mut out, &every);
        assert_eq!(out, serde_json::to_string(&every).unwrap());
    }

    #[test]
    fn plain_means_no_escape_no_fraction_no_long_number_and_shallow() {
        let plain = |text: &str| Document::scan(text.as_bytes()).unwrap().is_plain();
        assert!(plain(
            r#"{"a":"b","n":-123456789012345,"t":[true,null,{}]}"#
        ));
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(plain(&deep(PLAIN_DEPTH)));
        assert!(!plain(&deep(PLAIN_DEPTH + 1)));
        for not_plain in [
            r#"["\n"]"#,
            r#"{"\u0061":1}"#,
            "[1.0]",
            "[1e2]",
            "[1E2]",
            "[1234567890123456]",
        ] {
            assert!(!plain(not_plain), "{not_plain}");
        }
    }
}
