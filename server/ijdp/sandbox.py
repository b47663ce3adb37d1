"""The operating system's limits on the processes that run queries and updates.

These are the last line: whatever a request's spelling, a process sandboxed
here cannot open a network socket (a seccomp filter refuses socket() for every
family but AF_UNIX, and io_uring, which could open sockets behind the filter's
back), and cannot grow past its memory limit (RLIMIT_DATA). The parse-based
checks (structure.py) decide what to refuse with a helpful message; these make
a check that was missed harmless.
"""
from __future__ import annotations

import errno
import os
import resource
import socket
import tempfile
from pathlib import Path

MEMORY_EXHAUSTED_MARK = "memory allocation of"   # what Rust prints before it aborts on a failed allocation


class SandboxUnavailable(RuntimeError):
    pass


def restrict_network(allow_internet: bool = False) -> None:
    """Refuse every socket but AF_UNIX (and AF_INET/AF_INET6 when allow_internet) from now on, in this process."""
    try:
        import pyseccomp as seccomp
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise SandboxUnavailable(f"pyseccomp is not installed: {err}") from None
    allowed = {socket.AF_UNIX} | ({socket.AF_INET, socket.AF_INET6} if allow_internet else set())
    try:
        syscalls = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        # One comparison per rule (libseccomp's constraint): refuse each family
        # below the largest allowed one that is not allowed, and all above it.
        for family in range(max(allowed)):
            if family not in allowed:
                syscalls.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, family))
        syscalls.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.GT, max(allowed)))
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            syscalls.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        syscalls.load()
    except (OSError, RuntimeError, ValueError) as err:
        raise SandboxUnavailable(f"the seccomp filter could not be loaded: {err}") from None


def limit_memory(max_bytes: int) -> None:
    """Cap this process's data (heap and private writable mappings); an allocation past it fails.

    RLIMIT_DATA, not RLIMIT_AS: RocksDB and glibc reserve hundreds of MB of
    address space they never touch (a query worker: 440 MB of address space,
    87 MB of data, 35 MB resident), so an address-space cap would either be
    too loose to matter or break thread creation.
    """
    if max_bytes > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))


def stderr_log(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"ijdp-worker-{pid}.stderr"


def capture_stderr() -> None:
    """Send this process's stderr (file descriptor 2) to a file its parent reads if the process dies."""
    fd = os.open(stderr_log(os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def last_words(pid: int, limit: int = 4000) -> str:
    """The head and tail of a dead process's stderr (and the file removed).

    Both ends: Rust writes its reason first and a backtrace after it.
    """
    path = stderr_log(pid)
    try:
        with open(path, "rb") as handle:
            head = handle.read(limit)
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(len(head), size - limit))
            tail = handle.read()
    except OSError:
        return ""
    finally:
        path.unlink(missing_ok=True)
    return (head + (b"\n...\n" if tail else b"") + tail).decode("utf-8", "replace")
