//! Just enough RESP2 for a sharded Pub/Sub subscriber: commands out, and the pushes and
//! replies of a subscribed connection in (`smessage`, `ssubscribe`, `sunsubscribe`, errors).
//! The `redis` crate has no `SSUBSCRIBE` on a standalone server's Pub/Sub connection, so
//! the sharded subscriber speaks the protocol itself.
//!
//! The reader is incremental and bounded: a value that is not complete yet is read again
//! once more bytes arrived (only its headers: a bulk string's length is checked against what
//! is buffered before it is read); a bulk string longer than the limit, a line longer than
//! 4 KiB, an array of more than [`MAX_ARRAY`] entries or nested deeper than [`MAX_DEPTH`] is
//! an error, never an allocation.

use bytes::{Bytes, BytesMut};

/// Entries of one array, at most (a Pub/Sub push has 3 or 4).
pub(crate) const MAX_ARRAY: usize = 16;

/// Arrays within arrays, at most.
pub(crate) const MAX_DEPTH: usize = 2;

/// A line (a header, a status or an error), at most.
const MAX_LINE: usize = 4096;

/// One RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// `+OK`.
    Simple(Bytes),
    /// `-ERR …`.
    Error(Bytes),
    /// `:1`.
    Integer(i64),
    /// `$5 hello` (`None`: `$-1`).
    Bulk(Option<Bytes>),
    /// `*3 …` (`None`: `*-1`).
    Array(Option<Vec<Value>>),
}

/// The stream is not RESP, or exceeds the bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed RESP: {}", self.0)
    }
}

/// A command as a RESP array of bulk strings.
pub(crate) fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Takes the next complete value off the front of `buf`; `Ok(None)` until one is complete.
/// Bulk strings are slices of the buffer, not copies.
pub(crate) fn next(buf: &mut BytesMut, max_bulk: usize) -> Result<Option<Value>, Malformed> {
    let Some(end) = measure(buf, 0, max_bulk, MAX_DEPTH)? else {
        return Ok(None);
    };
    let frame = buf.split_to(end).freeze();
    let mut at = 0;
    read(&frame, &mut at).map(Some)
}

/// The line starting at `at`, without its CRLF, and where the next one starts.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, Malformed> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(n) => Ok(Some((&rest[..n], at + n + 2))),
        None if rest.len() > MAX_LINE => Err(Malformed("line too long")),
        None => Ok(None),
    }
}

fn integer(text: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(Malformed("not an integer"))
}

/// Where the value starting at `at` ends, once it is all in `buf`.
fn measure(
    buf: &[u8],
    at: usize,
    max_bulk: usize,
    depth: usize,
) -> Result<Option<usize>, Malformed> {
    let Some((header, next)) = line(buf, at)? else {
        return Ok(None);
    };
    let (kind, text) = header.split_first().ok_or(Malformed("empty line"))?;
    match kind {
        b'+' | b'-' => Ok(Some(next)),
        b':' => integer(text).map(|_| Some(next)),
        b'$' => {
            let len = integer(text)?;
            if len < 0 {
                return Ok(Some(next));
            }
            let len = usize::try_from(len).map_err(|_| Malformed("bulk length"))?;
            if len > max_bulk {
                return Err(Malformed("bulk string too long"));
            }
            let end = next + len + 2;
            Ok((buf.len() >= end).then_some(end))
        }
        b'*' => {
            let count = integer(text)?;
            if count < 0 {
                return Ok(Some(next));
            }
            if count as u64 > MAX_ARRAY as u64 {
                return Err(Malformed("array too long"));
            }
            let depth = depth.checked_sub(1).ok_or(Malformed("nested too deep"))?;
            let mut end = next;
            for _ in 0..count {
                match measure(buf, end, max_bulk, depth)? {
                    Some(after) => end = after,
                    None => return Ok(None),
                }
            }
            Ok(Some(end))
        }
        _ => Err(Malformed("unknown type")),
    }
}

/// Reads the value at `at` of a frame [`measure`] found complete.
fn read(frame: &Bytes, at: &mut usize) -> Result<Value, Malformed> {
    let (header, next) = line(frame, *at)?.ok_or(Malformed("truncated"))?;
    let (kind, text) = header.split_first().ok_or(Malformed("empty line"))?;
    let text = frame.slice_ref(text);
    *at = next;
    Ok(match kind {
        b'+' => Value::Simple(text),
        b'-' => Value::Error(text),
        b':' => Value::Integer(integer(&text)?),
        b'$' => {
            let len = integer(&text)?;
            if len < 0 {
                return Ok(Value::Bulk(None));
            }
            let start = *at;
            *at += len as usize + 2;
            Value::Bulk(Some(frame.slice(start..start + len as usize)))
        }
        _ => {
            let count = integer(&text)?;
            if count < 0 {
                return Ok(Value::Array(None));
            }
            let mut items = Vec::with_capacity(count as usize);
            for _ in 0..count {
                items.push(read(frame, at)?);
            }
            Value::Array(Some(items))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &[u8] = b"*3\r\n$8\r\nsmessage\r\n$12\r\nsocket.io#/#\r\n$7\r\n{\"a\":1}\r\n";

    #[test]
    fn a_push_arrives_whole_whatever_the_split() {
        let expected = Value::Array(Some(vec![
            Value::Bulk(Some(Bytes::from_static(b"smessage"))),
            Value::Bulk(Some(Bytes::from_static(b"socket.io#/#"))),
            Value::Bulk(Some(Bytes::from_static(b"{\"a\":1}"))),
        ]));
        for split in 0..=PUSH.len() {
            let mut buf = BytesMut::from(&PUSH[..split]);
            let mut value = next(&mut buf, 1024).unwrap();
            if split < PUSH.len() {
                assert_eq!(value, None, "split at {split}");
                buf.extend_from_slice(&PUSH[split..]);
                value = next(&mut buf, 1024).unwrap();
            }
            assert_eq!(value.as_ref(), Some(&expected), "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn replies_and_bounds() {
        let mut buf = BytesMut::from(&b"+OK\r\n-ERR no\r\n:3\r\n$-1\r\n*-1\r\n"[..]);
        assert_eq!(next(&mut buf, 8).unwrap(), Some(Value::Simple("OK".into())));
        assert_eq!(
            next(&mut buf, 8).unwrap(),
            Some(Value::Error("ERR no".into()))
        );
        assert_eq!(next(&mut buf, 8).unwrap(), Some(Value::Integer(3)));
        assert_eq!(next(&mut buf, 8).unwrap(), Some(Value::Bulk(None)));
        assert_eq!(next(&mut buf, 8).unwrap(), Some(Value::Array(None)));
        assert_eq!(next(&mut buf, 8).unwrap(), None);
        for bad in [
            &b"$9\r\n"[..],
            b"*17\r\n",
            b"*1\r\n*1\r\n*1\r\n:1\r\n",
            b"?\r\n",
            b":x\r\n",
            &[b'+'; 5000],
        ] {
            let mut buf = BytesMut::from(bad);
            assert!(next(&mut buf, 8).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commands_as_bulk_arrays() {
        assert_eq!(
            command(&[b"SSUBSCRIBE", b"socket.io#/#"]),
            b"*2\r\n$10\r\nSSUBSCRIBE\r\n$12\r\nsocket.io#/#\r\n"
        );
    }
}
