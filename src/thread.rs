//! Helper threads that never receive signals. Postgres delivers SIGHUP, SIGTERM and SIGINT to the
//! process, and the kernel may run the handler on any thread that does not block them; the
//! handlers (pgrx's for the background workers, Postgres' own) must run on the main thread, or
//! pgrx aborts the process ("postgres FFI may not be called from multiple threads"). Every helper
//! thread (the HTTP call of the API client, the webhook listener) is spawned here, with every signal
//! blocked: the signal mask is inherited, then restored in the caller.

/// Spawns a named thread with every signal blocked.
pub fn spawn_blocked<F: FnOnce() + Send + 'static>(
    name: &str,
    f: F,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let h = std::thread::Builder::new().name(name.into()).spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        h
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn helper_threads_block_every_signal() {
        let h = super::spawn_blocked("t", || unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut cur);
            assert_eq!(libc::sigismember(&cur, libc::SIGHUP), 1);
            assert_eq!(libc::sigismember(&cur, libc::SIGTERM), 1);
        })
        .unwrap();
        h.join().unwrap();
        // The caller's own mask is back as it was.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut cur);
            assert_eq!(libc::sigismember(&cur, libc::SIGHUP), 0);
        }
    }
}
