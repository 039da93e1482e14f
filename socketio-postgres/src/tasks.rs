//! The tasks of one node: the listener and the commander, each on a connection of its own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use socketio_cluster_proto::ClusterAdapter;
use socketio_cluster_proto::postgres::{
    PostgresCommand, PostgresInput, PostgresOptions, PostgresWire,
};
use socketio_proto::server::Endpoint;
use socketio_tokio::server::Node;
use tokio::sync::{Notify, mpsc};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use crate::{COMMAND_QUEUE, Feed};

/// Notifications read ahead of the adapter, at most: beyond, the listener stops reading its
/// connection and PostgreSQL holds the rest.
const NOTIFICATION_QUEUE: usize = 1024;

/// How often the tasks look whether the server stopped.
const WATCH: Duration = Duration::from_secs(1);

/// The channels to `LISTEN` on; new ones (a namespace added later) wake the listener.
#[derive(Default)]
struct Channels {
    list: Mutex<Vec<String>>,
    changed: Notify,
}

impl Channels {
    fn list(&self) -> Vec<String> {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn add(&self, channel: String) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        if !list.contains(&channel) {
            list.push(channel);
            self.changed.notify_one();
        }
    }
}

/// Starts the node's tasks and hands them the adapter's commands as they come.
pub(crate) fn start(
    node: Node,
    config: tokio_postgres::Config,
    options: PostgresOptions,
    channels: Vec<String>,
) {
    let feed = Feed { node: node.clone() };
    let listening = Arc::new(Channels::default());
    for channel in channels {
        listening.add(channel);
    }
    let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
    tokio::spawn(listener(config.clone(), listening.clone(), feed.clone()));
    tokio::spawn(commander(config, options, queue, feed));
    let mut dropped = 0u64;
    node.on_commands(move |endpoint: &mut Endpoint| {
        let Some(adapter) = endpoint.adapter_mut::<ClusterAdapter<PostgresWire>>() else {
            return;
        };
        while let Some(command) = adapter.poll_command() {
            if let PostgresCommand::Listen { channel } = command {
                listening.add(channel);
            } else if commands.try_send(command).is_err() {
                dropped += 1;
                if dropped.is_power_of_two() {
                    eprintln!(
                        "postgres commander: queue full ({COMMAND_QUEUE} commands), {dropped} \
                         not carried out so far"
                    );
                }
            }
        }
    });
}

/// The reference's reconnection delay: 1 to 3 s (`2000 × (0.5 + random)`).
async fn pause() {
    let mut byte = [0u8; 2];
    let spread = match getrandom::fill(&mut byte) {
        Ok(()) => u64::from(u16::from_le_bytes(byte)) * 2000 / 65_536,
        Err(_) => 1000,
    };
    tokio::time::sleep(Duration::from_millis(1000 + spread)).await;
}

/// Listens, and listens again after each failure, until the server stops.
async fn listener(config: tokio_postgres::Config, channels: Arc<Channels>, feed: Feed) {
    while !feed.is_closed() {
        match listen(&config, &channels, &feed).await {
            Ok(()) => return,
            Err(err) => eprintln!("postgres listener: {err}; listening again in 1 to 3 s"),
        }
        pause().await;
    }
}

