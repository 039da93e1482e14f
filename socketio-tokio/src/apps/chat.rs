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
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketio_proto::session::rooms::BroadcastTarget;
use socketio_proto::session::server::DisconnectReason;
use socketio_proto::{Namespace, Packet};

use crate::socketio::{Admission, App, Io, SocketRef};

/// Rooms offered on the welcome screen (any other name can be joined too).
pub const ROOMS: [&str; 3] = ["lobby", "rust", "random"];
/// Longest nickname and room name, in characters.
pub const MAX_NAME: usize = 32;
/// Longest chat message, in characters.
pub const MAX_TEXT: usize = 2000;

#[derive(Debug)]
struct User {
    nickname: String,
    room: String,
}

/// The chat application.
#[derive(Debug, Default)]
pub struct Chat {
    /// Socket id ⇒ user.
    users: HashMap<String, User>,
    next_guest: u64,
}

#[derive(Serialize)]
struct Welcome<'a> {
    nickname: &'a str,
    room: &'a str,
    rooms: [&'static str; 3],
}

#[derive(Serialize)]
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

impl<'a> Reply<'a> {
    fn ok() -> Reply<'a> {
        Reply {
            ok: true,
            nickname: None,
            room: None,
            members: None,
            error: None,
        }
    }

    fn error(error: &'a str) -> Reply<'a> {
        Reply {
            ok: false,
            error: Some(error),
            ..Reply::ok()
        }
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

/// The image as the page sends it; `data` stays raw (its placeholder) and is forwarded with
/// its attachment.
#[derive(Deserialize)]
struct Image<'a> {
    name: String,
    #[serde(rename = "type")]
    mime: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn valid_name(name: &str) -> Option<String> {
    let name = name.trim();
    let chars = name.chars().count();
    ((1..=MAX_NAME).contains(&chars) && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

impl Chat {
    fn members(&self, room: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .users
            .values()
            .filter(|u| u.room == room)
            .map(|u| u.nickname.clone())
            .collect();
        names.sort();
        names
    }

    /// Sends `event(args)` to a room, minus `except` (a socket id) when given.
    fn to_room<T: Serialize>(
        &self,
        io: &mut Io<'_>,
        room: &str,
        except: Option<&str>,
        event: &str,
        args: &T,
    ) {
        let Ok(packet) = Packet::event(Namespace::main(), event, args, None) else {
            return;
        };
        let mut target = BroadcastTarget::to([room]);
        if let Some(id) = except {
            target = target.except([id]);
        }
        let _ = io.broadcast(packet, &target);
    }

    fn announce_members(&self, io: &mut Io<'_>, room: &str) {
        let members = self.members(room);
        self.to_room(io, room, None, "members", &(members,));
    }

    fn reply<T: Serialize>(io: &mut Io<'_>, socket: &SocketRef, packet: &Packet, value: &T) {
        if let Some(id) = packet.ack_id() {
            if let Ok(ack) = Packet::ack(socket.namespace.clone(), id, &(value,)) {
                io.ack(socket, ack);
            }
        }
    }
}

impl App for Chat {
    fn admit(&mut self, namespace: &Namespace, _auth: Option<&str>) -> Admission {
        if namespace.is_main() {
            Admission::Accept
        } else {
            Admission::InvalidNamespace
        }
    }

    fn on_connect(&mut self, io: &mut Io<'_>, socket: &SocketRef, _: Option<&str>, _: bool) {
        self.next_guest += 1;
        let nickname = format!("guest-{}", 1000 + self.next_guest);
        let room = ROOMS[0].to_owned();
        io.join(socket, &room);
        if let Ok(welcome) = Packet::event(
            Namespace::main(),
            "welcome",
            &(Welcome {
                nickname: &nickname,
                room: &room,
                rooms: ROOMS,
            },),
            None,
        ) {
            let _ = io.emit(socket, welcome);
        }
        let notice = format!("{nickname} joined #{room}");
        self.users.insert(
            socket.id.clone(),
            User {
                nickname,
                room: room.clone(),
            },
        );
        self.to_room(io, &room, Some(&socket.id), "notice", &(notice,));
        self.announce_members(io, &room);
    }

    fn on_event(&mut self, io: &mut Io<'_>, socket: &SocketRef, packet: Packet) {
        let Some(name) = packet
            .event_name()
            .and_then(|n| n.as_str().map(str::to_owned))
        else {
            return;
        };
        let Some(user) = self.users.get(&socket.id) else {
            return;
        };
        let (nickname, room) = (user.nickname.clone(), user.room.clone());
        match name.as_str() {
            "set-nickname" => {
                let Some(wanted) = packet
                    .args::<(String,)>()
                    .ok()
                    .and_then(|(n,)| valid_name(&n))
                else {
                    return Self::reply(
                        io,
                        socket,
                        &packet,
                        &Reply::error("a nickname has 1 to 32 characters"),
                    );
                };
                if wanted != nickname && self.users.values().any(|u| u.nickname == wanted) {
                    return Self::reply(
                        io,
                        socket,
                        &packet,
                        &Reply::error("that nickname is taken"),
                    );
                }
                if let Some(user) = self.users.get_mut(&socket.id) {
                    user.nickname = wanted.clone();
                }
                Self::reply(
                    io,
                    socket,
                    &packet,
                    &Reply {
                        nickname: Some(&wanted),
                        ..Reply::ok()
                    },
                );
                if wanted != nickname {
                    let notice = format!("{nickname} is now {wanted}");
                    self.to_room(io, &room, Some(&socket.id), "notice", &(notice,));
                    self.announce_members(io, &room);
                }
            }
            "join-room" => {
                let Some(new_room) = packet
                    .args::<(String,)>()
                    .ok()
                    .and_then(|(r,)| valid_name(&r))
                else {
                    return Self::reply(
                        io,
                        socket,
                        &packet,
                        &Reply::error("a room name has 1 to 32 characters"),
                    );
                };
                if new_room != room {
                    io.leave(socket, &room);
                    io.join(socket, &new_room);
                    if let Some(user) = self.users.get_mut(&socket.id) {
                        user.room = new_room.clone();
                    }
                    self.to_room(
                        io,
                        &room,
                        None,
                        "notice",
                        &(format!("{nickname} left #{room}"),),
                    );
                    self.announce_members(io, &room);
                    let notice = format!("{nickname} joined #{new_room}");
                    self.to_room(io, &new_room, Some(&socket.id), "notice", &(notice,));
                    self.announce_members(io, &new_room);
                }
                Self::reply(
                    io,
                    socket,
                    &packet,
                    &Reply {
                        room: Some(&new_room),
                        members: Some(self.members(&new_room)),
                        ..Reply::ok()
                    },
                );
            }
            "chat" => {
                let Ok((text,)) = packet.args::<(String,)>() else {
                    return;
                };
                if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
                    return;
                }
                let at = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let message = ChatMessage {
                    from: &nickname,
                    text: &text,
                    at,
                };
                self.to_room(io, &room, Some(&socket.id), "chat", &(message,));
            }
            "typing" => {
                let Ok((typing,)) = packet.args::<(bool,)>() else {
                    return;
                };
                let notice = Typing {
                    from: &nickname,
                    typing,
                };
                self.to_room(io, &room, Some(&socket.id), "typing", &(notice,));
            }
            "image" => {
                // One attachment, referenced from `data`: `name` and `type` are strings, so the
                // decoder's check that every attachment is referenced puts it there.
                // Read raw: `args()` would turn the placeholder into bytes, and `data` is
                // forwarded as the placeholder it is.
                let args = packet.raw_args();
                let Some(Ok(image)) = args
                    .get(1)
                    .map(|raw| serde_json::from_str::<Image<'_>>(raw.get()))
                else {
                    return;
                };
                if packet.attachments().len() != 1 || !image.mime.starts_with("image/") {
                    return;
                }
                #[derive(Serialize)]
                struct Header<'a> {
                    from: &'a str,
                    name: &'a str,
                    #[serde(rename = "type")]
                    mime: &'a str,
                }
                let Ok(header) = serde_json::to_string(&Header {
                    from: &nickname,
                    name: &image.name,
                    mime: &image.mime,
                }) else {
                    return;
                };
                // `{"from":…,"name":…,"type":…` + `,"data":<placeholder>}`.
                let json = format!(
                    "{},\"data\":{}}}",
                    &header[..header.len() - 1],
                    image.data.get()
                );
                let Ok(object) = RawValue::from_string(json) else {
                    return;
                };
                let attachments = packet.attachments().to_vec();
                if let Ok(out) =
                    Packet::event_raw(Namespace::main(), "image", &[&object], attachments)
                {
                    let _ = io.broadcast(
                        out,
                        &BroadcastTarget::to([room]).except([socket.id.clone()]),
                    );
                }
            }
            _ => {}
        }
    }

    fn on_disconnect(&mut self, io: &mut Io<'_>, socket: &SocketRef, _: DisconnectReason) {
        let Some(user) = self.users.remove(&socket.id) else {
            return;
        };
        let notice = format!("{} left #{}", user.nickname, user.room);
        self.to_room(io, &user.room, None, "notice", &(notice,));
        self.announce_members(io, &user.room);
    }
}
