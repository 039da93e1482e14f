//! The Engine.IO vectors of PROTOCOL.md D.1–D.5, one named test each. Every expected output
//! was produced by the reference packages (engine.io-parser 5.2.3 for v4, 2.2.1 for v3).
#![allow(clippy::unwrap_used)] // tests state their expectations with unwrap

use bytes::Bytes;
use engineio_proto::webtransport::{self, Deframer};
use engineio_proto::{
    Data, DecodeError, EncodeError, Frame, Limits, OpenPacket, Packet, PacketRef, PacketType,
    PayloadFormat, ProtocolVersion, Transport, decode_payload, encode_payload,
};
use std::time::Duration;

use PacketType::*;
use ProtocolVersion::{V3, V4};

fn text(t: PacketType, s: &'static str) -> Packet {
    Packet {
        packet_type: t,
        data: Data::Text(s.into()),
    }
}
fn msg(s: &'static str) -> Packet {
    Packet::message(s)
}
fn bin(b: &[u8]) -> Packet {
    Packet::binary(b.to_vec())
}
fn bare(t: PacketType) -> Packet {
    Packet::new(t)
}

/// Text form of one packet.
macro_rules! encode_text {
    ($($name:ident: $v:expr, $packet:expr => $wire:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut out = Vec::new();
            $packet.as_packet_ref().encode_text($v, &mut out).unwrap();
            assert_eq!(out, $wire.as_bytes());
        }
    )*};
}

/// WebSocket frame of one packet (binary data allowed).
macro_rules! encode_frame {
    ($($name:ident: $v:expr, $packet:expr => $frame:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!($packet.to_frame($v, false).unwrap(), $frame);
        }
    )*};
}

/// Polling body of several packets.
macro_rules! encode_body {
    ($($name:ident: $format:expr, [$($packet:expr),*] => $wire:expr;)*) => {$(
        #[test]
        fn $name() {
            let packets: Vec<Packet> = vec![$($packet),*];
            let mut out = Vec::new();
            let n = encode_payload($format, packets.iter().map(Packet::as_packet_ref), usize::MAX, &mut out).unwrap();
            assert_eq!(n, packets.len());
            assert_eq!(out, &$wire[..]);
        }
    )*};
}

/// Decoding of one text packet or frame: `Ok(packet)` or `Err(error)`.
macro_rules! decode_text {
    ($($name:ident: $v:expr, $wire:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            let got = PacketRef::decode_text($v, $wire).map(|p| p.to_owned_packet());
            assert_eq!(got, $expected);
        }
    )*};
}

/// Decoding of a polling body: the packets, then at most one error.
macro_rules! decode_body {
    ($($name:ident: $format:expr, $wire:expr => [$($item:expr),*];)*) => {$(
        #[test]
        fn $name() {
            let got: Vec<Result<Packet, DecodeError>> = decode_payload($format, &$wire[..], &Limits::default())
                .map(|r| r.map(|p| p.to_owned_packet()))
                .collect();
            let expected: Vec<Result<Packet, DecodeError>> = vec![$($item),*];
            assert_eq!(got, expected);
        }
    )*};
}

// D.1 Engine.IO v4 packet encoding.
encode_text! {
    v4_01_open_no_data: V4, bare(Open) => "0";
    v4_02_close: V4, bare(Close) => "1";
    v4_03_ping: V4, bare(Ping) => "2";
    v4_04_ping_probe: V4, text(Ping, "probe") => "2probe";
    v4_05_pong_probe: V4, text(Pong, "probe") => "3probe";
    v4_06_message_test: V4, msg("test") => "4test";
    v4_07_message_empty: V4, msg("") => "4";
    v4_07_message_no_data: V4, bare(Message) => "4";
    v4_08_upgrade: V4, bare(Upgrade) => "5";
    v4_08_noop: V4, bare(Noop) => "6";
    v4_09_message_euro: V4, msg("1€") => "41€";
    v4_10_message_astral: V4, msg("😀") => "4😀";
    v4_12_binary_on_polling: V4, bin(&[1, 2, 3, 4]) => "bAQIDBA==";
    v4_13_empty_binary_on_polling: V4, bin(&[]) => "b";
}

