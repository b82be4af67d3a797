"""harness — real parts for the integration tests.

Starts a private mosquitto on a free loopback port (the loopback variant of
deploy/mosquitto.conf), the real gateway binary on a real SQLite file, and
gives the tests ways to publish (mqttlite), read /metrics and /healthz, and
query the database. Everything it starts, it stops. Stdlib only.

Environment (set by ctest): PW_BUILD_DIR, PW_SOURCE_DIR, PW_SHARED_DIR.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqttlite  # noqa: E402

SOURCE_DIR = os.environ.get("PW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("PW_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
SHARED_DIR = os.environ.get("PW_SHARED_DIR") or os.path.join(SOURCE_DIR, "..", "shared")
PITWALL = os.path.join(BUILD_DIR, "pitwall")
PITWALL_SIM = os.path.join(BUILD_DIR, "pitwall-sim")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Workdir:
    """A temporary directory removed at exit unless PW_KEEP_TMP is set."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"pitwall-{name}-")

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        if os.environ.get("PW_KEEP_TMP"):
            print(f"kept {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


class Broker:
    """A private mosquitto on 127.0.0.1:<free port>, persistent across restarts."""

    def __init__(self, workdir, message_size_limit=2 * 1024 * 1024):
        self.dir = workdir
        self.port = free_port()
        self.conf = workdir.file("mosquitto.conf")
        # mosquitto started as root drops to its own user: let it reach and
        # write its persistence directory, or a restart silently loses sessions
        os.makedirs(workdir.file("mosquitto-data"), exist_ok=True)
        os.chmod(workdir.path, 0o755)
        os.chmod(workdir.file("mosquitto-data"), 0o777)
        with open(os.path.join(SOURCE_DIR, "tests", "integration", "mosquitto-test.conf")) as f:
            template = f.read()
        with open(self.conf, "w") as f:
            f.write(template.replace("@PORT@", str(self.port))
                    .replace("@DATA_DIR@", workdir.file("mosquitto-data") + "/")
                    .replace("@MESSAGE_SIZE_LIMIT@", str(message_size_limit)))
        self.proc = None
        self.log = open(workdir.file("mosquitto.log"), "ab")
        self.start()

    @property
    def uri(self):
        return f"tcp://127.0.0.1:{self.port}"

    def start(self):
        if self.proc and self.proc.poll() is None:
            # a second one would fail to bind and leave the first one orphaned
            raise RuntimeError("the broker is running already")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def client(self, client_id, clean=True, **kw):
        return mqttlite.Client("127.0.0.1", self.port, client_id, clean=clean, **kw)


class Gateway:
    """The real pitwall binary against a broker and a database file."""

    def __init__(self, workdir, broker, site="test", db=None, extra=(), config=None):
        self.dir = workdir
        self.broker = broker
        self.site = site
        self.db = db or workdir.file("pitwall.db")
        self.http_port = free_port()
        self.extra = list(extra)
        self.config = config
        self.proc = None
        self.log_path = workdir.file("gateway.log")
        self.starts = 0

    def args(self):
        a = [PITWALL, "--db", self.db, "--broker", self.broker.uri,
             "--http", f"127.0.0.1:{self.http_port}", "--site", self.site,
             "--log-level", os.environ.get("PW_GATEWAY_LOG", "info")]
        if self.config:
            path = self.dir.file("gateway.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            a += ["--config", path]
        return a + self.extra

    def start(self, wait_connected=True):
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"--- start {self.starts}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}; "
                                   f"see {self.log_path}:\n{self.tail()}")
            try:
                h = self.healthz()
                if not wait_connected or h.get("mqtt") == "connected":
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"gateway not healthy; log:\n{self.tail()}")

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def stop(self):
        """SIGTERM, as systemd would; returns the exit status."""
        return self.kill(signal.SIGTERM)

    def tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def get(self, path, timeout=5):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}",
                                    timeout=timeout) as r:
            return r.status, r.headers, r.read()

    def healthz(self):
        try:
            _, _, body = self.get("/healthz", timeout=2)
        except urllib.error.HTTPError as e:
            body = e.read()
        return json.loads(body)

    def metrics(self):
        """Parses /metrics into {'name{labels}': value}."""
        _, _, body = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
        return out

    def metric(self, key, default=0.0):
        return self.metrics().get(key, default)

    def wait_metric(self, key, at_least, timeout=120):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"gateway died ({self.proc.returncode}):\n{self.tail()}")
            value = self.metric(key)
            if value >= at_least:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{key} = {value}, waited for {at_least}")

    def wait_query(self, sql, expected, params=(), timeout=10):
        """Polls a query until it returns `expected`: SQLite sees a message at
        the group commit (<= 50 ms), the metrics when it is journaled."""
        deadline = time.time() + timeout
        rows = None
        while time.time() < deadline:
            rows = self.query(sql, params)
            if rows == expected:
                return rows
            time.sleep(0.05)
        raise AssertionError(f"{sql}: {rows}, expected {expected}")

    def query(self, sql, params=()):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()


def now_ms():
    return int(time.time() * 1000)


VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_TRANSLIT = {c: v for c, v in zip("ABCDEFGHJKLMNPRSTUVWXYZ",
                                  [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9])}
_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def make_vin(n):
    """A valid VIN (ISO 3779 check digit) for vehicle number n."""
    body = f"LSVTEST0X{n:08d}"[:17]
    total = sum((int(c) if c.isdigit() else _TRANSLIT[c]) * w for c, w in zip(body, _WEIGHTS))
    check = total % 11
    return body[:8] + ("X" if check == 10 else str(check)) + body[9:]


def telemetry(vin, seq, ts, **fields):
    obj = {"v": 1, "vin": vin, "seq": seq, "ts": ts}
    obj.update(fields)
    return obj


def topic(vin, kind="telemetry"):
    return f"pitwall/v1/vehicles/{vin}/{kind}"


def run_main(test_functions):
    """Runs each test function; prints a closing 'N passed, M failed' line."""
    passed = failed = 0
    for fn in test_functions:
        name = fn.__name__
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"PASS {name} ({time.time() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            import traceback
            traceback.print_exc()
            print(f"FAIL {name}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
