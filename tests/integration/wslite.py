"""wslite — a small RFC 6455 WebSocket client for the integration tests (stdlib only).

Opens /ws on the gateway with the headers a browser would send (Origin,
Cookie, Sec-WebSocket-Protocol), masks what it sends, reads text, binary,
close, ping and pong frames (answering pings, joining fragmented messages),
and reports a refused handshake with its HTTP status. `recv_buffer` lets a
test shrink the socket's receive buffer to play a client that never reads.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeRefused(Exception):
    def __init__(self, status, head):
        super().__init__(f"handshake refused: HTTP {status}")
        self.status = status
        self.head = head


class Closed(Exception):
    """The server closed the connection: `code` (None if no close frame) and `reason`."""

    def __init__(self, code, reason=""):
        super().__init__(f"closed: {code} {reason}")
        self.code = code
        self.reason = reason


class Client:
    def __init__(self, host, port, path="/ws", protocol=None, origin=None, cookie=None,
                 timeout=10, recv_buffer=None, host_header=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if recv_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.protocol = None
        self.close_code = None
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1",
                 f"Host: {host_header or f'{host}:{port}'}",
                 "Upgrade: websocket",
                 "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        if origin:
            lines.append(f"Origin: {origin}")
        if cookie:
            lines.append(f"Cookie: {cookie}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_head()
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers = {}
        for h in header_lines:
            if ":" in h:
                k, v = h.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if status != 101:
            self.sock.close()
            raise HandshakeRefused(status, head)
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            self.sock.close()
            raise RuntimeError("bad Sec-WebSocket-Accept")
        self.protocol = headers.get("sec-websocket-protocol")

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(4096)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if not chunk:
                # closed before answering: a refusal without a status line
                raise HandshakeRefused(0, self.buf.decode(errors="replace"))
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode(errors="replace")

    def _fill(self, n, deadline):
        """Reads until self.buf holds n bytes; consumes nothing, so a timeout
        never leaves half a frame behind."""
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("no frame in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed(self.close_code)
            self.buf += chunk

    def _frame(self, deadline):
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        fin, op = b0 & 0x80, b0 & 0x0F
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._fill(4, deadline)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10, deadline)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        mask = None
        if b1 & 0x80:
            self._fill(at + 4, deadline)
            mask, at = self.buf[at:at + 4], at + 4
        self._fill(at + n, deadline)
        data, self.buf = self.buf[at:at + n], self.buf[at + n:]
        if mask:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return bool(fin), op, data

    def send_frame(self, op, data, fin=True):
        """A masked frame, as a client must send."""
        mask = os.urandom(4)
        n = len(data)
        head = bytes([(0x80 if fin else 0) | op])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def ping(self, data=b"p"):
        self.send_frame(OP_PING, data)

    def recv(self, timeout=10):
        """The next whole text or binary message (str or bytes); pongs are
        returned as ('pong', data). Raises Closed on a close frame or EOF."""
        deadline = time.time() + timeout
        parts, first_op = [], None
        while True:
            fin, op, data = self._frame(deadline)
            if op == OP_PING:
                self.send_frame(OP_PONG, data)
                continue
            if op == OP_PONG:
                return ("pong", data)
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                self.close_code = code
                try:
                    self.send_frame(OP_CLOSE, data[:2])
                except OSError:
                    pass
                raise Closed(code, data[2:].decode(errors="replace"))
            if op in (OP_TEXT, OP_BINARY):
                first_op, parts = op, [data]
            elif op == OP_CONT:
                parts.append(data)
            if fin:
                msg = b"".join(parts)
                return msg.decode() if first_op == OP_TEXT else msg

    def recv_json(self, timeout=10):
        while True:
            m = self.recv(timeout)
            if isinstance(m, tuple):
                continue
            return json.loads(m)

    def recv_until(self, pred, timeout=10):
        """JSON frames until one satisfies pred; returns (that frame, all seen)."""
        deadline = time.time() + timeout
        seen = []
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"no matching frame in {timeout}s; saw {len(seen)}: "
                                   f"{[f.get('type') for f in seen][-20:]}")
            f = self.recv_json(left)
            seen.append(f)
            if pred(f):
                return f, seen

    def close(self, code=1000):
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()