encode_frame! {
    v4_11_binary_frame: V4, bin(&[1, 2, 3, 4]) => Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]));
    v4_11_text_frame: V4, msg("test") => Frame::Text("4test".into());
    v3_03_binary_frame_has_type_byte: V3, bin(&[1, 2, 3, 4]) => Frame::Binary(Bytes::from_static(&[4, 1, 2, 3, 4]));
}

#[test]
fn v4_12_binary_frame_with_b64_flag_is_base64_text() {
    assert_eq!(
        bin(&[1, 2, 3, 4]).to_frame(V4, true).unwrap(),
        Frame::Text("bAQIDBA==".into())
    );
}

#[test]
fn v4_14_a_view_encodes_only_its_range() {
    let buffer = Bytes::from_static(&[1, 2, 3, 4]);
    let view = Packet::binary(buffer.slice(1..3));
    assert_eq!(
        view.to_frame(V4, false).unwrap(),
        Frame::Binary(Bytes::from_static(&[2, 3]))
    );
}

#[test]
fn v4_binary_ping_cannot_be_encoded() {
    let ping = Packet {
        packet_type: Ping,
        data: Data::Binary(Bytes::from_static(&[1])),
    };
    assert_eq!(
        ping.as_packet_ref().encode_text(V4, &mut Vec::new()),
        Err(EncodeError::BinaryNotMessage)
    );
    assert_eq!(ping.to_frame(V4, false), Err(EncodeError::BinaryNotMessage));
}

// D.2 Engine.IO v4 polling payloads.
encode_body! {
    v4_20_every_type: PayloadFormat::V4,
        [bare(Open), bare(Close), text(Ping, "probe"), text(Pong, "probe"), msg("test")]
        => b"0\x1e1\x1e2probe\x1e3probe\x1e4test";
    v4_21_text_and_binary: PayloadFormat::V4, [msg("test"), bin(&[1, 2, 3, 4])] => b"4test\x1ebAQIDBA==";
    v4_22_hello_and_binary: PayloadFormat::V4, [msg("hello"), bin(&[1, 2, 3, 4])] => b"4hello\x1ebAQIDBA==";
    v4_23_three_messages: PayloadFormat::V4, [msg("test1"), msg("test2"), msg("test3")] => b"4test1\x1e4test2\x1e4test3";
    v4_24_empty_list: PayloadFormat::V4, [] => b"";
    v4_26_socketio_connect_and_event: PayloadFormat::V4,
        [msg("0{\"sid\":\"x\"}"), msg("2[\"hey\",\"Jude\"]")] => b"40{\"sid\":\"x\"}\x1e42[\"hey\",\"Jude\"]";
}

/// V4-25: the reference writes `4a\x1eb`, which its own decoder reads as two packets.
/// We refuse to write what cannot be read back.
#[test]
fn v4_25_record_separator_in_text_is_refused() {
    let mut out = b"kept".to_vec();
    let r = encode_payload(
        PayloadFormat::V4,
        [msg("a\u{1e}b").as_packet_ref()],
        usize::MAX,
        &mut out,
    );
    assert_eq!(r, Err(EncodeError::RecordSeparatorInText));
    assert_eq!(out, b"kept");
}

// PROTOCOL.md says [message "a", error]; engine.io-parser 5.2.3 actually returns
// [message "a", message <>]: the stray `b` is an empty base64 message (as in V4-43).
decode_body! {
    v4_25_record_separator_in_text_splits_on_decode: PayloadFormat::V4, b"4a\x1eb" => [Ok(msg("a")), Ok(bin(&[]))];
    v4_25_record_separator_then_text: PayloadFormat::V4, b"4a\x1ec" => [Ok(msg("a")), Err(DecodeError::UnknownPacketType)];
}

