//! The chat: nicknames, rooms, typing notices and images sent as binary attachments, on the
//! main namespace. The page in `static/` speaks it with the official browser client.
//!
//! Client ⇒ server: `set-nickname`(name, ack), `join-room`(room, ack), `chat`(text),
//! `typing`(bool), `image`({name, type, data: binary}) (an attachment).
//! Server ⇒ client: `welcome`({nickname, room, rooms}), `members`([nickname…]),
//! `notice`(text), `chat`({from, text, at}), `typing`({from, typing}),
//! `image`({from, name, type, data}). Room messages go to everyone in the room but the
//! sender, whose page shows them already.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use socketio_tokio::bytes::Bytes;
use socketio_tokio::{Ack, Data, Socket, SocketIo};

/// Rooms offered on the welcome screen (any other name can be joined too).
pub const ROOMS: [&str; 3] = ["lobby", "rust", "random"];
/// Longest nickname and room name, in characters.
pub const MAX_NAME: usize = 32;
/// Longest chat message, in characters.
pub const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone)]
struct User {
    nickname: String,
    room: String,
}

/// Who is here, shared by every shard (and every node's own users only, in a cluster).
#[derive(Debug, Default)]
struct Users {
    /// Socket id ⇒ user.
    by_socket: HashMap<String, User>,
    next_guest: u64,
}

#[derive(Serialize)]
struct Welcome<'a> {
    nickname: &'a str,
    room: &'a str,
    rooms: [&'static str; 3],
}

#[derive(Serialize, Default)]
struct Reply<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn refusal(error: &str) -> Reply<'_> {
    Reply {
        error: Some(error),
        ..Reply::default()
    }
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    from: &'a str,
    text: &'a str,
    at: u64,
}

#[derive(Serialize)]
struct Typing<'a> {
    from: &'a str,
    typing: bool,
}

/// The image as the page sends it, and as it goes to the room: `data` is binary, shared,
/// never copied.
#[derive(Deserialize, Serialize)]
struct Image {
    #[serde(default, skip_deserializing)]
    from: String,
    name: String,
    #[serde(rename = "type")]
    mime: String,
    data: Bytes,
}

fn valid_name(name: &str) -> Option<String> {
    let name = name.trim();
    let chars = name.chars().count();
    ((1..=MAX_NAME).contains(&chars) && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

type Shared = Arc<Mutex<Users>>;

fn lock(users: &Shared) -> std::sync::MutexGuard<'_, Users> {
    users.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers the chat on `io`'s main namespace.
pub fn install(io: &SocketIo) {
    let users: Shared = Shared::default();
    io.ns("/", move |socket: Socket| connected(&socket, &users));
}

fn members(users: &Users, room: &str) -> Vec<String> {
    let mut names: Vec<String> = users
        .by_socket
        .values()
        .filter(|u| u.room == room)
        .map(|u| u.nickname.clone())
        .collect();
    names.sort();
    names
}

fn announce_members(socket: &Socket, users: &Users, room: &str) {
    let _ = socket.within(room).emit("members", &members(users, room));
}

fn connected(socket: &Socket, users: &Shared) {
    let (nickname, room) = {
        let mut users = lock(users);
        users.next_guest += 1;
        let nickname = format!("guest-{}", 1000 + users.next_guest);
        let room = ROOMS[0].to_owned();
        let user = User {
            nickname: nickname.clone(),
            room: room.clone(),
        };
        users.by_socket.insert(socket.id().to_owned(), user);
        (nickname, room)
    };
    socket.join(&room);
    let welcome = Welcome {
        nickname: &nickname,
        room: &room,
        rooms: ROOMS,
    };
    let _ = socket.emit("welcome", &welcome);
    let _ = socket
        .to(room.clone())
        .emit("notice", &format!("{nickname} joined #{room}"));
    announce_members(socket, &lock(users), &room);

    let user_of = |users: &Shared, socket: &Socket| lock(users).by_socket.get(socket.id()).cloned();

    let shared = users.clone();
    socket.on(
        "set-nickname",
        move |socket: Socket, Data(wanted): Data<String>, ack: Ack| {
            let Some(user) = user_of(&shared, &socket) else {
                return;
            };
            let Some(wanted) = valid_name(&wanted) else {
                let _ = ack.send(&refusal("a nickname has 1 to 32 characters"));
                return;
            };
            let mut users = lock(&shared);
            if wanted != user.nickname && users.by_socket.values().any(|u| u.nickname == wanted) {
                let _ = ack.send(&refusal("that nickname is taken"));
                return;
            }
            if let Some(me) = users.by_socket.get_mut(socket.id()) {
                me.nickname = wanted.clone();
            }
            let reply = Reply {
                ok: true,
                nickname: Some(&wanted),
                ..Reply::default()
            };
            let _ = ack.send(&reply);
            if wanted != user.nickname {
                let notice = format!("{} is now {wanted}", user.nickname);
                let _ = socket.to(user.room.clone()).emit("notice", &notice);
                announce_members(&socket, &users, &user.room);
            }
        },
    );

    let shared = users.clone();
    socket.on(
        "join-room",
        move |socket: Socket, Data(room): Data<String>, ack: Ack| {
            let Some(user) = user_of(&shared, &socket) else {
                return;
            };
            let Some(new_room) = valid_name(&room) else {
                let _ = ack.send(&refusal("a room name has 1 to 32 characters"));
                return;
            };
            let mut users = lock(&shared);
            if new_room != user.room {
                socket.leave(&user.room);
                socket.join(&new_room);
                if let Some(me) = users.by_socket.get_mut(socket.id()) {
                    me.room = new_room.clone();
                }
                let left = format!("{} left #{}", user.nickname, user.room);
                let _ = socket.within(user.room.clone()).emit("notice", &left);
                announce_members(&socket, &users, &user.room);
                let joined = format!("{} joined #{new_room}", user.nickname);
                let _ = socket.to(new_room.clone()).emit("notice", &joined);
                announce_members(&socket, &users, &new_room);
            }
            let reply = Reply {
                ok: true,
                room: Some(&new_room),
                members: Some(members(&users, &new_room)),
                ..Reply::default()
            };
            let _ = ack.send(&reply);
        },
    );

    let shared = users.clone();
    socket.on("chat", move |socket: Socket, Data(text): Data<String>| {
        let Some(user) = user_of(&shared, &socket) else {
            return;
        };
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
            return;
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let message = ChatMessage {
            from: &user.nickname,
            text: &text,
            at,
        };
        let _ = socket.to(user.room).emit("chat", &message);
    });

    let shared = users.clone();
    socket.on("typing", move |socket: Socket, Data(typing): Data<bool>| {
        if let Some(user) = user_of(&shared, &socket) {
            let notice = Typing {
                from: &user.nickname,
                typing,
            };
            let _ = socket.to(user.room).emit("typing", &notice);
        }
    });

    let shared = users.clone();
    socket.on(
        "image",
        move |socket: Socket, Data(mut image): Data<Image>| {
            let Some(user) = user_of(&shared, &socket) else {
                return;
            };
            if !image.mime.starts_with("image/") {
                return;
            }
            image.from = user.nickname;
            let _ = socket.to(user.room).emit("image", &image);
        },
    );

    let shared = users.clone();
    socket.on_disconnect(move |socket, _| {
        let mut users = lock(&shared);
        let Some(user) = users.by_socket.remove(socket.id()) else {
            return;
        };
        let notice = format!("{} left #{}", user.nickname, user.room);
        let _ = socket.within(user.room.clone()).emit("notice", &notice);
        announce_members(&socket, &users, &user.room);
    });
}
