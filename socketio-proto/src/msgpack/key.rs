//! Property names: the string JavaScript makes of a map key in notepack's
//! `object[key] = value`, written piece by piece to a [`Name`].
//!
//! The reader ([`Reader::key`](super::read::Reader::key)) walks a key and sends the pieces of
//! `String(key)` here: a string or binary as its bytes read as UTF-8, a number as
//! `Number.prototype.toString` writes it, `null`, `undefined`, `true`, `false`, the commas an
//! array's `join` puts between its elements, `[object Object]` and `[object ArrayBuffer]`.
//! What receives them decides what is kept: the JSON of a payload key, or a few bytes to
//! tell the handful of names the decoder looks for.

/// Receives the pieces of a property name, in order.
pub(crate) trait Name {
    /// The bytes of a string or binary, read as `Buffer.toString('utf8')` reads them
    /// (invalid sequences become U+FFFD).
    fn text(&mut self, bytes: &[u8]);
    /// Fixed ASCII text without quotes, backslashes or control characters.
    fn ascii(&mut self, text: &str);
    /// A JavaScript number, as `String(n)` writes it (`NaN`, `-Infinity`, `1e+21`).
    fn number(&mut self, n: f64);
    /// A `Date`, whose text depends on the time zone of the process that converts it.
    fn date(&mut self);
}

/// A name nobody reads: the walk still checks the key's bytes and what its conversion does.
impl Name for () {
    fn text(&mut self, _: &[u8]) {}
    fn ascii(&mut self, _: &str) {}
    fn number(&mut self, _: f64) {}
    fn date(&mut self) {}
}

/// The names [`ShortName`] can hold: longer than any name the decoder looks for
/// (`_placeholder` is the longest) means "some other name".
const SHORT: usize = 16;

/// A name kept only while it is short and known exactly: enough to tell `type`, `nsp`,
/// `data`, `id`, `__proto__`, `toString` and `_placeholder` from every other name, with no
/// allocation whatever the key's size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortName {
    bytes: [u8; SHORT],
    len: usize,
    /// False once the name is longer than [`SHORT`], holds U+FFFD, a number or a date: none
    /// of the names looked for has any of these.
    known: bool,
}

impl ShortName {
    pub(crate) fn new() -> Self {
        Self {
            bytes: [0; SHORT],
            len: 0,
            known: true,
        }
    }

    /// The whole name, when it is short and known exactly.
    pub(crate) fn get(&self) -> Option<&[u8]> {
        self.bytes.get(..self.len).filter(|_| self.known)
    }

    /// Whether the whole name is `name`.
    pub(crate) fn is(&self, name: &[u8]) -> bool {
        self.get() == Some(name)
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.bytes.get_mut(self.len..end) {
            Some(slot) if self.known => {
                slot.copy_from_slice(bytes);
                self.len = end;
            }
            _ => self.known = false,
        }
    }
}

impl Name for ShortName {
    fn text(&mut self, bytes: &[u8]) {
        // Invalid UTF-8 reads as U+FFFD, which no name looked for holds.
        if bytes.len() <= SHORT && std::str::from_utf8(bytes).is_ok() {
            self.push(bytes);
        } else {
            self.known = false;
        }
    }

    fn ascii(&mut self, text: &str) {
        self.push(text.as_bytes());
    }

    fn number(&mut self, _: f64) {
        self.known = false;
    }

    fn date(&mut self) {
        self.known = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_name_tells_exact_names_only() {
        let mut name = ShortName::new();
        name.text(b"ty");
        name.ascii("pe");
        assert!(name.is(b"type"));
        assert!(!name.is(b"typ"));
        let mut long = ShortName::new();
        long.text(b"_placeholder");
        assert!(long.is(b"_placeholder"));
        long.text(b"_placeholder");
        assert!(!long.is(b"_placeholder_placeholder"));
        let mut lossy = ShortName::new();
        lossy.text(b"typ\xff");
        assert!(!lossy.is(b"typ\xef\xbf\xbd"));
        let mut numeric = ShortName::new();
        numeric.number(1.0);
        assert!(!numeric.is(b"1"));
    }
}