// D.3 Engine.IO v4 decoding.
decode_text! {
    v4_40_message_no_data: V4, "4" => Ok(bare(Message));
    v4_41_message_hello: V4, "4hello" => Ok(msg("hello"));
    v4_42_base64: V4, "bAQIDBA==" => Ok(bin(&[1, 2, 3, 4]));
    v4_42_base64_unpadded: V4, "bAQIDBA" => Ok(bin(&[1, 2, 3, 4]));
    v4_43_empty_base64: V4, "b" => Ok(bin(&[]));
    v4_44_open_with_data: V4, "0{\"sid\":\"x\"}" => Ok(text(Open, "{\"sid\":\"x\"}"));
    v4_45_noop: V4, "6" => Ok(bare(Noop));
    v4_e1_empty: V4, "" => Err(DecodeError::EmptyPacket);
    v4_e2_letter: V4, "a123" => Err(DecodeError::UnknownPacketType);
    v4_e3_type_7: V4, "7" => Err(DecodeError::UnknownPacketType);
    v4_e3_type_9: V4, "9" => Err(DecodeError::UnknownPacketType);
    v4_e3_negative: V4, "-1" => Err(DecodeError::UnknownPacketType);
    v4_e3_leading_space: V4, " 4" => Err(DecodeError::UnknownPacketType);
    v4_bad_base64: V4, "b!!!" => Err(DecodeError::InvalidBase64);
    v4_b4_is_base64_not_v3_type: V4, "b4OHi" => Ok(bin(&[0xe0, 0xe1, 0xe2]));
    v4_multibyte_first_char: V4, "éabcd" => Err(DecodeError::UnknownPacketType);
}

decode_body! {
    v4_46_two_messages: PayloadFormat::V4, b"4a\x1e4b" => [Ok(msg("a")), Ok(msg("b"))];
    v4_47_ping_pong: PayloadFormat::V4, b"2\x1e3" => [Ok(bare(Ping)), Ok(bare(Pong))];
    v4_48_text_and_binary: PayloadFormat::V4, b"4hello\x1ebAQIDBA==" => [Ok(msg("hello")), Ok(bin(&[1, 2, 3, 4]))];
    v4_e4_empty_body: PayloadFormat::V4, b"" => [Err(DecodeError::EmptyPacket)];
    v4_e5_brace: PayloadFormat::V4, b"{" => [Err(DecodeError::UnknownPacketType)];
    v4_e5_braces: PayloadFormat::V4, b"{}" => [Err(DecodeError::UnknownPacketType)];
    v4_e5_array: PayloadFormat::V4, b"[\"a123\", \"a456\"]" => [Err(DecodeError::UnknownPacketType)];
    v4_e6_double_separator: PayloadFormat::V4, b"4a\x1e\x1e4b" => [Ok(msg("a")), Err(DecodeError::EmptyPacket)];
    v4_e7_trailing_separator: PayloadFormat::V4, b"4a\x1e" => [Ok(msg("a")), Err(DecodeError::EmptyPacket)];
    v4_e8_bad_middle: PayloadFormat::V4, b"4a\x1ex\x1e4b" => [Ok(msg("a")), Err(DecodeError::UnknownPacketType)];
    v4_invalid_utf8_body: PayloadFormat::V4, b"4\xff" => [Err(DecodeError::InvalidUtf8)];
}

#[test]
fn v4_octet_stream_post_is_refused() {
    assert_eq!(
        PayloadFormat::for_request(V4, Some("application/octet-stream")),
        Err(DecodeError::BinaryPayloadNotSupported)
    );
    assert_eq!(
        PayloadFormat::for_request(V3, Some("application/octet-stream")),
        Ok(PayloadFormat::V3Binary)
    );
    assert_eq!(
        PayloadFormat::for_request(V3, Some("text/plain;charset=UTF-8")),
        Ok(PayloadFormat::V3Text)
    );
}

// D.4 WebTransport framing.
fn wt(packet: Packet) -> Vec<u8> {
    let mut out = Vec::new();
    webtransport::encode_packet(&packet.as_packet_ref(), &mut out).unwrap();
    out
}

fn wt_header(kind: engineio_proto::FrameKind, len: usize) -> Vec<u8> {
    webtransport::FrameHeader::new(kind, len)
        .unwrap()
        .as_bytes()
        .to_vec()
}

macro_rules! wt_encode {
    ($($name:ident: $packet:expr => $wire:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(wt($packet), $wire.to_vec());
        }
    )*};
}

wt_encode! {
    wt_01_open: bare(Open) => b"\x01\x30";
    wt_02_ping: bare(Ping) => b"\x01\x32";
    wt_03_pong_probe: text(Pong, "probe") => b"\x06\x33probe";
    wt_04_upgrade: bare(Upgrade) => b"\x01\x35";
    wt_05_text_euro: msg("1€") => b"\x05\x34\x31\xe2\x82\xac";
    wt_06_binary: bin(&[1, 2, 3]) => b"\x83\x01\x02\x03";
    wt_07_uint16_view: bin(&[1, 0, 2, 0, 1, 1]) => b"\x86\x01\x00\x02\x00\x01\x01";
    wt_15_upgrade_request: text(Open, "{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\"}") => b"\x1f0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\"}";
}

