//! Reading msgpack exactly as `notepack.io` 2.2 reads it: one token at a time, from a cursor
//! that may run past the end of the input the way the JavaScript decoder's offset does.
//!
//! notepack reads fixed-width fields through `Buffer.readUInt*`, which throw a `RangeError`
//! past the end ([`MsgpackError::OutOfBounds`]); it reads a value's first byte as
//! `buffer[offset++]`, which is `undefined` past the end and fails as `Could not parse`
//! ([`MsgpackError::CouldNotParse`]); and it slices strings and binaries without a check, so
//! a length that runs past the end moves the offset there and the decoder later fails as
//! `-N trailing bytes`. The cursor here does the same, so every input fails with the
//! reference's message. Nothing is allocated or reserved from an announced length: a count
//! of entries is walked one entry at a time, and every entry consumes at least one byte.
//!
//! Map keys go through `String(key)` in JavaScript ([`Reader::key`]): an array, map,
//! binary or extension becomes a property name (`1,2`, `[object Object]`), which may be one
//! the packet reads, and a map with its own `toString` throws. V8 converts a key after it
//! has read the value, so [`Reader::key`] reads the key and returns what its conversion
//! will do ([`Conversion`]) for the caller to raise after the value.

use super::error::MsgpackError;
use super::key::{Name, ShortName};

/// What converting a map key to a property name does once its value is read: nothing, or
/// the error JavaScript throws ([`MsgpackError::UnconvertibleKey`]) or that this crate
/// raises where the name is not decided by the message ([`MsgpackError::UnsupportedKey`]).
pub(crate) type Conversion = Result<(), MsgpackError>;

