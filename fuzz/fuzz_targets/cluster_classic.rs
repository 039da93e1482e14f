//! Any bytes as a message from another node of a classic Redis cluster: the broadcast,
//! request and response decoders never panic, and what they accept is written back to bytes
//! that decode to the same message.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_proto::Limits;
use socketio_proto::cluster::classic::{self, Broadcast, BroadcastWithAck, Request, Response};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(broadcast) = Broadcast::decode(Bytes::copy_from_slice(data), &limits) {
        let mut out = Vec::new();
        // Encoding fails only for payloads at the depth limit (serde_json's recursion limit).
        if classic::broadcast(&mut out, &broadcast.uid, &broadcast.packet, &broadcast.opts).is_ok()
        {
            let again =
                Broadcast::decode(Bytes::from(out), &limits).expect("our broadcast decodes");
            assert_eq!(again.uid, broadcast.uid);
            assert_eq!(again.opts, broadcast.opts);
            assert_eq!(again.packet.namespace(), broadcast.packet.namespace());
            assert_eq!(again.packet.attachments(), broadcast.packet.attachments());
        }
    }
    if let Ok(Some(request)) = BroadcastWithAck::decode(Bytes::copy_from_slice(data), &limits) {
        // The ack of a client to it encodes whatever the packet held.
        let ack = socketio_proto::Packet::ack(
            request.packet.full_namespace().clone(),
            socketio_proto::AckId::MAX,
            &(),
        )
        .expect("an empty ack builds");
        let mut out = Vec::new();
        classic::broadcast_ack(&mut out, &request.request_id, &ack).expect("an ack encodes");
    }
    if let Ok(Some(request)) = Request::decode(data) {
        let out = request.encode().expect("a decoded request encodes");
        assert_eq!(
            Request::decode(&out).expect("our request decodes"),
            Some(request)
        );
    }
    if let Ok(Some(response)) = Response::decode(data) {
        let out = response.encode().expect("a decoded response encodes");
        assert_eq!(
            Response::decode(&out).expect("our response decodes"),
            Some(response)
        );
    }
});
