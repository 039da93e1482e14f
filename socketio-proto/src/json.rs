//! A JSON grammar check without a tree, a visitor or recursion: the validation pass every
//! decoded packet goes through.
//!
//! It accepts exactly what `JSON.parse` accepts (ECMA-404): whitespace is space, tab, LF and
//! CR; numbers follow `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` whatever their
//! magnitude; escapes are `\" \\ \/ \b \f \n \r \t \uXXXX`, lone surrogates included; raw
//! control characters (below U+0020) are refused inside strings; nesting depth is unlimited.
//! The input is a `&str`, so it is UTF-8 already and bytes from 0x80 up need no look.
//!
//! Nesting is tracked in a bit stack (one bit per open container: object or array) that
//! lives in a machine word for the first 64 levels and spills to the heap only beyond, so
//! ordinary payloads are checked without allocating, and a deep one costs one bit per level.

/// The input is not one JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// Whitespace as JSON defines it: space, tab, LF and CR.
pub(crate) fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where the value in `json` starts: the offset and the byte after any leading whitespace.
pub(crate) fn first_significant(json: &str) -> Option<(usize, u8)> {
    json.bytes()
        .enumerate()
        .find(|&(_, byte)| !is_whitespace(byte))
}

/// Checks that `json` is one JSON value, with optional whitespace around it.
pub(crate) fn validate(json: &str) -> Result<(), Invalid> {
    let mut scanner = Scanner::new(json);
    scanner.value()?;
    scanner.end()
}

/// Checks that `json` is one JSON array and returns its first element as written (`None`
/// for `[]`). The caller has checked that the first non-whitespace byte is `[`.
pub(crate) fn first_array_element(json: &str) -> Result<Option<&str>, Invalid> {
    let mut scanner = Scanner::new(json);
    scanner.skip_whitespace();
    scanner.expect(b'[')?;
    scanner.skip_whitespace();
    if scanner.peek() == Some(b']') {
        scanner.at += 1;
        return scanner.end().map(|()| None);
    }
    let start = scanner.at;
    scanner.value()?;
    // The value ends at its last byte: `value` stops right after it, before any whitespace.
    let first = &json[start..scanner.at];
    loop {
        scanner.skip_whitespace();
        match scanner.peek() {
            Some(b',') => {
                scanner.at += 1;
                scanner.value()?;
            }
            Some(b']') => {
                scanner.at += 1;
                return scanner.end().map(|()| Some(first));
            }
            _ => return Err(Invalid),
        }
    }
}

/// Bytes that end the fast part of a string scan: the quote, the backslash and the control
/// characters, which JSON refuses raw.
const STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// One bit per open container, `true` for an object.
struct Nesting {
    depth: usize,
    low: u64,
    high: Vec<u64>,
}

impl Nesting {
    fn push(&mut self, object: bool) {
        let level = self.depth;
        if level < 64 {
            self.low = (self.low & !(1 << level)) | (u64::from(object) << level);
        } else {
            let (word, bit) = ((level - 64) / 64, (level - 64) % 64);
            if word == self.high.len() {
                self.high.push(0);
            }
            self.high[word] = (self.high[word] & !(1 << bit)) | (u64::from(object) << bit);
        }
        self.depth += 1;
    }

    /// The innermost open container (`true`: object), or `None` at the top level.
    fn top(&self) -> Option<bool> {
        let level = self.depth.checked_sub(1)?;
        Some(if level < 64 {
            self.low >> level & 1 == 1
        } else {
            self.high[(level - 64) / 64] >> ((level - 64) % 64) & 1 == 1
        })
    }
}

