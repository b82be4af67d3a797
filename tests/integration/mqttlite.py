"""mqttlite — a small MQTT 3.1.1 client for the integration tests (stdlib only).

Talks to the real mosquitto the tests start. It publishes at QoS 0/1 with a
window of messages in flight, survives a broker restart (reconnects and
resends what was not acknowledged, with the DUP flag, on a persistent
session), and subscribes to collect what the gateway publishes.
"""
import select
import socket
import struct
import time


def _enc_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class Client:
    def __init__(self, host, port, client_id, clean=True, keepalive=60, will=None,
                 username=None, password=None):
        self.host, self.port, self.client_id = host, port, client_id
        self.clean, self.keepalive, self.will = clean, keepalive, will
        self.username, self.password = username, password
        self.sock = None
        self.buf = b""
        self.next_id = 1
        self.inflight = {}  # msg id -> (topic, payload, qos, retain)
        self.received = []  # (topic, payload, retain)
        self.connect()

    # -- connection ---------------------------------------------------------
    def connect(self, timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.create_connection((self.host, self.port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        flags = 0x02 if self.clean else 0
        payload = _str(self.client_id)
        if self.will:
            topic, msg, qos, retain = self.will
            flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
            payload += _str(topic) + _str(msg)
        if self.username is not None:
            flags |= 0x80
            payload += _str(self.username)
            if self.password is not None:
                flags |= 0x40
                payload += _str(self.password)
        var = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive)
        self._send(0x10, var + payload)
        header, body = self._read_packet(timeout=10)
        if header & 0xF0 != 0x20 or body[1] != 0:
            raise ConnectionError(f"CONNACK refused: {body!r}")
        # resend what the broker never acknowledged
        for mid, (topic, payload, qos, retain) in sorted(self.inflight.items()):
            self._send_publish(mid, topic, payload, qos, retain, dup=True)

    def reconnect(self, timeout=60):
        try:
            self.sock.close()
        except OSError:
            pass
        deadline = time.time() + timeout
        while True:
            try:
                self.connect(timeout=2)
                return
            except (OSError, ConnectionError):
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def close(self):
        try:
            self._send(0xE0, b"")
            self.sock.close()
        except OSError:
            pass

    # -- wire ---------------------------------------------------------------
    def _send(self, header, body):
        self.sock.sendall(bytes([header]) + _enc_len(len(body)) + body)

    def _fill(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("broker closed the connection")
        self.buf += data
        return True

    def _try_parse(self):
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(self.buf) < i + length:
            return None
        header = self.buf[0]
        body = self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return header, body

    def _read_packet(self, timeout):
        deadline = time.time() + timeout
        while True:
            p = self._try_parse()
            if p:
                return p
            left = deadline - time.time()
            if left <= 0 or not self._fill(left):
                raise TimeoutError("no packet from broker")

    def _handle(self, header, body):
        ptype = header & 0xF0
        if ptype == 0x40:  # PUBACK
            mid = struct.unpack("!H", body[:2])[0]
            self.inflight.pop(mid, None)
        elif ptype == 0x30:  # PUBLISH
            qos = (header >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + tlen].decode("utf-8", "replace")
            pos = 2 + tlen
            if qos:
                mid = struct.unpack("!H", body[pos:pos + 2])[0]
                pos += 2
                self._send(0x40, struct.pack("!H", mid))
            self.received.append((topic, body[pos:], bool(header & 1)))
        # SUBACK (0x90), PINGRESP (0xD0): nothing to do

    def poll(self, timeout=0.0):
        """Reads and handles whatever arrived within `timeout` seconds."""
        deadline = time.time() + timeout
        while True:
            p = self._try_parse()
            while p:
                self._handle(*p)
                p = self._try_parse()
            left = deadline - time.time()
            if left <= 0:
                r, _, _ = select.select([self.sock], [], [], 0)
                if not r:
                    return
                left = 0
            if not self._fill(left):
                return

    # -- API ----------------------------------------------------------------
    def _send_publish(self, mid, topic, payload, qos, retain, dup=False):
        header = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
        body = _str(topic) + (struct.pack("!H", mid) if qos else b"") + payload
        self._send(header, body)

    def _alloc_id(self):
        while True:
            mid = self.next_id
            self.next_id = self.next_id % 65535 + 1
            if mid not in self.inflight:
                return mid

    def publish(self, topic, payload, qos=1, retain=False, window=500):
        """Publishes; at QoS 1 keeps at most `window` messages unacknowledged."""
        if isinstance(payload, str):
            payload = payload.encode()
        if qos == 0:
            self._send_publish(0, topic, payload, 0, retain)
            return
        # in flight (so a reconnect resends it) before waiting for the window:
        # a connection lost while waiting must not lose this message
        mid = self._alloc_id()
        self.inflight[mid] = (topic, payload, qos, retain)
        while len(self.inflight) > window:
            self.poll(0.05)
        self._send_publish(mid, topic, payload, qos, retain)
        self.poll(0)

    def wait_acked(self, timeout=60):
        deadline = time.time() + timeout
        while self.inflight:
            if time.time() > deadline:
                raise TimeoutError(f"{len(self.inflight)} messages not acknowledged")
            self.poll(0.05)

    def subscribe(self, topic, qos=1):
        mid = self._alloc_id()
        self._send(0x82, struct.pack("!H", mid) + _str(topic) + bytes([qos]))
        deadline = time.time() + 10
        while time.time() < deadline:
            header, body = self._read_packet(timeout=10)
            if header & 0xF0 == 0x90:
                return
            self._handle(header, body)
        raise TimeoutError("no SUBACK")
