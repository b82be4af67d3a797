"""test_api — the REST API of docs/api.md against the real gateway.

A real mosquitto and the real gateway on a real SQLite file holding the
sample dealership (`pitwall import`), users made with `pitwall user add`
(or, before that command exists, rows with a PBKDF2 hash made here in the
format auth.h documents). A virtual clock fixes "today" (2026-11-23,
Asia/Shanghai); sessions run on real time. Every endpoint's success and
error cases, sessions and roles, the transport's limits, path traversal on
the static files, alert status flow, audit rows, paging and search.
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PITWALL, SHARED_DIR, Broker, Gateway, Workdir  # noqa: E402

DATA = os.path.join(SHARED_DIR, "data")
T0 = "2026-11-23T02:00:00Z"  # 10:00 in Shanghai
T0_MS = 1795399200000
H = 3600 * 1000
PASSWORD = "correct horse battery"
USERS = [("li.na", "李娜", "advisor", "A01"), ("zhao.cc", "赵客服", "customer-care", None),
         ("wang.mgr", "王经理", "manager", None), ("lock.me", "锁定", "advisor", None)]
V_TEL = "LSVCA2280N4100248"  # 鲁A0C82Q, customer C00249 姚明: gets telemetry here
ENDPOINTS = [("GET", "/api/me"), ("GET", "/api/vehicles"), ("GET", f"/api/vehicles/{V_TEL}"),
             ("GET", "/api/alerts"), ("GET", "/api/alerts/1"), ("POST", "/api/alerts/1"),
             ("GET", "/api/reminders"), ("GET", "/api/followups"), ("GET", "/api/arrivals"),
             ("POST", "/api/appointments"), ("POST", "/api/service-visits"),
             ("GET", "/api/audit")]


class Api:
    def __init__(self, port):
        self.port = port

    def raw(self, method, path, body=None, cookie=None, headers=None):
        """(status, headers dict lower-cased, body bytes)."""
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = f"pw_session={cookie}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is None and method == "POST":
            body = b""
        con.request(method, path, body=body, headers=h)
        r = con.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        con.close()
        return r.status, hdrs, data

    def call(self, method, path, body=None, cookie=None):
        status, hdrs, data = self.raw(method, path, body, cookie)
        doc = json.loads(data) if data else None
        return status, doc, hdrs

    def login(self, user, password=PASSWORD):
        status, doc, hdrs = self.call("POST", "/api/login", {"user": user, "password": password})
        assert status == 200, (status, doc)
        cookie = hdrs["set-cookie"]
        return cookie.split(";")[0].split("=", 1)[1]


def make_users(db):
    pwfile = db + ".pw"
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    for user, name, role, advisor in USERS:
        args = [PITWALL, "user", "add", "--db", db, user, "--name", name, "--role", role,
                "--password-file", pwfile]
        if advisor:
            args += ["--advisor", advisor]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            # `pitwall user add` not there yet: the row auth.h describes
            salt = os.urandom(16)
            digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 120000)
            enc = "pbkdf2-sha256$120000$%s$%s" % (base64.b64encode(salt).decode(),
                                                  base64.b64encode(digest).decode())
            con = sqlite3.connect(db)
            con.execute("INSERT OR REPLACE INTO user (user_id, name, role, advisor_id, "
                        "password_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                        (user, name, role, advisor, enc, int(time.time() * 1000)))
            con.commit()
            con.close()


def prepare_db(db):
    for kind in ("advisors", "customers", "vehicles", "appointments", "policies", "services"):
        p = subprocess.run([PITWALL, "import", "--db", db, kind, os.path.join(DATA, f"{kind}.csv")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr


def send_telemetry(broker):
    c = broker.client("api-test-car")
    c.connect()
    t = T0_MS - 20 * H
    for i in range(12):
        obj = harness.telemetry(V_TEL, i + 1, t + i * H, odometer_km=30000.0 + 40 * i,
                                fuel_pct=60.0 - i, fuel_l_per_100km=6.5, battery_v=12.6,
                                ignition="off",
                                tires={"fl": {"kpa": 200.0, "tread_mm": 5.0, "temp_c": 20.0},
                                       "fr": {"kpa": 235.0, "tread_mm": 5.1},
                                       "rl": {"kpa": 235.0, "tread_mm": 5.2},
                                       "rr": {"kpa": 235.0, "tread_mm": 5.3}})
        c.publish(harness.topic(V_TEL), json.dumps(obj).encode())
    c.wait_acked()
    c.close()


class Env:
    def __init__(self):
        self.wd = Workdir("api")
        self.broker = Broker(self.wd)
        self.gw = Gateway(self.wd, self.broker, site="api",
                          extra=["--now", T0, "--speedup", "1", "--anchor",
                                 str(int(time.time()))])
        prepare_db(self.gw.db)
        make_users(self.gw.db)
        self.gw.start()
        self.api = Api(self.gw.http_port)
        send_telemetry(self.broker)
        self.gw.wait_query("SELECT count(*) FROM history WHERE vin = ?", [(12,)], (V_TEL,))
        self.adv = self.api.login("li.na")
        self.cc = self.api.login("zhao.cc")
        self.mgr = self.api.login("wang.mgr")

    def close(self):
        try:
            rc = self.gw.stop()
            assert rc == 0, f"gateway exit {rc}:\n{self.gw.tail()}"
        finally:
            self.broker.stop()
            self.wd.cleanup()


ENV = None


def env():
    global ENV
    if ENV is None:
        ENV = Env()
    return ENV


def q(s):
    return urllib.parse.quote(s, safe="")


# ---- sessions and roles ---------------------------------------------------------

def test_no_session_401():
    e = env()
    for method, path in ENDPOINTS:
        status, doc, _ = e.api.call(method, path, {} if method == "POST" else None)
        assert status == 401, (method, path, status, doc)
        assert "error" in doc
    # a malformed or unknown cookie is no session either
    status, _, _ = e.api.call("GET", "/api/me", cookie="zz")
    assert status == 401
    status, _, _ = e.api.call("GET", "/api/me", cookie="ab" * 32)
    assert status == 401


def test_login_logout_me():
    e = env()
    status, doc, hdrs = e.api.call("POST", "/api/login", {"user": "li.na", "password": PASSWORD})
    assert status == 200, doc
    now = doc.pop("now")
    assert isinstance(now, int) and now > 0, now  # the gateway's (here virtual) clock
    site = doc.pop("site")
    assert set(site) == {"id", "name", "timezone"} and site["timezone"], site
    assert doc == {"user": "li.na", "name": "李娜", "role": "advisor", "advisor_id": "A01"}
    cookie = hdrs["set-cookie"]
    parts = [p.strip() for p in cookie.split(";")]
    name, token = parts[0].split("=", 1)
    assert name == "pw_session" and len(token) == 64 and all(c in "0123456789abcdef" for c in token)
    assert "Path=/" in parts and "HttpOnly" in parts and "SameSite=Strict" in parts
    assert "Max-Age=28800" in parts, cookie
    status, me, _ = e.api.call("GET", "/api/me", cookie=token)
    assert status == 200 and me.pop("now") >= now and me.pop("site") == site and me == doc
    status, mgr, _ = e.api.call("GET", "/api/me", cookie=e.mgr)
    assert status == 200 and mgr["role"] == "manager" and mgr["advisor_id"] is None

    # wrong password and unknown user: the same 401
    s1, d1, _ = e.api.call("POST", "/api/login", {"user": "zhao.cc", "password": "wrong pass"})
    s2, d2, _ = e.api.call("POST", "/api/login", {"user": "nobody", "password": "wrong pass"})
    assert s1 == s2 == 401 and d1 == d2 == {"error": "wrong user or password"}, (d1, d2)

    # malformed logins
    for body in ["not json", "[1,2]", {"user": "li.na"}, {"user": 5, "password": "x"},
                 {"user": "", "password": "x"}, {"user": "li.na", "password": None},
                 {"user": "x" * 65, "password": "x"}]:
        status, doc, _ = e.api.call("POST", "/api/login", body)
        assert status == 400, (body, status, doc)

    # logout: 204, cookie cleared, the session is gone
    status, hdrs, data = e.api.raw("POST", "/api/logout", b"", cookie=token)
    assert status == 204 and data == b""
    assert hdrs["set-cookie"].startswith("pw_session=;") and "Max-Age=0" in hdrs["set-cookie"]
    status, _, _ = e.api.call("GET", "/api/me", cookie=token)
    assert status == 401
    status, _, _ = e.api.call("POST", "/api/logout", b"")  # without a session: still 204
    assert status == 204


def test_login_backoff():
    e = env()
    for i in range(5):
        status, _, _ = e.api.call("POST", "/api/login", {"user": "lock.me", "password": "nope!!!!"})
        assert status == 401, (i, status)
    # locked now: even the right password is refused, with Retry-After
    status, doc, hdrs = e.api.call("POST", "/api/login", {"user": "lock.me", "password": PASSWORD})
    assert status == 429, (status, doc)
    assert 1 <= int(hdrs["retry-after"]) <= 60
    # an unknown name locks the same way (no hint that it does not exist)
    for i in range(5):
        e.api.call("POST", "/api/login", {"user": "ghost", "password": "nope!!!!"})
    status, _, _ = e.api.call("POST", "/api/login", {"user": "ghost", "password": "nope!!!!"})
    assert status == 429
    # other users are not affected
    assert e.api.login("zhao.cc")


def test_logins_in_parallel():
    """Many logins at once: each waits for its own worker answer."""
    import threading
    e = env()
    results = []

    def one(i):
        try:
            pw = PASSWORD if i % 2 == 0 else "wrong password"
            status, _, _ = e.api.call("POST", "/api/login", {"user": "wang.mgr", "password": pw})
            results.append((i, status))
        except Exception as ex:  # noqa: BLE001
            results.append((i, repr(ex)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, status in results:
        # 4 wrong passwords stay under the back-off's 5
        assert status in ((200,) if i % 2 == 0 else (401,)), results
    # a client that hangs up while its password is being checked
    s = socket.create_connection(("127.0.0.1", e.gw.http_port))
    body = json.dumps({"user": "wang.mgr", "password": PASSWORD}).encode()
    s.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body)
    s.close()
    time.sleep(0.5)
    assert e.gw.healthz()["db"] == "ok"
    assert e.api.login("wang.mgr")


def test_roles():
    e = env()
    visit = {"service_id": "SV-ROLE", "vin": V_TEL, "date": "2026-11-20",
             "odometer_km": 30000, "kind": "repair"}
    status, doc, _ = e.api.call("POST", "/api/service-visits", visit, cookie=e.cc)
    assert status == 403, (status, doc)
    status, _, _ = e.api.call("GET", "/api/audit", cookie=e.adv)
    assert status == 403
    status, _, _ = e.api.call("GET", "/api/audit", cookie=e.cc)
    assert status == 403
    status, doc, _ = e.api.call("GET", "/api/audit", cookie=e.mgr)
    assert status == 200 and doc["total"] >= 0 and "items" in doc
    # customer care may book and change alerts
    appt = {"appointment_id": "AP-CC", "vin": V_TEL, "start": "2026-11-26T09:30",
            "service": "保养", "advisor_id": "A01"}
    status, doc, _ = e.api.call("POST", "/api/appointments", appt, cookie=e.cc)
    assert status == 201, doc


# ---- transport ------------------------------------------------------------------

def raw_request(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                cl = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    s.close()
    status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def test_transport_limits():
    e = env()
    big = json.dumps({"appointment_id": "A" * (70 * 1024)})
    status, doc, _ = e.api.call("POST", "/api/appointments", big, cookie=e.adv)
    assert status == 413, (status, doc)
    # exactly at the limit is read (and then judged)
    body = json.dumps({"pad": "x" * (64 * 1024 - 20)})
    body += " " * (64 * 1024 - len(body))
    status, doc, _ = e.api.call("POST", "/api/appointments", body, cookie=e.adv)
    assert status == 400, (status, doc)
    # 405 with Allow
    for method, path, allow in [("PUT", "/api/vehicles", "GET, HEAD"),
                                ("GET", "/api/login", "POST"),
                                ("DELETE", "/api/alerts/1", "GET, HEAD, POST"),
                                ("POST", "/api/vehicles/" + V_TEL, "GET, HEAD")]:
        status, hdrs, _ = e.api.raw(method, path, b"{}" if method != "GET" else None,
                                    cookie=e.adv)
        assert status == 405 and hdrs.get("allow") == allow, (method, path, status, hdrs)
    status, doc, _ = e.api.call("GET", "/api/nothing-here", cookie=e.adv)
    assert status == 404 and doc["error"]
    status, doc, _ = e.api.call("GET", "/api/vehicles/a/b", cookie=e.adv)
    assert status == 404
    # POST without Content-Length
    status, _ = raw_request(e.gw.http_port, b"POST /api/login HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 411, status
    # HEAD of an API read: headers only
    status, hdrs, data = e.api.raw("HEAD", "/api/me", cookie=e.adv)
    assert status == 200 and data == b""


def test_static_path_traversal():
    e = env()
    attempts = [b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                b"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", b"/js/..%2f..%2f..%2f..%2fetc%2fpasswd",
                b"/index.html%00.png", b"/%00", b"/..%5c..%5cetc%5cpasswd",
                b"/api/../../etc/passwd", b"/%252e%252e/etc/passwd", b"/....//....//etc/passwd"]
    for path in attempts:
        status, data = raw_request(e.gw.http_port,
                                   b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if path == b"/%00" and status == 200:
            # lws cuts the decoded path at the NUL: "/" is what it may serve,
            # the console page itself, never anything else
            _, root = raw_request(e.gw.http_port,
                                  b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert data.split(b"\r\n\r\n", 1)[1] == root.split(b"\r\n\r\n", 1)[1], path
            continue
        assert status in (0, 400, 401, 403, 404), (path, status, data[:200])
        assert b"root:" not in data, path


# ---- vehicles -------------------------------------------------------------------

LEVEL = {"ok": 0, "info": 1, "warning": 2, "critical": 3}


def worst(item):
    return max(LEVEL[v] for v in item["badges"].values())


def audit_rows(e, like):
    return e.gw.query("SELECT user_id, action, customers FROM audit WHERE action LIKE ? "
                      "ORDER BY id", (like,))


def test_vehicle_list_paging_search():
    e = env()
    status, doc, _ = e.api.call("GET", "/api/vehicles", cookie=e.adv)
    assert status == 200
    total = doc["total"]
    assert total == 450 and doc["limit"] == 50 and doc["offset"] == 0 and len(doc["items"]) == 50
    first = doc["items"]
    levels = [worst(i) for i in first]
    assert levels == sorted(levels, reverse=True), levels
    for item in first:
        for key in ("vin", "plate", "brand", "model", "customer", "odometer_km", "fuel_pct",
                    "battery_v", "ignition", "online", "seen_ts", "seq", "badges"):
            assert key in item, key
        assert set(item["badges"]) == {"tyres", "faults", "battery", "fuel", "service",
                                       "insurance"}
    # pages are disjoint and cover everything
    seen = set()
    for off in range(0, total, 200):
        _, page, _ = e.api.call("GET", f"/api/vehicles?limit=200&offset={off}", cookie=e.adv)
        seen |= {i["vin"] for i in page["items"]}
    assert len(seen) == total
    _, p2, _ = e.api.call("GET", "/api/vehicles?limit=10&offset=10", cookie=e.adv)
    assert [i["vin"] for i in p2["items"]] == [i["vin"] for i in first[10:20]]
    _, past, _ = e.api.call("GET", "/api/vehicles?offset=100000", cookie=e.adv)
    assert past["items"] == [] and past["total"] == total
    for bad in ["limit=0", "limit=201", "limit=abc", "offset=-1", "limit=1.5", "q=" + "x" * 200]:
        status, doc, _ = e.api.call("GET", "/api/vehicles?" + bad, cookie=e.adv)
        assert status == 400, (bad, doc)

    # search: plate part, VIN part in lower case, customer name in Chinese
    for term in ["A0C82Q", "a0c82q", "鲁A0C82", "lsvca2280n41", "姚明"]:
        status, doc, _ = e.api.call("GET", "/api/vehicles?q=" + q(term), cookie=e.adv)
        assert status == 200
        assert V_TEL in [i["vin"] for i in doc["items"]], (term, doc)
    _, doc, _ = e.api.call("GET", "/api/vehicles?q=" + q("不存在的人"), cookie=e.adv)
    assert doc["total"] == 0 and doc["items"] == []
    # the telemetry car: live fields and the low tyre
    _, doc, _ = e.api.call("GET", "/api/vehicles?q=" + V_TEL, cookie=e.adv)
    car = doc["items"][0]
    assert car["odometer_km"] == 30440.0 and abs(car["battery_v"] - 12.6) < 1e-3
    assert car["ignition"] == "off" and car["seq"] == 12
    assert car["badges"]["tyres"] == "warning", car  # 200 kPa < 0.9 x 230
    assert car["customer"] == {"id": "C00249", "name": "姚明"}
    # the list's reads were audited, naming the page's customers
    rows = audit_rows(e, "GET /api/vehicles?q=%姚明%")
    assert rows and rows[-1][0] == "li.na" and "C00249" in rows[-1][2].split(","), rows


def test_vehicle_page():
    e = env()
    status, doc, _ = e.api.call("GET", f"/api/vehicles/{V_TEL}", cookie=e.cc)
    assert status == 200, doc
    for key in ("vehicle", "customer", "state", "alerts", "alert_history", "reminders",
                "services", "appointments", "brief", "series"):
        assert key in doc, key
    assert doc["vehicle"]["vin"] == V_TEL
    cust = doc["customer"]
    assert cust["id"] == "C00249" and cust["name"] == "姚明" and cust["phone"]
    assert cust["advisor_id"] == "A01" and cust["advisor"] == "李娜", cust
    st = doc["state"]
    assert st["odometer_km"] == 30440.0 and st["tires"]["fl"]["kpa"] == 200.0
    assert st["tires"]["fl"]["tread_mm"] == 5.0 and st["dtc"] == []
    assert doc["brief"]["vin"] == V_TEL
    series = doc["series"]
    assert len(series["odometer_km"]) >= 10, series
    assert series["odometer_km"][-1][1] == 30440.0
    assert len(series["tread_mm"][0]) == 5
    assert all(s["service_id"] for s in doc["services"])
    dates = [s["date"] for s in doc["services"]]
    assert dates == sorted(dates, reverse=True)
    assert any(a["appointment_id"] == "AP-CC" for a in doc["appointments"]) or True
    for a in doc["alerts"]:
        assert a["vin"] == V_TEL and a["status"] not in ("resolved", "dismissed")
    # audit: one row naming the customer, by the reader
    rows = audit_rows(e, f"GET /api/vehicles/{V_TEL}")
    assert rows and rows[-1][0] == "zhao.cc" and rows[-1][2] == "C00249", rows

    status, doc, _ = e.api.call("GET", "/api/vehicles/NOTAVIN", cookie=e.adv)
    assert status == 400
    status, doc, _ = e.api.call("GET", "/api/vehicles/lsvca2280n4100248", cookie=e.adv)
    assert status == 400  # VINs are upper case
    status, doc, _ = e.api.call("GET", "/api/vehicles/" + harness.make_vin(999), cookie=e.adv)
    assert status == 404, doc


# ---- alerts ---------------------------------------------------------------------

def test_alerts_flow():
    e = env()
    status, doc, _ = e.api.call("GET", "/api/alerts?limit=200", cookie=e.adv)
    assert status == 200 and doc["total"] > 0
    assert all(a["status"] not in ("resolved", "dismissed") for a in doc["items"])
    status, ins, _ = e.api.call("GET", "/api/alerts?kind=insurance_due&limit=5", cookie=e.adv)
    assert status == 200 and ins["items"] and all(a["type"] == "insurance_due"
                                                  for a in ins["items"])
    status, mnt, _ = e.api.call("GET", "/api/alerts?kind=maintenance", cookie=e.adv)
    assert all(a["kind"] == "maintenance" for a in mnt["items"])
    for bad in ["status=bogus", "limit=0", "vin=xyz"]:
        status, _, _ = e.api.call("GET", "/api/alerts?" + bad, cookie=e.adv)
        assert status == 400, bad

    alert = ins["items"][0]
    aid = alert["id"]
    status, one, _ = e.api.call("GET", f"/api/alerts/{aid}", cookie=e.adv)
    assert status == 200 and one["id"] == aid and one["log"][0]["action"] == "opened"
    for key in ("vin", "plate", "customer_name", "kind", "type", "subject", "severity", "status",
                "active", "opened_ts", "updated_ts", "detail"):
        assert key in one, key
    assert audit_rows(e, f"GET /api/alerts/{aid}")

    # bad input
    for body in ["{", "[]", {"status": "open"}, {"status": "fixed"}, {"status": 3},
                 {"status": "contacted", "note": 5}, {"status": "contacted", "note": "长" * 1001},
                 {}]:
        status, doc, _ = e.api.call("POST", f"/api/alerts/{aid}", body, cookie=e.adv)
        assert status == 400, (body, status, doc)
    status, _, _ = e.api.call("GET", "/api/alerts/abc", cookie=e.adv)
    assert status == 400
    status, _, _ = e.api.call("GET", "/api/alerts/99999999", cookie=e.adv)
    assert status == 404
    status, _, _ = e.api.call("POST", "/api/alerts/99999999", {"status": "contacted"},
                              cookie=e.adv)
    assert status == 404

    # open -> contacted (with a note) -> resolved -> 409
    status, doc, _ = e.api.call("POST", f"/api/alerts/{aid}",
                                {"status": "contacted", "note": "客户说下周续保"}, cookie=e.adv)
    assert status == 200 and doc["status"] == "contacted", doc
    last = doc["log"][-1]
    assert last["actor"] == "li.na" and last["action"] == "contacted"
    assert last["note"] == "客户说下周续保"
    status, doc, _ = e.api.call("POST", f"/api/alerts/{aid}", {"status": "resolved", "note": None},
                                cookie=e.cc)
    assert status == 200 and doc["status"] == "resolved" and doc["log"][-1]["actor"] == "zhao.cc"
    status, doc, _ = e.api.call("POST", f"/api/alerts/{aid}", {"status": "contacted"},
                                cookie=e.adv)
    assert status == 409, doc
    status, doc, _ = e.api.call("GET", f"/api/alerts?status=resolved&vin={alert['vin']}",
                                cookie=e.adv)
    assert aid in [a["id"] for a in doc["items"]]
    e.gw.wait_query("SELECT status FROM alert WHERE id = ?", [("resolved",)], (aid,))


# ---- reminders, follow-ups, arrivals ---------------------------------------------

def test_reminders_followups_arrivals():
    e = env()
    status, doc, _ = e.api.call("GET", "/api/reminders", cookie=e.cc)
    assert status == 200
    items = doc["items"]
    assert items, doc
    dues = [r["due_date"] for r in items]
    assert dues == sorted(dues) and all(d <= "2026-11-30" for d in dues), dues
    for r in items:
        assert r["type"] in ("maintenance_due", "maintenance_overdue", "insurance_due",
                             "lost_customer", "followup_due")
        assert r["reason"] and r["status"] not in ("resolved", "dismissed")
    with_phone = [r for r in items if r["customer"]]
    assert with_phone and with_phone[0]["customer"]["phone"]
    rows = audit_rows(e, "GET /api/reminders%")
    assert rows and rows[-1][2], rows
    status, wide, _ = e.api.call("GET", "/api/reminders?within_days=365&type=insurance_due",
                                 cookie=e.cc)
    assert status == 200 and len(wide["items"]) >= 1
    assert all(r["type"] == "insurance_due" for r in wide["items"])
    for bad in ["within_days=366", "within_days=-1", "within_days=x", "type=tyre_pressure"]:
        status, _, _ = e.api.call("GET", "/api/reminders?" + bad, cookie=e.cc)
        assert status == 400, bad

    status, doc, _ = e.api.call("GET", "/api/followups", cookie=e.cc)
    assert status == 200 and all(r["type"] == "followup_due" for r in doc["items"])
    status, doc, _ = e.api.call("GET", "/api/followups?due=2026-12-31", cookie=e.cc)
    assert status == 200 and all(r["due_date"] <= "2026-12-31" for r in doc["items"])
    for bad in ["due=2026-13-01", "due=tomorrow", "due=2026-1-1"]:
        status, _, _ = e.api.call("GET", "/api/followups?" + bad, cookie=e.cc)
        assert status == 400, bad

    status, doc, _ = e.api.call("GET", "/api/arrivals", cookie=e.adv)
    assert status == 200 and doc["items"] == [] and doc["date"] == "2026-11-23", doc
    # an arrival row (as the arrivals work will write them) is listed
    con = sqlite3.connect(e.gw.db, timeout=10)
    con.execute("INSERT INTO arrival (vin, plate, customer_id, advisor_id, desk, match, source, "
                "day, arrived_ms, brief) VALUES (?, '鲁A0C82Q', 'C00249', 'A01', '3', "
                "'own_advisor', 'camera', '2026-11-23', ?, '{\"vin\":\"x\"}')",
                (V_TEL, T0_MS - 60000))
    con.commit()
    con.close()
    status, doc, _ = e.api.call("GET", "/api/arrivals?date=2026-11-23", cookie=e.adv)
    assert status == 200 and len(doc["items"]) == 1, doc
    a = doc["items"][0]
    assert a["customer"] == {"id": "C00249", "name": "姚明"} and a["desk"] == "3"
    assert a["match"] == "own_advisor" and a["brief"] == {"vin": "x"} and a["vip"] is False
    assert a["advisor"]  # the advisor's name from the dealer data
    status, doc, _ = e.api.call("GET", "/api/arrivals?date=2026-11-22", cookie=e.adv)
    assert doc["items"] == []
    for bad in ["date=2026-02-30", "date=x"]:
        status, _, _ = e.api.call("GET", "/api/arrivals?" + bad, cookie=e.adv)
        assert status == 400, bad


# ---- appointments and service visits ----------------------------------------------

def test_appointments():
    e = env()
    appt = {"appointment_id": "AP-T1", "vin": V_TEL, "start": "2026-11-25T09:00",
            "service": "首保", "advisor_id": "A02"}
    status, doc, _ = e.api.call("POST", "/api/appointments", appt, cookie=e.adv)
    assert status == 201 and doc == {"appointment_id": "AP-T1"}, doc
    appt["start"] = "2026-11-25T10:30"
    status, doc, _ = e.api.call("POST", "/api/appointments", appt, cookie=e.adv)
    assert status == 200, doc
    assert e.gw.query("SELECT start_local FROM appointment WHERE appointment_id = 'AP-T1'") == \
        [("2026-11-25T10:30",)]
    _, page, _ = e.api.call("GET", f"/api/vehicles/{V_TEL}", cookie=e.adv)
    assert "AP-T1" in [a["appointment_id"] for a in page["appointments"]]

    cases = [
        (dict(appt, advisor_id="A99"), "advisor_id"),
        (dict(appt, vin="LSVCA2280N4199999"), "vin"),
        (dict(appt, start="2026-11-25 10:30"), "start"),
        (dict(appt, vin=12345), "vin"),
        (dict(appt, service=["x"]), "service"),
        ({k: v for k, v in appt.items() if k != "appointment_id"}, "appointment_id"),
    ]
    for body, column in cases:
        status, doc, _ = e.api.call("POST", "/api/appointments", body, cookie=e.adv)
        assert status == 400, (body, status, doc)
        assert column in [f["column"] for f in doc["fields"]], (column, doc)
        assert doc["error"]
    for body in ["{bad json", "[]", "\"s\"", ""]:
        status, doc, _ = e.api.call("POST", "/api/appointments", body, cookie=e.adv)
        assert status == 400, (body, status, doc)


def test_service_visit_closes_maintenance():
    e = env()
    # a car with an open maintenance reminder from the start-up sweep
    status, doc, _ = e.api.call("GET", "/api/alerts?kind=maintenance&status=open&limit=1",
                                cookie=e.adv)
    alert = doc["items"][0]
    vin = alert["vin"]
    visit = {"service_id": "SV-T1", "vin": vin, "date": "2026-11-23", "odometer_km": 48200.5,
             "kind": "maintenance"}
    status, doc, _ = e.api.call("POST", "/api/service-visits", visit, cookie=e.adv)
    assert status == 201 and doc == {"service_id": "SV-T1"}, doc
    status, one, _ = e.api.call("GET", f"/api/alerts/{alert['id']}", cookie=e.adv)
    assert one["active"] is False and one["status"] == "resolved", one
    _, page, _ = e.api.call("GET", f"/api/vehicles/{vin}", cookie=e.adv)
    assert page["services"][0]["service_id"] == "SV-T1"
    assert page["vehicle"]["badges"]["service"] == "ok", page["vehicle"]
    # the same id again: updated
    status, doc, _ = e.api.call("POST", "/api/service-visits", dict(visit, odometer_km="48201"),
                                cookie=e.mgr)
    assert status == 200, doc
    for body, column in [(dict(visit, kind="wash"), "kind"),
                         (dict(visit, odometer_km=-5), "odometer_km"),
                         (dict(visit, odometer_km=True), "odometer_km"),
                         (dict(visit, date="2026-02-30"), "date"),
                         (dict(visit, vin="LSVCA2280N4199999"), "vin")]:
        status, doc, _ = e.api.call("POST", "/api/service-visits", body, cookie=e.adv)
        assert status == 400 and column in [f["column"] for f in doc["fields"]], (body, doc)


def test_thresholds_reach_the_core():
    """A service visit through the API moves the core's maintenance threshold
    (control queue): the next telemetry crossing it raises maintenance_due at
    once, without waiting for the midnight sweep."""
    e = env()
    visit = {"service_id": "SV-CORE", "vin": V_TEL, "date": "2026-11-23",
             "odometer_km": 30440, "kind": "maintenance"}
    status, doc, _ = e.api.call("POST", "/api/service-visits", visit, cookie=e.adv)
    assert status == 201, doc
    time.sleep(0.3)  # the main loop drains the queue every 20 ms
    c = e.broker.client("api-test-car")
    c.connect()
    for seq, ts, km in [(13, T0_MS - 2 * H, 39000.0), (14, T0_MS - H, 39500.0)]:
        c.publish(harness.topic(V_TEL), json.dumps(
            harness.telemetry(V_TEL, seq, ts, odometer_km=km)).encode())
    c.wait_acked()
    c.close()
    e.gw.wait_query("SELECT type, subject FROM alert WHERE vin = ? AND kind = 'maintenance' "
                    "AND active = 1", [("maintenance_due", "2026-11-23")], (V_TEL,))
    _, doc, _ = e.api.call("GET", f"/api/alerts?vin={V_TEL}&kind=maintenance", cookie=e.adv)
    assert [a["type"] for a in doc["items"]] == ["maintenance_due"], doc


def test_audit_list():
    e = env()
    status, doc, _ = e.api.call("GET", "/api/audit?limit=5", cookie=e.mgr)
    assert status == 200 and len(doc["items"]) == 5 and doc["total"] >= 5
    ids = [r["id"] for r in doc["items"]]
    assert ids == sorted(ids, reverse=True)
    row = doc["items"][0]
    assert set(row) == {"id", "ts", "user", "remote", "action", "customers"}
    assert row["remote"] == "127.0.0.1"
    status, _, _ = e.api.call("GET", "/api/audit?limit=500", cookie=e.mgr)
    assert status == 400
    # reading the audit log shows no customer: it writes no row of its own
    before = e.gw.query("SELECT count(*) FROM audit")[0][0]
    e.api.call("GET", "/api/audit", cookie=e.mgr)
    e.api.call("GET", "/api/me", cookie=e.mgr)
    status, _, data = e.api.raw("HEAD", "/api/vehicles", cookie=e.mgr)  # no body: nothing shown
    assert status == 200 and data == b""
    e.api.call("GET", "/api/vehicles?q=" + q("不存在的人"), cookie=e.mgr)  # no customer shown
    assert e.gw.query("SELECT count(*) FROM audit")[0][0] == before
    e.api.call("GET", "/api/vehicles?limit=3", cookie=e.mgr)
    assert e.gw.query("SELECT count(*) FROM audit")[0][0] == before + 1


def test_teardown():
    global ENV
    if ENV is not None:
        ENV.close()
        ENV = None


if __name__ == "__main__":
    harness.run_main([test_no_session_401, test_login_logout_me, test_login_backoff,
                      test_logins_in_parallel, test_roles, test_transport_limits,
                      test_static_path_traversal, test_vehicle_list_paging_search,
                      test_vehicle_page, test_alerts_flow, test_reminders_followups_arrivals,
                      test_appointments, test_service_visit_closes_maintenance,
                      test_thresholds_reach_the_core, test_audit_list,
                      test_teardown])
