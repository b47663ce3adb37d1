"""The operating system's limits on the processes that run queries and updates.

These are the last line: whatever a request's spelling, a process sandboxed
here cannot open a network socket (a seccomp filter refuses socket() for every
family, AF_UNIX included, so no name service daemon can look a name up for it;
and io_uring, which could open sockets behind the filter's back), and cannot
grow past its memory limit (RLIMIT_DATA). The parse-based checks
(structure.py) decide what to refuse with a helpful message; these make a
check that was missed harmless.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import resource
import socket
import struct
import tempfile
import urllib.parse
from pathlib import Path

MEMORY_EXHAUSTED_MARK = "memory allocation of"   # what Rust prints before it aborts on a failed allocation
SOCKET_TYPE_MASK = 0xF                           # the type bits of socket()'s second argument (the rest are flags)


class SandboxUnavailable(RuntimeError):
    pass


def restrict_network(endpoints: tuple = ()) -> None:
    """From now on, in this thread and the threads it starts, no network but TCP to endpoints (URLs).

    Without endpoints, socket() fails for every family (socketpair(), which the
    pipes to the parent use, still works). With them, only TCP sockets of the
    endpoints' address families may be made, and every connect() and every send
    to an explicit address is checked against the endpoints' (ip, port) by a
    supervisor thread started before the filter, which the filter therefore
    does not bind. The endpoints' hosts must be IP addresses: a sandboxed
    process resolves no names and may reach no resolver (the federation
    workers' only endpoint is the federation proxy on loopback, federation.py).
    """
    addresses = _endpoint_addresses(endpoints)
    try:
        import pyseccomp as seccomp
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise SandboxUnavailable(f"pyseccomp is not installed: {err}") from None
    supervisor = None
    try:
        syscalls = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        refuse = seccomp.ERRNO(errno.EACCES)
        if not addresses:
            syscalls.add_rule(refuse, "socket")
        else:
            # One comparison per rule (libseccomp's constraint): refuse each family
            # below the largest allowed one that is not allowed, and all above it.
            allowed = {socket.AF_INET6 if ":" in ip else socket.AF_INET for ip, _ in addresses}
            for family in range(max(allowed)):
                if family not in allowed:
                    syscalls.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.EQ, family))
            syscalls.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.GT, max(allowed)))
            # TCP only: no datagram socket (DNS, or any other UDP), no raw one.
            for kind in range(SOCKET_TYPE_MASK + 1):
                if kind != socket.SOCK_STREAM:
                    syscalls.add_rule(refuse, "socket", seccomp.Arg(1, seccomp.MASKED_EQ, SOCKET_TYPE_MASK, kind))
            for protocol in range(1, socket.IPPROTO_TCP):
                syscalls.add_rule(refuse, "socket", seccomp.Arg(2, seccomp.EQ, protocol))
            syscalls.add_rule(refuse, "socket", seccomp.Arg(2, seccomp.GT, socket.IPPROTO_TCP))
            supervisor = _ConnectSupervisor(seccomp, syscalls, addresses)
            syscalls.add_rule(seccomp.NOTIFY, "connect")
            syscalls.add_rule(seccomp.NOTIFY, "sendto", seccomp.Arg(4, seccomp.NE, 0))
            syscalls.add_rule(seccomp.NOTIFY, "sendmsg")
            syscalls.add_rule(seccomp.NOTIFY, "sendmmsg")
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            syscalls.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        syscalls.load()
    except (OSError, RuntimeError, ValueError) as err:
        raise SandboxUnavailable(f"the seccomp filter could not be loaded: {err}") from None
    if supervisor is not None:
        supervisor.start()


def _endpoint_addresses(endpoints) -> set:
    """(ip, port) of every endpoint URL; SandboxUnavailable for a host name (nothing here resolves one)."""
    found = set()
    for url in endpoints:
        parts = urllib.parse.urlsplit(url)
        try:
            ip = ipaddress.ip_address(parts.hostname or "")
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise SandboxUnavailable(f"{url}: a sandboxed process connects to IP addresses only, "
                                     "it never resolves a host name") from None
        found.add((str(ip), port))
    return found


class _ConnectSupervisor:
    """Answers the filter's questions: may this connect() or send reach that address?"""

    def __init__(self, seccomp, syscalls, addresses: set):
        import threading

        self.seccomp, self.syscalls, self.addresses = seccomp, syscalls, addresses
        self.memory = os.open("/proc/self/mem", os.O_RDONLY)
        self.numbers = {seccomp.resolve_syscall(seccomp.Arch.NATIVE, name): name
                        for name in ("connect", "sendto", "sendmsg", "sendmmsg")}
        # Created before the filter is loaded, so the filter does not apply to this thread.
        self.thread = threading.Thread(target=self._serve, daemon=True, name="ijdp-connect-supervisor")
        self._loaded = threading.Event()
        self.thread.start()

    def start(self) -> None:
        self._loaded.set()

    def _read(self, address: int, length: int) -> bytes:
        return os.pread(self.memory, length, address) if address and length > 0 else b""

    def _destinations(self, name: str, args: list) -> list:
        """The socket addresses a call names (an empty bytes where it names none)."""
        if name == "connect":
            return [self._read(args[1], min(args[2], 128))]
        if name == "sendto":
            return [self._read(args[4], min(args[5], 128))]
        headers = [args[1]] if name == "sendmsg" else [args[1] + 64 * i for i in range(min(args[2], 64))]
        found = []
        for header in headers:
            name_pointer, name_length = struct.unpack("QI", self._read(header, 12))
            found.append(self._read(name_pointer, min(name_length, 128)))
        return found

    def allowed(self, sockaddr: bytes) -> bool:
        if not sockaddr:
            return True          # a connected socket: its address was checked at connect()
        family = struct.unpack("H", sockaddr[:2])[0]
        if family == socket.AF_INET and len(sockaddr) >= 8:
            port = struct.unpack("!H", sockaddr[2:4])[0]
            return (socket.inet_ntop(socket.AF_INET, sockaddr[4:8]), port) in self.addresses
        if family == socket.AF_INET6 and len(sockaddr) >= 24:
            port = struct.unpack("!H", sockaddr[2:4])[0]
            host = socket.inet_ntop(socket.AF_INET6, sockaddr[8:24])
            mapped = host[len("::ffff:"):] if host.startswith("::ffff:") and "." in host else host
            return (host, port) in self.addresses or (mapped, port) in self.addresses
        return False

    def _serve(self) -> None:
        self._loaded.wait()
        seccomp = self.seccomp
        while True:
            try:
                notice = self.syscalls.receive_notify()
            except (OSError, RuntimeError, ValueError):
                continue
            try:
                ok = all(self.allowed(d) for d in self._destinations(self.numbers.get(notice.syscall, ""),
                                                                    notice.syscall_args))
            except (OSError, struct.error, ValueError):
                ok = False
            # CONTINUE lets the kernel run the call as made; otherwise it fails with EACCES.
            response = seccomp.NotificationResponse(error=0 if ok else -errno.EACCES, flags=1 if ok else 0,
                                                    id=notice.id, val=0)
            try:
                self.syscalls.respond_notify(response)
            except (OSError, RuntimeError, ValueError):
                pass   # the caller was interrupted meanwhile


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