struct Scanner<'a> {
    json: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(json: &'a str) -> Self {
        Self {
            json: json.as_bytes(),
            at: 0,
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_whitespace) {
            self.at += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Result<(), Invalid> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// Only whitespace is left.
    fn end(&mut self) -> Result<(), Invalid> {
        self.skip_whitespace();
        if self.at == self.json.len() {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// `"key" :` with the whitespace around it, before an object member's value.
    fn key(&mut self) -> Result<(), Invalid> {
        self.skip_whitespace();
        self.string()?;
        self.skip_whitespace();
        self.expect(b':')
    }

    /// One value, containers included, iteratively; stops right after its last byte.
    fn value(&mut self) -> Result<(), Invalid> {
        let mut nesting = Nesting {
            depth: 0,
            low: 0,
            high: Vec::new(),
        };
        loop {
            // A value is expected here.
            self.skip_whitespace();
            match self.peek().ok_or(Invalid)? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    self.skip_whitespace();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        nesting.push(open == b'{');
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b'"' => self.string()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Invalid),
            }
            // A value just ended: close containers until one continues with `,`.
            loop {
                let Some(object) = nesting.top() else {
                    return Ok(());
                };
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    _ => return Err(Invalid),
                }
                self.at += 1;
                nesting.depth -= 1;
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.json[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// A string, from its opening quote to just after its closing one.
    fn string(&mut self) -> Result<(), Invalid> {
        self.expect(b'"')?;
        loop {
            self.skip_plain_words();
            while let Some(&b) = self.json.get(self.at) {
                if STRING_SPECIAL[usize::from(b)] {
                    break;
                }
                self.at += 1;
            }
            match self.peek().ok_or(Invalid)? {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek().ok_or(Invalid)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.json.get(self.at + 1..self.at + 5).ok_or(Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Invalid);
                            }
                            self.at += 5;
                        }
                        _ => return Err(Invalid),
                    }
                }
                _ => return Err(Invalid), // a raw control character
            }
        }
    }

    /// Skips string content eight bytes at a time while no byte of the word is special
    /// (see [`STRING_SPECIAL`]); the byte loop after it finds the exact stop.
    #[inline]
    fn skip_plain_words(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([1; 8]);
        const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
        // Nonzero iff some byte of `word` is zero (exact when none is).
        let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
        while let Some(chunk) = self.json.get(self.at..self.at + 8) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            let word = u64::from_ne_bytes(bytes);
            // A byte below 0x20, a quote, or a backslash.
            let special = (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
                | has_zero(word ^ (ONES * u64::from(b'"')))
                | has_zero(word ^ (ONES * u64::from(b'\\')));
            if special != 0 {
                return;
            }
            self.at += 8;
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), Invalid> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(json: &str) -> bool {
        validate(json).is_ok()
    }

    #[test]
    fn json_parse_grammar() {
        for good in [
            "0",
            "-0",
            "1.5e+10",
            "1E-2",
            "-12.25",
            "1e400",
            " \t\n\r[ ] ",
            "{}",
            r#"{"a":[1,{"b":null}],"c":"\u00e9\ud800\/"}"#,
            r#""é raw UTF-8 and \"quotes\"""#,
            "[true,false,null]",
            r#"{"a" : 1 , "b":2}"#,
        ] {
            assert!(ok(good), "{good:?}");
        }
        for bad in [
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "0x1",
            "NaN",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\" 1}",
            "{\"a\":}",
            "[1 2]",
            "[1}",
            "{\"a\":1]",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"\\u12\"",
            "\"open",
            "tru",
            "nul",
            "[1]]",
            "[1] x",
            "{\"a\"",
            "[",
            "'a'",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn first_element_is_the_raw_token() {
        assert_eq!(first_array_element(r#"[ "a" ,1]"#), Ok(Some(r#""a""#)));
        assert_eq!(
            first_array_element(r#"[{"x":[1]} ]"#),
            Ok(Some(r#"{"x":[1]}"#))
        );
        assert_eq!(first_array_element("[ ]"), Ok(None));
        assert_eq!(first_array_element(r#"["a",]"#), Err(Invalid));
        assert_eq!(first_array_element(r#"["a"] 1"#), Err(Invalid));
    }

    #[test]
    fn deep_nesting_uses_the_spill_stack() {
        for depth in [63, 64, 65, 128, 129, 100_000] {
            let deep = format!("{}1{}", "[{\"k\":".repeat(depth), "}]".repeat(depth));
            assert!(ok(&deep), "{depth}");
            let wrong = format!("{}1{}", "[{\"k\":".repeat(depth), "]}".repeat(depth));
            assert!(!ok(&wrong), "{depth}");
        }
    }

    /// Token soup close to JSON, so that both valid and almost-valid texts come up often.
    fn json_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let token = prop::sample::select(vec![
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            " ",
            "\n",
            "\"",
            "\"k\"",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            "\"\\x\"",
            "\"\t\"",
            "\\",
            "0",
            "-",
            "1",
            "01",
            "1.5",
            "1.",
            "e5",
            "E-2",
            "true",
            "fals",
            "null",
            "é",
            "\u{1}",
        ]);
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
    }

    /// Valid JSON (nested values, escapes, exponents, whitespace), then one byte-level edit at
    /// a random place (or none), so that near misses of every rule come up.
    fn edited_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            "[a-z\\u{e9}\\u{1F600}]{0,4}".prop_map(|s| format!("{s:?}")),
            Just(r#""\u00e9\n\/""#.to_owned()),
        ];
        let value = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(inner, 0..4).prop_map(|v| {
                    let members: Vec<String> = v
                        .iter()
                        .enumerate()
                        .map(|(i, m)| format!("\"k{i}\" : {m}"))
                        .collect();
                    format!("{{ {} }}", members.join(" ,"))
                }),
            ]
        });
        let edit = prop::sample::select(vec![
            "", "", ",", "]", "}", "\"", "\\", "-", ".", "e", " ", "0",
        ]);
        (value, any::<prop::sample::Index>(), edit, any::<bool>()).prop_map(
            |(json, at, edit, delete)| {
                let mut json = json;
                if !json.is_empty() {
                    let mut i = at.index(json.len());
                    while !json.is_char_boundary(i) {
                        i -= 1;
                    }
                    if delete && edit.is_empty() {
                        json.remove(i);
                    } else {
                        json.insert_str(i, edit);
                    }
                }
                json
            },
        )
    }

    /// A quoted run of plain characters with quotes, backslashes, escapes and control
    /// characters mixed in, long enough for the eight-byte scan to see every alignment.
    fn string_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            4 => "[a-z0-9 ]{1,9}",
            1 => "[\\x00-\\x1f\\x7f\\u{80}-\\u{10ffff}]",
            1 => Just("\"".to_owned()),
            1 => Just("\\".to_owned()),
            1 => Just("\\n".to_owned()),
            1 => Just("\\u00e9".to_owned()),
        ];
        (prop::collection::vec(piece, 0..12), "[ ,\\]]{0,3}")
            .prop_map(|(pieces, tail)| format!("\"{}\"{tail}", pieces.concat()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(20_000))]

        #[test]
        fn agrees_with_serde_json_on_strings(json in string_like()) {
            let oracle = serde_json::from_str::<serde::de::IgnoredAny>(&json).is_ok();
            proptest::prop_assert_eq!(ok(&json), oracle, "{:?}", json);
        }

        /// serde_json's `IgnoredAny` accepts the `JSON.parse` grammar too (lone surrogates and
        /// huge numbers included), so it is the oracle.
        #[test]
        fn agrees_with_serde_json(json in json_like()) {
            let oracle = serde_json::from_str::<serde::de::IgnoredAny>(&json).is_ok();
            proptest::prop_assert_eq!(ok(&json), oracle, "{:?}", json);
        }

        #[test]
        fn agrees_with_serde_json_on_edited_json(json in edited_json()) {
            let oracle = serde_json::from_str::<serde::de::IgnoredAny>(&json).is_ok();
            proptest::prop_assert_eq!(ok(&json), oracle, "{:?}", json);
        }
    }
}
