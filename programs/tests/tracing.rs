//! The `tracing` feature of `socketio-tokio`, over a real socket: the server's connection and
//! socket spans, the client's span, the debug events in them, and the application's handlers
//! (sync, and async ones that wait) running inside their socket's span.
//!
//! A recording subscriber stands in for the application's (`tracing-subscriber`'s `fmt`, say).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_tokio::Event as SioEvent;
use socketio_tokio::client::{Client, Transports};
use socketio_tokio::{Ack, Socket, SocketIo};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span as recorded: its name, its fields (`key=value` with spaces) and its parent.
#[derive(Clone, Debug)]
struct SpanRecord {
    metadata: &'static Metadata<'static>,
    name: &'static str,
    fields: String,
    parent: Option<u64>,
}

/// An event as recorded: its message, its fields, and the spans it is in (innermost first),
/// each as `name{fields}`.
#[derive(Clone, Debug)]
struct EventRecord {
    message: String,
    fields: String,
    spans: Vec<String>,
}

#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    spans: Mutex<HashMap<u64, SpanRecord>>,
    events: Mutex<Vec<EventRecord>>,
}

/// A lock that a panicking test thread does not poison for the others.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields += &format!(" {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields += &format!(" {}={value}", field.name());
        }
    }
}

impl Recorder {
    /// `id` and its ancestors, innermost first, as `name{fields}`.
    fn chain(&self, mut id: Option<u64>) -> Vec<String> {
        let spans = lock(&self.spans);
        let mut chain = Vec::new();
        while let Some(span) = id.and_then(|id| spans.get(&id)) {
            chain.push(format!("{}{{{}}}", span.name, span.fields.trim()));
            id = span.parent;
        }
        chain
    }

    fn events(&self) -> Vec<EventRecord> {
        lock(&self.events).clone()
    }
}

/// The parent of a new span or event: none for a root, the explicit one, or the span entered
/// on this thread.
fn parent_of(is_root: bool, explicit: Option<&Id>) -> Option<u64> {
    if is_root {
        return None;
    }
    explicit
        .map(Id::into_u64)
        .or_else(|| ENTERED.with(|entered| entered.borrow().last().copied()))
}

/// The subscriber, shared with the test through an `Arc`.
struct Recording(Arc<Recorder>);

impl Subscriber for Recording {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let parent = parent_of(attributes.is_root(), attributes.parent());
        let record = SpanRecord {
            metadata: attributes.metadata(),
            name: attributes.metadata().name(),
            fields: fields.fields,
            parent,
        };
        lock(&self.0.spans).insert(id, record);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(span) = lock(&self.0.spans).get_mut(&span.into_u64()) {
            span.fields += &fields.fields;
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = parent_of(event.is_root(), event.parent());
        let record = EventRecord {
            message: fields.message,
            fields: fields.fields,
            spans: self.0.chain(span),
        };
        lock(&self.0.events).push(record);
    }

    /// What `Span::current()` asks (the spans tasks are spawned in).
    fn current_span(&self) -> tracing_core::span::Current {
        let Some(id) = ENTERED.with(|entered| entered.borrow().last().copied()) else {
            return tracing_core::span::Current::none();
        };
        match lock(&self.0.spans).get(&id) {
            Some(span) => tracing_core::span::Current::new(Id::from_u64(id), span.metadata),
            None => tracing_core::span::Current::none(),
        }
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|&id| id == span.into_u64()) {
                entered.remove(at);
            }
        });
    }
}

/// Waits until an event matching `wanted` was recorded, and returns it.
async fn recorded(
    recorder: &Recorder,
    what: &str,
    wanted: impl Fn(&EventRecord) -> bool,
) -> EventRecord {
    for _ in 0..200 {
        if let Some(event) = recorder.events().into_iter().find(&wanted) {
            return event;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {what} event; recorded: {:#?}", recorder.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_sockets_and_handlers_are_traced() {
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::set_global_default(Recording(recorder.clone())).unwrap();

    let (io, server) = SocketIo::builder().build_server();
    io.ns("/", |socket: Socket| {
        tracing::info!("connection handler");
        socket.on("echo", |_: Socket, _: SioEvent, ack: Ack| {
            tracing::info!("sync handler");
            let _ = ack.send("sync");
        });
        socket.on_async("wait", |_: Socket, _: SioEvent, ack: Ack| async move {
            // Spawned, since it waits: it must still be in the socket's span.
            tokio::time::sleep(Duration::from_millis(20)).await;
            tracing::info!("async handler after a wait");
            let _ = ack.send("async");
        });
    });
    let handle = server
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", handle.local_addr());

    let client = Client::builder(url.as_str())
        .transports(Transports::WebSocket)
        .build()
        .unwrap();
    client.connect().await.unwrap();
    let sid = client.id().expect("connected");
    let answer: String = client.emit_with_ack("echo", ()).await.unwrap();
    assert_eq!(answer, "sync");
    let answer: String = client.emit_with_ack("wait", ()).await.unwrap();
    assert_eq!(answer, "async");
    client.disconnect().unwrap();

    let socket_span = format!("socket{{ns=/ id={sid}}}");
    let in_socket = |message: &'static str| {
        let socket_span = socket_span.clone();
        move |event: &EventRecord| {
            event.message == message && event.spans.first() == Some(&socket_span)
        }
    };
    recorded(&recorder, "connected", in_socket("connected")).await;
    recorded(
        &recorder,
        "connection handler",
        in_socket("connection handler"),
    )
    .await;
    let echo = recorded(&recorder, "echo", |event| {
        in_socket("event")(event) && event.fields.contains("event=echo")
    })
    .await;
    assert!(echo.fields.contains("ack=true"), "{echo:?}");
    recorded(&recorder, "sync handler", in_socket("sync handler")).await;
    recorded(
        &recorder,
        "async handler",
        in_socket("async handler after a wait"),
    )
    .await;
    let gone = recorded(&recorder, "disconnected", in_socket("disconnected")).await;
    assert!(
        gone.fields.contains("reason=client namespace disconnect"),
        "{gone:?}"
    );

    // The WebSocket's task runs in the span of the HTTP connection it upgraded.
    let open = recorded(&recorder, "websocket open", |event| {
        event.message == "websocket open"
    })
    .await;
    assert!(
        open.spans[0].starts_with("connection{remote=127.0.0.1:"),
        "{open:?}"
    );

    // The client's events are in its own span.
    let client_span = format!("socketio_client{{url={url} path=/socket.io/}}");
    let connected = recorded(&recorder, "client connected", |event| {
        event.message == "connected" && event.spans.first() == Some(&client_span)
    })
    .await;
    assert!(
        connected.fields.contains(&format!("sid={sid}")),
        "{connected:?}"
    );
    io.close().await;
}
