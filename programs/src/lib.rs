//! The programs of the repository (the chat server, the conformance server, the client, the
//! emitter) and the tests over real sockets against the official JavaScript packages. Not
//! published: everything here uses the public API of the published crates, as a user would.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apps;
pub mod cli;
pub mod echo;