#[test]
fn wt_08_to_14_header_sizes() {
    use engineio_proto::FrameKind::{Binary, Text};
    assert_eq!(wt_header(Binary, 125), [0xfd]);
    assert_eq!(wt_header(Binary, 126), [0xfe, 0x00, 0x7e]);
    assert_eq!(wt_header(Text, 126), [0x7e, 0x00, 0x7e]);
    assert_eq!(wt_header(Binary, 12345), [0xfe, 0x30, 0x39]);
    assert_eq!(wt_header(Binary, 65535), [0xfe, 0xff, 0xff]);
    assert_eq!(wt_header(Binary, 65536), [0xff, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(
        wt_header(Binary, 1_000_000),
        [0xff, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]
    );
    assert_eq!(
        wt_header(Binary, 123_456_789),
        [0xff, 0, 0, 0, 0, 0x07, 0x5b, 0xcd, 0x15]
    );
    let long_text = wt(msg(Box::leak("x".repeat(125).into_boxed_str())));
    assert_eq!(&long_text[..4], [0x7e, 0x00, 0x7e, b'4']);
}

#[test]
fn wt_16_server_handshake() {
    let open = OpenPacket {
        sid: "A".repeat(20),
        upgrades: vec![],
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(20_000),
        max_payload: Some(1_000_000),
    };
    let mut data = Vec::new();
    open.encode(&mut data);
    let framed = wt(Packet {
        packet_type: Open,
        data: Data::Text(String::from_utf8(data[1..].to_vec()).unwrap().into()),
    });
    assert_eq!(framed[0], 0x6b);
    assert_eq!(framed.len(), 1 + 107);
}

fn wt_decode_all(input: &[u8], max: usize, chunk: usize) -> Vec<Result<Packet, DecodeError>> {
    let mut deframer = Deframer::new(max);
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let mut piece = Bytes::copy_from_slice(piece);
        loop {
            match deframer.decode_packet(&mut piece) {
                Ok(Some(p)) => out.push(Ok(p)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

#[test]
fn wt_d1_any_chunking() {
    let input = b"\x05\x34\x31\xe2\x82\xac\x01\x32\x01\x33";
    for chunk in 1..=input.len() {
        assert_eq!(
            wt_decode_all(input, 1_000_000, chunk),
            [Ok(msg("1€")), Ok(bare(Ping)), Ok(bare(Pong))]
        );
    }
}

#[test]
fn wt_d2_binary() {
    assert_eq!(
        wt_decode_all(b"\x83\x01\x02\x03", 1_000_000, 4),
        [Ok(bin(&[1, 2, 3]))]
    );
}

#[test]
fn wt_e1_over_max_payload() {
    assert_eq!(
        wt_decode_all(b"\x0b", 10, 1),
        [Err(DecodeError::PayloadTooLarge)]
    );
}

#[test]
fn wt_e2_zero_length() {
    assert_eq!(
        wt_decode_all(b"\x00", 10, 1),
        [Err(DecodeError::ZeroLengthFrame)]
    );
    assert_eq!(
        wt_decode_all(b"\x80", 10, 1),
        [Err(DecodeError::ZeroLengthFrame)]
    );
}

#[test]
fn wt_e3_beyond_2_pow_53() {
    let input = b"\xff\x01\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(
        wt_decode_all(input, usize::MAX, 9),
        [Err(DecodeError::PayloadTooLarge)]
    );
}

#[test]
fn wt_e4_unknown_type() {
    assert_eq!(
        wt_decode_all(b"\x01\x37", 10, 2),
        [Err(DecodeError::UnknownPacketType)]
    );
}

#[test]
fn wt_errors_are_sticky() {
    let mut deframer = Deframer::new(10);
    let mut input = Bytes::from_static(b"\x00\x01\x32");
    assert_eq!(
        deframer.decode_packet(&mut input),
        Err(DecodeError::ZeroLengthFrame)
    );
    assert_eq!(
        deframer.decode_packet(&mut input),
        Err(DecodeError::ZeroLengthFrame)
    );
}

#[test]
fn wt_empty_binary_goes_as_base64_text() {
    assert_eq!(wt(bin(&[])), b"\x01b");
    assert_eq!(wt_decode_all(b"\x01b", 10, 1), [Ok(bin(&[]))]);
    assert_eq!(
        webtransport::FrameHeader::new(engineio_proto::FrameKind::Binary, 0),
        Err(EncodeError::EmptyFrame)
    );
}

// D.5 Engine.IO v3.
encode_text! {
    v3_01_euro_text: V3, msg("€€€") => "4€€€";
    v3_04_binary_b64: V3, bin(&[1, 2, 3, 4]) => "b4AQIDBA==";
    v3_05_number_data: V3, msg("1") => "41";
}

encode_body! {
    v3_06_empty_list: PayloadFormat::V3Text, [] => b"0:";
    v3_07_utf16_lengths: PayloadFormat::V3Text, [msg("€€€"), msg("α")] => "4:4€€€2:4α".as_bytes();
    v3_08_astral_counts_two: PayloadFormat::V3Text, [msg("😀")] => "3:4😀".as_bytes();
    v3_09_two_messages: PayloadFormat::V3Text, [msg("hello"), msg("world")] => b"6:4hello6:4world";
    v3_10_ping_pong: PayloadFormat::V3Text, [bare(Ping), bare(Pong)] => b"1:21:3";
    v3_11_close: PayloadFormat::V3Text, [bare(Close)] => b"1:1";
    v3_11_noop: PayloadFormat::V3Text, [bare(Noop)] => b"1:6";
    v3_12_text_mode_binary: PayloadFormat::V3Text, [msg("hello"), bin(&[1, 2, 3, 4])] => b"6:4hello10:b4AQIDBA==";
    v3_13_binary_mode: PayloadFormat::V3Binary, [msg("hello"), bin(&[1, 2, 3, 4])]
        => b"\x00\x06\xff4hello\x01\x05\xff\x04\x01\x02\x03\x04";
    v3_14_binary_mode_utf8_length: PayloadFormat::V3Binary, [msg("€"), bin(&[1, 2, 3, 4])]
        => b"\x00\x04\xff\x34\xe2\x82\xac\x01\x05\xff\x04\x01\x02\x03\x04";
    v3_15_multi_digit_length: PayloadFormat::V3Binary, [msg("0123456789"), bin(&[1])]
        => b"\x00\x01\x01\xff40123456789\x01\x02\xff\x04\x01";
    v3_16_twelve_bytes: PayloadFormat::V3Binary, [bin(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])]
        => b"\x01\x01\x03\xff\x04\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b";
    v3_17_close_and_binary: PayloadFormat::V3Binary, [bare(Close), bin(&[1])] => b"\x00\x01\xff\x31\x01\x02\xff\x04\x01";
    v3_18_socketio_binary_event: PayloadFormat::V3Binary,
        [msg("51-[\"x\",{\"_placeholder\":true,\"num\":0}]"), bin(&[1, 2, 3, 4])]
        => b"\x00\x03\x09\xff451-[\"x\",{\"_placeholder\":true,\"num\":0}]\x01\x05\xff\x04\x01\x02\x03\x04";
    v3_19_socketio_binary_event_b64: PayloadFormat::V3Text,
        [msg("51-[\"x\",{\"_placeholder\":true,\"num\":0}]"), bin(&[1, 2, 3, 4])]
        => b"39:451-[\"x\",{\"_placeholder\":true,\"num\":0}]10:b4AQIDBA==";
}

#[test]
fn v3_20_handshake_body() {
    let open = OpenPacket {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: vec![Transport::Websocket],
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(20_000),
        max_payload: Some(1_000_000),
    };
    let mut data = Vec::new();
    open.encode(&mut data);
    let packet = Packet {
        packet_type: Open,
        data: Data::Text(String::from_utf8(data[1..].to_vec()).unwrap().into()),
    };
    let mut body = Vec::new();
    encode_payload(
        PayloadFormat::V3Text,
        [packet.as_packet_ref()],
        usize::MAX,
        &mut body,
    )
    .unwrap();
    assert_eq!(
        body,
        br#"118:0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    );
}

decode_body! {
    v3_d1_two_messages: PayloadFormat::V3Text, b"6:4hello6:4world" => [Ok(msg("hello")), Ok(msg("world"))];
    v3_d2_empty_list: PayloadFormat::V3Text, b"0:" => [];
    v3_d3_euro: PayloadFormat::V3Text, "2:4€".as_bytes() => [Ok(msg("€"))];
    v3_d4_astral: PayloadFormat::V3Text, "3:4😀".as_bytes() => [Ok(msg("😀"))];
    v3_d5_base64: PayloadFormat::V3Text, b"10:b4AQIDBA==" => [Ok(bin(&[1, 2, 3, 4]))];
    v3_d6_leading_zero: PayloadFormat::V3Text, b"01:4" => [Ok(bare(Message))];
    v3_d7_binary_body: PayloadFormat::V3Binary, b"\x00\x06\xff\x34hello\x01\x05\xff\x04\x01\x02\x03\x04"
        => [Ok(msg("hello")), Ok(bin(&[1, 2, 3, 4]))];
    v3_d8_binary_body_euro: PayloadFormat::V3Binary, b"\x00\x04\xff\x34\xe2\x82\xac" => [Ok(msg("€"))];
    v3_e1_empty: PayloadFormat::V3Text, b"" => [Err(DecodeError::EmptyPacket)];
    v3_e1_bang: PayloadFormat::V3Text, b"1!" => [Err(DecodeError::InvalidLength)];
    v3_e1_parens: PayloadFormat::V3Text, b"))" => [Err(DecodeError::InvalidLength)];
    v3_e2_not_enough_data: PayloadFormat::V3Text, b"1:" => [Err(DecodeError::Truncated)];
    v3_e3_bad_packet: PayloadFormat::V3Text, b"3:99:" => [Err(DecodeError::UnknownPacketType)];
    v3_e3_bad_type: PayloadFormat::V3Text, b"1:aa" => [Err(DecodeError::UnknownPacketType)];
    v3_e3_bad_then_more: PayloadFormat::V3Text, b"1:a2:b" => [Err(DecodeError::UnknownPacketType)];
    v3_e4_split_surrogate: PayloadFormat::V3Text, "2:4😀".as_bytes() => [Err(DecodeError::SplitSurrogatePair)];
    v3_e5_binary_garbage: PayloadFormat::V3Binary, b"\x40" => [Err(DecodeError::InvalidRecordKind)];
    v3_space_in_length: PayloadFormat::V3Text, b" 1:4" => [Err(DecodeError::InvalidLength)];
    v3_decimal_point_in_length: PayloadFormat::V3Text, b"1.0:4" => [Err(DecodeError::InvalidLength)];
    v3_binary_digit_above_nine: PayloadFormat::V3Binary, b"\x00\x0a\xff4" => [Err(DecodeError::InvalidLength)];
    v3_binary_truncated_body: PayloadFormat::V3Binary, b"\x01\x09\xff\x04\x01" => [Err(DecodeError::Truncated)];
    v3_binary_no_terminator: PayloadFormat::V3Binary, b"\x00\x01\x02" => [Err(DecodeError::InvalidLength)];
    v3_binary_empty_record: PayloadFormat::V3Binary, b"\x01\x00\xff" => [Err(DecodeError::EmptyPacket)];
    v3_binary_good_then_bad: PayloadFormat::V3Binary, b"\x00\x01\xff\x32\x07" => [Ok(bare(Ping)), Err(DecodeError::InvalidRecordKind)];
}

#[test]
fn v3_d9_binary_frame_with_type_byte() {
    let p = PacketRef::decode_binary(V3, &[4, 1, 2, 3]).unwrap();
    assert_eq!(p.to_owned_packet(), bin(&[1, 2, 3]));
}

decode_text! {
    v3_e6_colons: V3, ":::" => Err(DecodeError::UnknownPacketType);
    v3_e6_digits: V3, "94103" => Err(DecodeError::UnknownPacketType);
    v3_e6_empty: V3, "" => Err(DecodeError::EmptyPacket);
    v3_b_alone: V3, "b" => Err(DecodeError::UnknownPacketType);
    v3_b_multibyte: V3, "bé" => Err(DecodeError::UnknownPacketType);
    v3_b_unknown_type: V3, "b9AQ==" => Err(DecodeError::UnknownPacketType);
    v3_b4_is_v3_binary_message: V3, "b4AQIDBA==" => Ok(bin(&[1, 2, 3, 4]));
}

#[test]
fn v3_binary_frames_need_a_known_type() {
    assert_eq!(
        PacketRef::decode_binary(V3, &[]),
        Err(DecodeError::EmptyPacket)
    );
    assert_eq!(
        PacketRef::decode_binary(V3, &[7, 1]),
        Err(DecodeError::UnknownPacketType)
    );
}
