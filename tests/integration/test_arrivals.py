#!/usr/bin/env python3
"""test_arrivals — arrivals in the running gateway (issue 6 "Done when"),
against a real mosquitto, watched on the events and notify topics and in
the database:

- the sample dealership's day with pitwall-sim --realtime at a speed-up:
  every appointment whose car comes in gives exactly one arrival and one
  greeting, with the appointment's advisor's desk; cars driving past give
  none; every plate read is logged;
- targeted cases published directly: camera then geofence merge into one
  visit (and the greeting reaches the events topic fast), a low-confidence
  read and an unknown plate are logged only, a VIP goes to the own advisor
  with a warning and no name or plate on the display, a car with no
  customer goes to the least-loaded advisor, a car passing at 30 km/h is
  nothing.

PW_ARRIVAL_SPEEDUP (default 720: 07:00-18:30 in 58 s) tunes the day.
"""
import csv
import datetime
import json
import math
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PITWALL, PITWALL_SIM, SHARED_DIR, Broker, Gateway, Workdir, make_vin  # noqa: E402

DATA = os.path.join(SHARED_DIR, "data")
SITE = "jinan-west"
with open(os.path.join(DATA, "site.json")) as _f:
    SITE_CFG = json.load(_f)
LAT, LON = SITE_CFG["geofence"]["lat"], SITE_CFG["geofence"]["lon"]
M_PER_DEG_LAT = 6371008.8 * math.pi / 180.0