/// One listening connection, until it fails (`Err`) or the server stops (`Ok`).
async fn listen(
    config: &tokio_postgres::Config,
    channels: &Channels,
    feed: &Feed,
) -> Result<(), String> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (notifications, mut received) = mpsc::channel(NOTIFICATION_QUEUE);
    // Polling the connection runs the client's queries and reads the notifications.
    let reader = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let notification = (n.channel().to_owned(), n.payload().to_owned());
                    if notifications.send(notification).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(err) => return Err(err.to_string()),
            }
        }
        Err("the connection closed".to_owned())
    });
    let _abort = AbortOnDrop(reader.abort_handle());
    let mut listened = HashSet::new();
    loop {
        for channel in channels.list() {
            if listened.contains(&channel) {
                continue;
            }
            // Checked when the adapter was made: every channel is a valid name.
            let Some(sql) = PostgresOptions::listen_sql(&channel) else {
                continue;
            };
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| e.to_string())?;
            listened.insert(channel);
        }
        tokio::select! {
            notification = received.recv() => {
                let Some((channel, payload)) = notification else {
                    return Err(match reader.await {
                        Ok(Err(err)) => err,
                        _ => "the connection closed".to_owned(),
                    });
                };
                let at = Instant::now();
                if !feed.send(PostgresInput::Notification { channel, payload, at }) {
                    return Ok(());
                }
            }
            () = channels.changed.notified() => {}
            () = tokio::time::sleep(WATCH) => {
                if feed.is_closed() {
                    return Ok(());
                }
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A commander connection and its prepared statements.
struct Connection {
    client: Client,
    notify: Statement,
    insert: Statement,
    select: Statement,
}

async fn connect(
    config: &tokio_postgres::Config,
    options: &PostgresOptions,
) -> Result<Connection, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.batch_execute(&options.create_table_sql()).await?;
    Ok(Connection {
        notify: client.prepare("SELECT pg_notify($1, $2)").await?,
        insert: client.prepare(&options.insert_sql()).await?,
        select: client.prepare(&options.select_sql()).await?,
        client,
    })
}

/// Carries out the commands in order, connecting again after each failure; when the server
/// stops, tells the other nodes this one is leaving.
async fn commander(
    config: tokio_postgres::Config,
    options: PostgresOptions,
    mut queue: mpsc::Receiver<PostgresCommand>,
    feed: Feed,
) {
    let mut dropped = 0u64;
    let mut drop_one = |command: &PostgresCommand, why: &str| {
        dropped += 1;
        eprintln!("postgres commander: {command:?} not carried out ({why}); {dropped} so far");
    };
    // A command the broken connection failed, tried once more on the next one.
    let mut retry: Option<PostgresCommand> = None;
    loop {
        let connection = match connect(&config, &options).await {
            Ok(connection) => connection,
            Err(err) => {
                if feed.is_closed() {
                    return;
                }
                eprintln!("postgres commander: {err}; connecting again in 1 to 3 s");
                pause().await;
                continue;
            }
        };
        let mut retried = retry.is_some();
        loop {
            let command = match retry.take() {
                Some(command) => command,
                None => tokio::select! {
                    command = queue.recv() => match command {
                        Some(command) => command,
                        None => return,
                    },
                    () = tokio::time::sleep(WATCH) => {
                        if feed.is_closed() {
                            leave(&connection, &options, &feed).await;
                            return;
                        }
                        continue;
                    }
                },
            };
            match execute(&connection, &options, &command, &feed).await {
                Ok(()) => retried = false,
                Err(err) if connection.client.is_closed() => {
                    if retried {
                        drop_one(&command, &err.to_string());
                    } else {
                        retry = Some(command);
                    }
                    eprintln!("postgres commander: {err}; connecting again in 1 to 3 s");
                    break;
                }
                // The database refused it (a table gone, a payload too long): it will
                // refuse it again.
                Err(err) => drop_one(&command, &err.to_string()),
            }
        }
        pause().await;
    }
}

async fn execute(
    connection: &Connection,
    options: &PostgresOptions,
    command: &PostgresCommand,
    feed: &Feed,
) -> Result<(), tokio_postgres::Error> {
    let client = &connection.client;
    match command {
        PostgresCommand::Notify { channel, payload } => {
            client
                .execute(&connection.notify, &[channel, payload])
                .await?;
        }
        PostgresCommand::Attach {
            channel,
            uid,
            kind,
            payload,
        } => {
            let statements = (&connection.insert, &connection.notify);
            attach(client, statements, channel, uid, *kind, payload).await?;
        }
        PostgresCommand::Fetch { id, channel } => {
            let rows = client.query(&connection.select, &[id]).await?;
            // A row already cleaned up is gone: nothing to apply.
            if let Some(row) = rows.first() {
                let payload: Vec<u8> = row.try_get(0)?;
                feed.send(PostgresInput::Attachment {
                    channel: channel.clone(),
                    payload: payload.into(),
                    at: Instant::now(),
                });
            }
        }
        PostgresCommand::Cleanup => client.batch_execute(&options.cleanup_sql()).await?,
        // The listener's (handed to it by the command hook).
        PostgresCommand::Listen { .. } => {}
    }
    Ok(())
}

/// A message through the table: its row, then the notification of the row's id.
pub(crate) async fn attach<S: tokio_postgres::ToStatement + ?Sized>(
    client: &Client,
    (insert, notify): (&S, &S),
    channel: &str,
    uid: &str,
    kind: u8,
    payload: &[u8],
) -> Result<(), tokio_postgres::Error> {
    let row = client.query_one(insert, &[&payload]).await?;
    let header = PostgresCommand::attachment_header(uid, kind, row.try_get(0)?);
    client.execute(notify, &[&channel, &header]).await?;
    Ok(())
}

/// `ADAPTER_CLOSE` for every namespace, so that the other nodes stop counting this one now
/// rather than after their heartbeat timeout.
async fn leave(connection: &Connection, options: &PostgresOptions, feed: &Feed) {
    let commands: Vec<PostgresCommand> = {
        let mut guard = feed.node.lock();
        match guard
            .endpoint_mut()
            .adapter_mut::<ClusterAdapter<PostgresWire>>()
        {
            Some(adapter) => {
                adapter.wire_mut().close();
                std::iter::from_fn(|| adapter.poll_command()).collect()
            }
            None => Vec::new(),
        }
    };
    for command in commands {
        let _ = execute(connection, options, &command, feed).await;
    }
}
