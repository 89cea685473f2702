//! Socket options std does not offer (keep-alive timing), the descriptor traits, and
//! `into_std`'s duplication, shared by every socket type.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// `setsockopt(fd, level, name, &value)` for an `int` option.
pub(crate) fn set_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `fd` is open for the borrow; the option value is an `int` of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `getsockopt(fd, level, name)` for an `int` option.
pub(crate) fn get_int(fd: BorrowedFd<'_>, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `fd` is open for the borrow; `value` and `len` are valid for writes of the sizes
    // given, which are those of an `int` option.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    };
    if r == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Go's `SetKeepAlive` + `SetKeepAlivePeriod`: `None` turns `SO_KEEPALIVE` off; `Some(d)` turns
/// it on with `d` (whole seconds, at least 1) as both the idle time before the first probe and
/// the interval between probes.
pub(crate) fn set_keepalive(fd: BorrowedFd<'_>, period: Option<Duration>) -> io::Result<()> {
    match period {
        None => set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0),
        Some(d) => {
            let secs = d.as_secs().clamp(1, i32::MAX as u64) as i32;
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs)?;
            set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)
        }
    }
}

/// The keep-alive period if `SO_KEEPALIVE` is on (the idle time before the first probe).
pub(crate) fn keepalive(fd: BorrowedFd<'_>) -> io::Result<Option<Duration>> {
    if get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? == 0 {
        return Ok(None);
    }
    let idle = get_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?;
    Ok(Some(Duration::from_secs(idle.max(0) as u64)))
}

/// A new descriptor for the socket `fd` names (`F_DUPFD_CLOEXEC`), for `into_std`: the
/// original is deregistered and closed when its gorun socket is dropped, the copy lives on.
pub(crate) fn dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}

/// `AsFd` and `AsRawFd` for a gorun socket whose registered std socket is `self.$($field).+`.
macro_rules! fd_impls {
    ($t:ty, $($field:tt).+) => {
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.$($field).+.get_ref().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.$($field).+.get_ref().as_raw_fd()
            }
        }
    };
}