def prepare_db(db, kinds=("advisors", "customers", "vehicles", "appointments", "policies",
                          "services")):
    for kind in kinds:
        p = subprocess.run([PITWALL, "import", "--db", db, kind, os.path.join(DATA, f"{kind}.csv")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr


def read_csv(name):
    with open(os.path.join(DATA, name), newline="") as f:
        return list(csv.DictReader(f))


class Watch:
    """Collects what the gateway publishes on events and notify."""

    def __init__(self, broker):
        self.c = broker.client(f"watch-arrivals-{os.getpid()}")
        self.c.subscribe(f"pitwall/v1/sites/{SITE}/events")
        self.c.subscribe("pitwall/v1/vehicles/+/notify")
        self.seen_at = []  # (time received, topic, payload)

    def poll(self, seconds=0.2):
        n = len(self.c.received)
        self.c.poll(seconds)
        now = time.time()
        for topic, payload, _ in self.c.received[n:]:
            self.seen_at.append((now, topic, payload))

    def events(self, type_=None, vin=None):
        out = []
        for _, topic, payload in self.seen_at:
            if topic.endswith("/events"):
                e = json.loads(payload)
                if (type_ is None or e["type"] == type_) and (vin is None or e.get("vin") == vin):
                    out.append(e)
        return out

    def notify(self, vin):
        return [json.loads(p) for _, t, p in self.seen_at
                if t == f"pitwall/v1/vehicles/{vin}/notify"]

    def wait(self, pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.poll(0.002)
            if pred():
                return
        raise TimeoutError(f"waited for {what}")


def settle(gw, watch, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        watch.poll(0.2)
        if gw.query("SELECT count(*) FROM outbox")[0][0] == 0:
            return
    raise TimeoutError("the outbox does not empty")


# ---- the sample day ---------------------------------------------------------------------


def test_sample_day_every_booked_car_greeted_once():
    speedup = float(os.environ.get("PW_ARRIVAL_SPEEDUP", "720"))
    wd = Workdir("arrivals-day")
    broker = Broker(wd)
    db = wd.file("pitwall.db")
    prepare_db(db)
    anchor = int(time.time()) + 3
    clock = ["--now", "2026-11-23T07:00:00+08:00", "--speedup", str(speedup),
             "--anchor", str(anchor)]
    gw = Gateway(wd, broker, site=SITE, db=db, extra=clock, config={"site": SITE_CFG}).start()
    watch = Watch(broker)
    try:
        sim = subprocess.Popen(
            [PITWALL_SIM, "--broker", broker.uri, "--fleet", os.path.join(DATA, "vehicles.csv"),
             "--appointments", os.path.join(DATA, "appointments.csv"),
             "--site-file", os.path.join(DATA, "site.json"), "--realtime", *clock,
             "--duration", str(int(11.5 * 3600)), "--seed", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while sim.poll() is None:
            watch.poll(0.2)
        out, err = sim.communicate()
        assert sim.returncode == 0, err[-2000:]
        s = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(s), flush=True)
        assert s["ok"] and s["failed"] == 0, s
        assert s["drive_pasts"] > 0, s
        total = s["objects"] + s["status"] + s["plate_reads"]
        gw.wait_metric('pitwall_messages_total{result="accepted"}', total, timeout=120)
        settle(gw, watch)

        advisors = {r["advisor_id"]: r for r in read_csv("advisors.csv")}
        first = {}  # the car comes for its first appointment of the day
        for r in sorted(read_csv("appointments.csv"), key=lambda r: r["start"]):
            if r["start"].startswith("2026-11-23") and r["vin"] not in first:
                first[r["vin"]] = r
        rows = gw.query("SELECT id, vin, appointment_id, advisor_id, desk, match, source, "
                        "departed_ms IS NOT NULL FROM arrival ORDER BY id")
        got = {(r[1], r[2]) for r in rows}
        want = {(vin, a["appointment_id"]) for vin, a in first.items()}
        assert len(rows) == len(got), f"a car arrived twice: {rows}"
        assert got == want, f"missing {want - got}, unexpected {got - want}"
        assert s["site_visits"] == len(want), s
        for aid, vin, ap, adv, desk, match, source, departed in rows:
            assert match == "appointment" and adv == first[vin]["advisor_id"], (vin, ap, adv)
            assert desk == advisors[adv]["desk"], (vin, desk)
        sources = [r[6] for r in rows]
        print(f"{len(rows)} arrivals: sources {dict((x, sources.count(x)) for x in set(sources))},"
              f" {sum(r[7] for r in rows)} departed", flush=True)
        assert sources.count("both") >= len(rows) // 2, sources
        # one arrival and one greeting each on the events topic, right desk
        arr = watch.events("arrival")
        gre = watch.events("greeting")
        desk_of = {f"a{r[0]}": r[4] for r in rows}
        assert sorted(e["id"] for e in arr) == sorted(desk_of), arr
        assert sorted(e["id"] for e in gre) == sorted("g" + k[1:] for k in desk_of), gre
        for g in gre:
            assert g["desk"] == desk_of["a" + g["id"][1:]], g
            assert g["ttl_s"] == 120 and "plate" not in g, g
        for e in arr:
            assert e["brief"]["vin"] == e["vin"], e
        # every plate read logged with its outcome
        n_reads = gw.query("SELECT count(*) FROM plate_read")[0][0]
        assert n_reads == s["plate_reads"], (n_reads, s)
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


# ---- targeted cases ---------------------------------------------------------------------

T0 = "2026-11-23T10:00:00+08:00"
T0_MS = int(datetime.datetime.fromisoformat(T0).timestamp() * 1000)
VT1, VT2, VT3, VT4 = (make_vin(800 + i) for i in range(1, 5))


def add_test_cars(db):
    con = sqlite3.connect(db)
    con.executescript(f"""
        INSERT INTO customer VALUES ('CT1', '司马光', 'M', '13900000001', 'regular', 'A02', 1);
        INSERT INTO customer VALUES ('CT2', 'Anna Schmidt', 'F', '13900000002', 'vip', 'A06', 0);
        INSERT INTO vehicle VALUES ('{VT1}', '鲁A0AR01', 'CT1', '大众', '朗逸', 2024, '2024-01-01', 0);
        INSERT INTO vehicle VALUES ('{VT2}', '鲁A0AR02', 'CT2', '大众', '途观', 2025, '2025-01-01', 0);
        INSERT INTO vehicle VALUES ('{VT3}', '鲁A0AR03', NULL, '大众', '宝来', 2020, '2020-01-01', 0);
        INSERT INTO appointment VALUES ('APT1', '{VT1}', '2026-11-23T10:10', {T0_MS + 600000},
                                        '常规保养', 'A05');
    """)
    con.commit()
    con.close()


class Device:
    def __init__(self, client, vin, vnow):
        self.c, self.vin, self.vnow, self.seq = client, vin, vnow, 0

    def send(self, d_m, speed, ignition, dt_ms=0):
        obj = {"v": 1, "vin": self.vin, "seq": self.seq, "ts": self.vnow() + dt_ms,
               "lat": LAT + d_m / M_PER_DEG_LAT, "lon": LON, "speed_kmh": speed,
               "ignition": ignition}
        self.seq += 1
        self.c.publish(f"pitwall/v1/vehicles/{self.vin}/telemetry", json.dumps(obj))

    def pull_in(self):
        # 50 s of approach squeezed into messages 10 s apart in ts
        for k, (d, v) in enumerate([(400, 30), (250, 25), (110, 10), (60, 4)]):
            self.send(d, v, "on", dt_ms=(k - 4) * 10000)
        self.send(40, 0, "off")


def test_targeted_cases():
    wd = Workdir("arrivals-cases")
    broker = Broker(wd)
    db = wd.file("pitwall.db")
    prepare_db(db, ("advisors", "customers", "vehicles", "appointments"))
    add_test_cars(db)
    anchor = time.time()
    gw = Gateway(wd, broker, site=SITE, db=db, config={"site": SITE_CFG},
                 extra=["--now", T0, "--speedup", "1", "--anchor", str(int(anchor))]).start()

    def vnow():
        return T0_MS + int((time.time() - int(anchor)) * 1000)

    watch = Watch(broker)
    pub = broker.client(f"cam-{os.getpid()}")
    anpr = f"pitwall/v1/sites/{SITE}/anpr"

    def read(plate, conf):
        t = time.time()
        pub.publish(anpr, json.dumps({"v": 1, "ts": vnow(), "plate": plate,
                                      "camera": "entrance-1", "confidence": conf}))
        return t

    try:
        # camera first, then the geofence: one visit; the greeting is fast
        t = read("鲁A0AR01", 0.95)
        watch.wait(lambda: watch.events("greeting", VT1), "VT1 greeting")
        latency = [next(r for r, tp, p in watch.seen_at
                        if tp.endswith("/events") and json.loads(p)["type"] == "greeting") - t]
        Device(pub, VT1, vnow).pull_in()
        gw.wait_query("SELECT source, appointment_id, desk, match FROM arrival WHERE vin = ?",
                      [("both", "APT1", "5", "appointment")], (VT1,))
        g = watch.events("greeting", VT1)[0]
        assert g["display_name"] == "司马先生" and g["plate_masked"] == "鲁A·***01", g
        assert g["desk"] == "5" and g["advisor"] == "周静" and g["service"] == "常规保养", g
        def welcome():
            return [m for m in watch.notify(VT1) if m["kind"] == "welcome"]

        watch.wait(welcome, "VT1 welcome")
        w = welcome()
        assert len(w) == 1 and "5 号前台" in w[0]["text"] and w[0]["id"] == "w1", w

        # a weak read of a known plate, an unknown plate: logged only
        read("鲁A0AR03", 0.6)
        read("鲁Z99999", 0.97)
        gw.wait_query("SELECT plate, outcome FROM plate_read WHERE outcome != 'arrival' "
                      "ORDER BY id", [("鲁A0AR03", "low_confidence"), ("鲁Z99999", "unknown_plate")])

        # VIP without display consent
        t = read("鲁A0AR02", 0.9)
        watch.wait(lambda: watch.events("greeting", VT2), "VT2 greeting")
        latency.append(max(r for r, tp, p in watch.seen_at
                           if tp.endswith("/events") and json.loads(p)["type"] == "greeting") - t)
        a = watch.events("arrival", VT2)[0]
        assert a["severity"] == "warning" and a["vip"] is True, a
        assert a["match"] == "own_advisor" and a["advisor_id"] == "A06" and a["desk"] == "6", a
        g = watch.events("greeting", VT2)[0]
        assert "display_name" not in g and "plate_masked" not in g and g["desk"] == "6", g
        assert "Schmidt" not in json.dumps(g), g

        # a car with no customer, by the geofence: the least-loaded advisor
        Device(pub, VT3, vnow).pull_in()
        watch.wait(lambda: watch.events("arrival", VT3), "VT3 arrival")
        a = watch.events("arrival", VT3)[0]
        assert a["customer"] is None and a["match"] == "least_loaded", a
        # A05 and A06 have a car each: A01 is the least loaded with the smallest id
        assert a["advisor_id"] == "A01" and a["source"] == "geofence", a

        # a car passing straight through at 30 km/h: nothing
        d = Device(pub, VT4, vnow)
        for k in range(12):
            d.send(-500 + 83.3 * k, 30, "on", dt_ms=(k - 12) * 10000)
        pub.wait_acked()
        time.sleep(0.5)
        settle(gw, watch)
        assert gw.query("SELECT count(*) FROM arrival WHERE vin = ?", (VT4,)) == [(0,)]
        # exactly one arrival and one greeting per visit
        assert len(watch.events("arrival")) == 3 and len(watch.events("greeting")) == 3
        assert gw.query("SELECT count(*) FROM arrival") == [(3,)]
        print(f"plate read -> greeting on …/events: "
              f"{', '.join(f'{x * 1000:.0f} ms' for x in latency)}", flush=True)
        assert max(latency) < 1.0, latency
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_targeted_cases, test_sample_day_every_booked_car_greeted_once])
