"""A loopback NNTP server for the Usenet tests: enough of RFC 3977/4643 for NZBGet.

It answers the greeting, CAPABILITIES, MODE READER, AUTHINFO USER/PASS, GROUP, DATE,
ARTICLE/BODY/HEAD/STAT by ``<message-id>`` and QUIT. Tests post articles into it, and
can :meth:`NntpServer.drop` one (430 no such article) or :meth:`NntpServer.corrupt` one
(its CRC no longer matches) to make a download fail.
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import ClassVar

GREETING = b"201 hauler-test NNTP server ready (no posting)"


@dataclass
class Article:
    """A stored article: headers and the (yEnc) body, CRLF line ends."""

    group: str
    subject: str
    body: bytes
    poster: str = "hauler-test <test@hauler.invalid>"

    def head(self, message_id: str) -> bytes:
        return (
            f"Path: hauler-test\r\nFrom: {self.poster}\r\nNewsgroups: {self.group}\r\n"
            f"Subject: {self.subject}\r\nMessage-ID: <{message_id}>\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
        ).encode()


@dataclass
class NntpServer:
    """Serves ``articles`` on 127.0.0.1:<port>; needs AUTHINFO when ``username`` is set."""

    username: str = "hauler"
    password: str = "usenet-secret"
    articles: dict[str, Article] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # message-ids asked for, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> NntpServer:
        handler = type("BoundNntpHandler", (NntpHandler,), {"server_state": self})
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.tcp.daemon_threads = True
        threading.Thread(target=self.tcp.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return int(self.tcp.server_address[1])

    def stop(self) -> None:
        self.tcp.shutdown()
        self.tcp.server_close()

    def post(self, message_id: str, article: Article) -> None:
        with self.lock:
            self.articles[message_id] = article

    def drop(self, message_id: str) -> None:
        """Forget an article: asking for it answers 430."""
        with self.lock:
            self.articles.pop(message_id, None)

    def corrupt(self, message_id: str) -> None:
        """Flip bits in the middle of an article's data so its CRC no longer matches."""
        with self.lock:
            article = self.articles[message_id]
            lines = article.body.split(b"\r\n")
            middle = len(lines) // 2
            lines[middle] = lines[middle].replace(b"a", b"b").replace(b"x", b"y") + b"zz"
            article.body = b"\r\n".join(lines)

    def get(self, message_id: str) -> Article | None:
        with self.lock:
            self.requests.append(message_id)
            return self.articles.get(message_id)

    def group_size(self, group: str) -> int:
        with self.lock:
            return sum(1 for a in self.articles.values() if a.group == group)


class NntpHandler(socketserver.StreamRequestHandler):
    """One reader connection: a command per line, a status line (and data) per answer."""

    server_state: ClassVar[NntpServer]
    authenticated = False
    user = ""

    def handle(self) -> None:
        self._send(GREETING)
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            command, _, argument = raw.decode(errors="replace").strip().partition(" ")
            if not self._dispatch(command.upper(), argument.strip()):
                return

    def _dispatch(self, command: str, argument: str) -> bool:
        """Answer one command; False ends the session."""
        if command == "QUIT":
            self._send(b"205 closing connection")
            return False
        simple = {
            "CAPABILITIES": self._capabilities,
            "MODE": lambda _: self._send(b"201 reader mode, posting prohibited"),
            "AUTHINFO": self._authinfo,
            "DATE": lambda _: self._send(b"111 20240101000000"),
        }
        if command in simple:
            simple[command](argument)
        elif command in ("GROUP", "ARTICLE", "BODY", "HEAD", "STAT"):
            self._reader_command(command, argument)
        else:
            self._send(b"500 unknown command")
        return True

    def _capabilities(self, _: str) -> None:
        self._send(b"101 capability list follows")
        self._data(b"VERSION 2\r\nREADER\r\nAUTHINFO USER\r\n")

    def _authinfo(self, argument: str) -> None:
        kind, _, value = argument.partition(" ")
        state = self.server_state
        if kind.upper() == "USER":
            self.user = value
            self._send(b"381 password required")
        elif kind.upper() == "PASS" and (self.user, value) == (state.username, state.password):
            self.authenticated = True
            self._send(b"281 authentication accepted")
        else:
            self._send(b"481 authentication failed")

    def _reader_command(self, command: str, argument: str) -> None:
        if self.server_state.username and not self.authenticated:
            self._send(b"480 authentication required")
        elif command == "GROUP":
            count = self.server_state.group_size(argument)
            self._send(f"211 {count} 1 {count} {argument}".encode())
        else:
            self._article(command, argument)

    def _article(self, command: str, argument: str) -> None:
        message_id = argument.strip().strip("<>")
        article = self.server_state.get(message_id) if argument.startswith("<") else None
        if article is None:
            self._send(b"430 no such article")
            return
        code = {"ARTICLE": 220, "HEAD": 221, "BODY": 222, "STAT": 223}[command]
        self._send(f"{code} 0 <{message_id}>".encode())
        head, body = article.head(message_id), article.body
        if command == "ARTICLE":
            self._data(head + b"\r\n" + body)
        elif command == "HEAD":
            self._data(head)
        elif command == "BODY":
            self._data(body)

    def _send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def _data(self, text: bytes) -> None:
        """A multi-line block: dot-stuffed, ended by a line with a single dot."""
        lines = text.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
        self.wfile.write(b"\r\n".join(stuffed) + b"\r\n.\r\n")
