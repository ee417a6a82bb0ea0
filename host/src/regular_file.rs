//! Reading a whole file named by the caller (a policy component, a lab
//! config) without trusting what it is: opened without blocking, refused
//! unless it is a regular file, and never read past a cap. A FIFO would
//! block the open (and then the read) forever, `/dev/zero` would be read
//! until memory runs out, and a huge file would be read whole.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// Opening or reading it failed (missing, say).
    Io(std::io::Error),
    /// It is a folder, a FIFO, a device or a socket.
    NotRegular(&'static str),
    /// It holds more than the cap, in bytes.
    TooLarge(u64),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Io(e) => e.fmt(f),
            Unreadable::NotRegular(what) => write!(f, "not a regular file ({what})"),
            Unreadable::TooLarge(cap) => write!(f, "larger than the {cap}-byte limit"),
        }
    }
}

/// The bytes of the regular file at `path`, at most `cap` of them.
pub(crate) fn read(path: &Path, cap: u64) -> Result<Vec<u8>, Unreadable> {
    let file = open_nonblocking(path).map_err(Unreadable::Io)?;
    // Checked on the open file: what is checked is what is read.
    let meta = file.metadata().map_err(Unreadable::Io)?;
    if !meta.is_file() {
        return Err(Unreadable::NotRegular(kind(&meta.file_type())));
    }
    if meta.len() > cap {
        return Err(Unreadable::TooLarge(cap));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the cap tells a file that grew since the check.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > cap {
        return Err(Unreadable::TooLarge(cap));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO without a writer returns at once; it has no
    // effect on the reads of a regular file.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

fn kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "an unknown kind"
    }
}