/// One msgpack token, as the JavaScript decoder sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    /// `c0`.
    Nil,
    /// `d4 00 xx`: notepack's `undefined`.
    Undefined,
    /// `c2`, `c3`.
    Bool(bool),
    /// Every integer and float form but the 64-bit integers, as the JavaScript `Number` the
    /// reference makes of it (exact).
    Number(f64),
    /// `uint 64`, exact (JavaScript rounds it: [`Token::number`]).
    U64(u64),
    /// `int 64`, exact (JavaScript rounds it: [`Token::number`]).
    I64(i64),
    /// A string's bytes (UTF-8 unless the peer lies; read lossily, as `Buffer.toString`).
    Str(&'a [u8]),
    /// `bin 8/16/32`: a Node.js `Buffer`.
    Bin(&'a [u8]),
    /// `ext 8/16/32` of type 0: an `ArrayBuffer`, binary too.
    ArrayBuffer(&'a [u8]),
    /// Any other extension: the array `[type, Buffer]` in JavaScript.
    Ext(i8, &'a [u8]),
    /// `fixext 8` of type 0: a `Date`, milliseconds since the epoch.
    Date(f64),
    /// An array of this many values.
    Array(u32),
    /// A map of this many key/value pairs.
    Map(u32),
}

impl Token<'_> {
    /// The JavaScript `Number` of a numeric token: 64-bit integers rounded to a double, as
    /// `hi * 2^32 + lo` rounds the exact value once.
    pub fn number(&self) -> Option<f64> {
        match *self {
            Token::Number(n) => Some(n),
            Token::U64(n) => Some(n as f64),
            Token::I64(n) => Some(n as f64),
            _ => None,
        }
    }
}

/// A cursor over one msgpack buffer that moves as notepack's decoder does: it never panics,
/// never allocates, and reads a length past the end as the reference's truncation errors.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    /// The JavaScript decoder's offset: may lie past the end.
    at: usize,
    /// How many binary values (bin, ext) were read, and their bytes: what the JSON form of
    /// the payload will not hold.
    pub(crate) binaries: usize,
    pub(crate) binary_bytes: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            at: 0,
            binaries: 0,
            binary_bytes: 0,
        }
    }

    /// The offset of the next token (possibly past the end).
    pub fn offset(&self) -> usize {
        self.at
    }

    /// The bytes between `start` and the current offset, clamped to the input.
    pub fn since(&self, start: usize) -> &'a [u8] {
        let end = self.at.min(self.buf.len());
        self.buf.get(start.min(end)..end).unwrap_or_default()
    }

    /// Fails as the reference does when the offset is not exactly at the end.
    pub fn finish(&self) -> Result<(), MsgpackError> {
        if self.at == self.buf.len() {
            Ok(())
        } else {
            // Both are at most the input length plus 2^32 + 8, far from overflowing an i64.
            let trailing = self.buf.len() as i64 - self.at as i64;
            Err(MsgpackError::TrailingBytes(trailing))
        }
    }

    #[inline]
    fn prefix(&mut self) -> Result<u8, MsgpackError> {
        let byte = self.buf.get(self.at).copied();
        self.at = self.at.saturating_add(1);
        byte.ok_or(MsgpackError::CouldNotParse)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let bytes = self
            .at
            .checked_add(N)
            .and_then(|end| self.buf.get(self.at..end))
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or(MsgpackError::OutOfBounds {
                offset: self.at as u64,
                max: self.buf.len() as i64 - N as i64,
            })?;
        self.at += N;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, MsgpackError> {
        self.fixed::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, MsgpackError> {
        self.fixed().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MsgpackError> {
        self.fixed().map(u32::from_be_bytes)
    }

    /// [`take`](Self::take) for a binary value, counted.
    fn binary(&mut self, length: usize) -> &'a [u8] {
        let data = self.take(length);
        self.binaries += 1;
        self.binary_bytes += data.len();
        data
    }

    /// Two big-endian 32-bit words, read one after the other.
    fn words(&mut self) -> Result<u64, MsgpackError> {
        let hi = self.u32()?;
        let lo = self.u32()?;
        Ok(u64::from(hi) << 32 | u64::from(lo))
    }

    /// `length` bytes from the offset, clamped to the input; the offset moves by `length`
    /// whatever remains, as a JavaScript `slice` and `offset += length` do.
    #[inline]
    fn take(&mut self, length: usize) -> &'a [u8] {
        let end = self.at.saturating_add(length);
        let slice = self
            .buf
            .get(self.at.min(self.buf.len())..end.min(self.buf.len()))
            .unwrap_or_default();
        self.at = end;
        slice
    }

    /// An `ext` body: its type byte and data.
    fn ext(&mut self, length: usize) -> Result<Token<'a>, MsgpackError> {
        let kind = self.u8()? as i8;
        let data = self.binary(length);
        Ok(if kind == 0 {
            Token::ArrayBuffer(data)
        } else {
            Token::Ext(kind, data)
        })
    }

    /// The next token.
    #[inline]
    #[allow(clippy::should_implement_trait)] // A `Result` per token, not an `Option`.
    pub fn next(&mut self) -> Result<Token<'a>, MsgpackError> {
        let prefix = self.prefix()?;
        Ok(match prefix {
            0x00..=0x7f => Token::Number(f64::from(prefix)),
            0x80..=0x8f => Token::Map(u32::from(prefix & 0x0f)),
            0x90..=0x9f => Token::Array(u32::from(prefix & 0x0f)),
            0xa0..=0xbf => Token::Str(self.take(usize::from(prefix & 0x1f))),
            0xe0..=0xff => Token::Number(f64::from(prefix as i8)),
            0xc0 => Token::Nil,
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => {
                let length = self.u8()?;
                Token::Bin(self.binary(usize::from(length)))
            }
            0xc5 => {
                let length = self.u16()?;
                Token::Bin(self.binary(usize::from(length)))
            }
            0xc6 => {
                let length = self.u32()?;
                Token::Bin(self.binary(length as usize))
            }
            0xc7 => {
                let length = self.u8()?;
                self.ext(usize::from(length))?
            }
            0xc8 => {
                let length = self.u16()?;
                self.ext(usize::from(length))?
            }
            0xc9 => {
                let length = self.u32()?;
                self.ext(length as usize)?
            }
            0xca => Token::Number(f64::from(f32::from_be_bytes(self.fixed()?))),
            0xcb => Token::Number(f64::from_be_bytes(self.fixed()?)),
            0xcc => Token::Number(f64::from(self.u8()?)),
            0xcd => Token::Number(f64::from(self.u16()?)),
            0xce => Token::Number(f64::from(self.u32()?)),
            // The reference reads the two words separately (which decides its error message).
            0xcf => Token::U64(self.words()?),
            0xd0 => Token::Number(f64::from(self.u8()? as i8)),
            0xd1 => Token::Number(f64::from(i16::from_be_bytes(self.fixed()?))),
            0xd2 => Token::Number(f64::from(i32::from_be_bytes(self.fixed()?))),
            0xd3 => Token::I64(self.words()? as i64),
            0xd4 => {
                let kind = self.u8()? as i8;
                if kind == 0 {
                    // The reference skips the data byte without reading it.
                    self.at = self.at.saturating_add(1);
                    Token::Undefined
                } else {
                    Token::Ext(kind, self.binary(1))
                }
            }
            0xd5 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(2))
            }
            0xd6 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(4))
            }
            0xd7 => {
                let kind = self.u8()? as i8;
                if kind == 0 {
                    Token::Date(self.words()? as i64 as f64)
                } else {
                    Token::Ext(kind, self.binary(8))
                }
            }
            0xd8 => {
                let kind = self.u8()? as i8;
                Token::Ext(kind, self.binary(16))
            }
            0xd9 => {
                let length = self.u8()?;
                Token::Str(self.take(usize::from(length)))
            }
            0xda => {
                let length = self.u16()?;
                Token::Str(self.take(usize::from(length)))
            }
            0xdb => {
                let length = self.u32()?;
                Token::Str(self.take(length as usize))
            }
            0xdc => Token::Array(u32::from(self.u16()?)),
            0xdd => Token::Array(self.u32()?),
            0xde => Token::Map(u32::from(self.u16()?)),
            0xdf => Token::Map(self.u32()?),
            // 0xc1 is never used.
            _ => return Err(MsgpackError::CouldNotParse),
        })
    }

    /// [`skip`](Self::skip) with the packet map's usual keys and values (positive fixint,
    /// fixstr) read in place.
    #[inline]
    pub(crate) fn skip_small(&mut self, depth: usize) -> Result<Token<'a>, MsgpackError> {
        match self.buf.get(self.at) {
            Some(&prefix @ 0x00..=0x7f) => {
                self.at += 1;
                Ok(Token::Number(f64::from(prefix)))
            }
            Some(&prefix @ 0xa0..=0xbf) => {
                self.at += 1;
                Ok(Token::Str(self.take(usize::from(prefix & 0x1f))))
            }
            _ => self.skip(depth),
        }
    }

    /// Skips one whole value and returns its first token. `depth` is how many levels of the
    /// packet's JSON view the value may still open: each array and map takes one, and so does
    /// the placeholder object of a binary; an extension takes two (`[type, placeholder]`).
    /// Map keys are converted as JavaScript converts them.
    pub fn skip(&mut self, depth: usize) -> Result<Token<'a>, MsgpackError> {
        let token = self.next()?;
        self.skip_rest(token, depth)?;
        Ok(token)
    }

    /// [`skip`](Self::skip) for a value whose first token is already read.
    pub(crate) fn skip_rest(&mut self, token: Token<'a>, depth: usize) -> Result<(), MsgpackError> {
        match token {
            Token::Array(n) => self.skip_array(n, depth),
            Token::Map(n) => self.skip_map(n, depth),
            Token::Bin(_) | Token::ArrayBuffer(_) => levels(depth, 1),
            Token::Ext(..) => levels(depth, 2),
            _ => Ok(()),
        }
    }

    /// The width of the length field of bin 8/16 and str 8/16.
    fn width(prefix: u8) -> usize {
        if matches!(prefix, 0xc4 | 0xd9) { 1 } else { 2 }
    }

    /// Skips an array's elements. Every element consumes at least one byte or fails, so this
    /// is bounded by the input length, whatever count was announced.
    fn skip_array(&mut self, elements: u32, depth: usize) -> Result<(), MsgpackError> {
        let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
        for _ in 0..elements {
            self.skip_element(depth)?;
        }
        Ok(())
    }

    /// Skips a map's entries, converting each key after its value as V8 does.
    fn skip_map(&mut self, entries: u32, depth: usize) -> Result<(), MsgpackError> {
        let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
        for _ in 0..entries {
            let conversion = match self.buf.get(self.at) {
                // Only an array or a map can fail to convert, or need the name's pieces.
                Some(0x80..=0x9f | 0xdc..=0xdf) => {
                    let token = self.next()?;
                    self.key(token, depth, &mut ())?
                }
                Some(0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3) => {
                    self.at += 1;
                    Ok(())
                }
                Some(&prefix @ 0xa0..=0xbf) => {
                    self.at += 1;
                    self.take(usize::from(prefix & 0x1f));
                    Ok(())
                }
                // A key is a name, not a JSON value: a binary key opens no level.
                _ => {
                    self.next()?;
                    Ok(())
                }
            };
            self.skip_element(depth)?;
            conversion?;
        }
        Ok(())
    }

    /// Skips an array element or a map value, with the common one-byte headers and the
    /// short strings and binaries read in place, without building a token.
    #[inline]
    fn skip_element(&mut self, depth: usize) -> Result<(), MsgpackError> {
        match self.buf.get(self.at) {
            Some(0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3) => self.at += 1,
            Some(&prefix @ 0xa0..=0xbf) => {
                self.at += 1;
                self.take(usize::from(prefix & 0x1f));
            }
            Some(&prefix @ 0x80..=0x8f) => {
                self.at += 1;
                self.skip_map(u32::from(prefix & 0x0f), depth)?;
            }
            Some(&prefix @ 0x90..=0x9f) => {
                self.at += 1;
                self.skip_array(u32::from(prefix & 0x0f), depth)?;
            }
            // bin 8/16 and str 8/16 whose length field is there.
            Some(&prefix @ (0xc4 | 0xc5 | 0xd9 | 0xda))
                if self.at + 1 + Self::width(prefix) <= self.buf.len() =>
            {
                let field = &self.buf[self.at + 1..self.at + 1 + Self::width(prefix)];
                let length = field.iter().fold(0, |n, &b| n << 8 | usize::from(b));
                self.at += 1 + field.len();
                if prefix < 0xd0 {
                    self.binary(length);
                    levels(depth, 1)?;
                } else {
                    self.take(length);
                }
            }
            _ => {
                self.skip(depth)?;
            }
        }
        Ok(())
    }

    /// Reads the rest of a map key that starts with `token` (an array's elements, a map's
    /// entries, each read and checked as the reference reads it) and sends the pieces of
    /// `String(key)` to `name`. An error in the key's bytes comes back at once; what the
    /// conversion itself does comes back inside, for the caller to raise after the value.
    /// Arrays and maps in the key count against `depth` as values do.
    pub(crate) fn key(
        &mut self,
        token: Token<'a>,
        depth: usize,
        name: &mut impl Name,
    ) -> Result<Conversion, MsgpackError> {
        self.convert(token, depth, false, name)
    }

    /// `String(value)`; `element` for an array's element, which `join` writes as the empty
    /// string when it is `null` or `undefined`.
    fn convert(
        &mut self,
        token: Token<'a>,
        depth: usize,
        element: bool,
        name: &mut impl Name,
    ) -> Result<Conversion, MsgpackError> {
        match token {
            Token::Str(bytes) | Token::Bin(bytes) => name.text(bytes),
            Token::Number(_) | Token::U64(_) | Token::I64(_) => {
                name.number(token.number().unwrap_or(f64::NAN));
            }
            Token::Nil if !element => name.ascii("null"),
            Token::Undefined if !element => name.ascii("undefined"),
            Token::Nil | Token::Undefined => {}
            Token::Bool(b) => name.ascii(if b { "true" } else { "false" }),
            Token::ArrayBuffer(_) => name.ascii("[object ArrayBuffer]"),
            // JavaScript: the array `[type, Buffer]`.
            Token::Ext(kind, bytes) => {
                name.number(f64::from(kind));
                name.ascii(",");
                name.text(bytes);
            }
            Token::Date(_) => name.date(),
            Token::Array(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                // `join` converts the elements once the array is read: the first failure wins.
                let mut conversion = Ok(());
                for i in 0..n {
                    if i > 0 {
                        name.ascii(",");
                    }
                    let element = self.next()?;
                    let converted = self.convert(element, depth, true, name)?;
                    conversion = conversion.and(converted);
                }
                return Ok(conversion);
            }
            Token::Map(n) => {
                let depth = depth.checked_sub(1).ok_or(MsgpackError::TooDeep)?;
                let conversion = self.object(n, depth)?;
                if conversion.is_ok() {
                    name.ascii("[object Object]");
                }
                return Ok(conversion);
            }
        }
        Ok(Ok(()))
    }

    /// Reads the entries of a map that is (part of) a key and says what `String()` of the
    /// object does: `[object Object]` from `Object.prototype.toString`, unless the map has its
    /// own `toString` (never callable: msgpack holds no functions) or a `null` prototype,
    /// where JavaScript finds no callable `toString` or `valueOf` and throws; any other
    /// prototype is refused ([`MsgpackError::UnsupportedKey`]).
    fn object(&mut self, entries: u32, depth: usize) -> Result<Conversion, MsgpackError> {
        #[derive(PartialEq)]
        enum Prototype {
            Object,
            Null,
            Other,
        }
        let (mut prototype, mut own_to_string) = (Prototype::Object, false);
        for _ in 0..entries {
            let token = self.next()?;
            let mut key = ShortName::new();
            let conversion = self.convert(token, depth, false, &mut key)?;
            let value = self.next()?;
            self.skip_rest(value, depth)?;
            conversion?;
            if key.is(b"__proto__") {
                // The `__proto__` setter takes an object or `null` and ignores the rest; once
                // the prototype is `null` there is no setter left and the key is an own
                // property, which changes nothing here.
                match value {
                    Token::Nil if prototype == Prototype::Object => prototype = Prototype::Null,
                    Token::Map(_)
                    | Token::Array(_)
                    | Token::Bin(_)
                    | Token::ArrayBuffer(_)
                    | Token::Ext(..)
                    | Token::Date(_)
                        if prototype == Prototype::Object =>
                    {
                        prototype = Prototype::Other;
                    }
                    _ => {}
                }
            } else if key.is(b"toString") {
                own_to_string = true;
            }
        }
        Ok(match prototype {
            Prototype::Other => Err(MsgpackError::UnsupportedKey),
            Prototype::Null => Err(MsgpackError::UnconvertibleKey),
            Prototype::Object if own_to_string => Err(MsgpackError::UnconvertibleKey),
            Prototype::Object => Ok(()),
        })
    }
}

/// Fails unless `depth` leaves room for `needed` more levels of the JSON view.
pub(crate) fn levels(depth: usize, needed: usize) -> Result<(), MsgpackError> {
    if depth >= needed {
        Ok(())
    } else {
        Err(MsgpackError::TooDeep)
    }
}
