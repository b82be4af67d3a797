#!/usr/bin/env python3
"""test_rules_gateway — the rules in the running gateway, driven by
pitwall-sim --scenario over a real mosquitto, watched on the events and
notify topics and in the database (issue 4 "Done when"):

- a car driven past its due distance gives one maintenance_due event, one
  in-car message and one open alert;
- a tyre leak, a fault episode (pending -> confirmed with MIL -> cleared),
  a weak battery, a fuel anomaly and an odometer rollback each give exactly
  one alert per episode and clear as the semantics say;
- every event is on pitwall/v1/sites/{site}/events with the contract's
  members and counted in pitwall_events_total; the outbox empties once the
  broker has acknowledged everything; a restart raises nothing twice.
"""
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD_DIR, PITWALL, SHARED_DIR, Broker, Gateway, Workdir, make_vin  # noqa: E402

SIM = os.path.join(BUILD_DIR, "pitwall-sim")
DATA = os.path.join(SHARED_DIR, "data")
SITE = "jinan-west"
T0 = "2026-11-23T09:00:00+08:00"
T0_MS = int(datetime.datetime.fromisoformat(T0).timestamp() * 1000)
H = 3600 * 1000

V_MAINT, V_TYRE, V_FAULT, V_BATT, V_ODO, V_FUEL = (make_vin(900 + i) for i in range(6))


def clock_args():
    return ["--now", T0, "--speedup", "1", "--anchor", str(int(time.time()))]


def prepare_db(db):
    for kind in ("advisors", "customers", "vehicles", "appointments", "policies", "services"):
        p = subprocess.run([PITWALL, "import", "--db", db, kind, os.path.join(DATA, f"{kind}.csv")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    con = sqlite3.connect(db)
    # a car of our own: first service on 2026-11-01 at 4,000 km, so the next
    # is due at 14,000 km (from 13,000 km on) or on 2027-11-01
    con.execute("INSERT INTO vehicle VALUES (?, '鲁A0TST1', 'C00001', '大众', '朗逸', 2026, "
                "'2026-06-01', 10)", (V_MAINT,))
    con.execute("INSERT INTO service_visit VALUES ('STEST-1', ?, '2026-11-01', 4000, "
                "'first_service')", (V_MAINT,))
    # the fuel car's own baseline: 83 days at 6.0 l/100km before the last week
    today = datetime.date(2026, 11, 23)
    for k in range(8, 91):
        day = (today - datetime.timedelta(days=k)).isoformat()
        con.execute("INSERT INTO vehicle_day VALUES (?, ?, 50, 5, 5, 3.0, 50)", (V_FUEL, day))
    con.commit()
    con.close()


def scenario(wd, steps):
    path = wd.file(f"scenario-{time.time_ns()}.json")
    with open(path, "w") as f:
        json.dump({"site": SITE, "steps": steps}, f, ensure_ascii=False)
    return path


def run_sim(broker, path):
    p = subprocess.run([SIM, "--broker", broker.uri, "--scenario", path, *clock_args()],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"pitwall-sim exit {p.returncode}: {p.stderr[-2000:]}"
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["ok"], s
    return s


def tel(vin, ts_ms, **fields):
    return {"at_s": 0, "telemetry": {"vin": vin, "ts": ts_ms, **fields}}


class Watch:
    """Collects what the gateway publishes on events and notify."""

    def __init__(self, broker):
        self.c = broker.client(f"watch-{os.getpid()}")
        self.c.subscribe(f"pitwall/v1/sites/{SITE}/events")
        self.c.subscribe("pitwall/v1/vehicles/+/notify")

    def poll(self, seconds=0.5):
        self.c.poll(seconds)

    def events(self, vin=None, type_=None):
        out = []
        for topic, payload, _ in self.c.received:
            if not topic.endswith("/events"):
                continue
            e = json.loads(payload)
            if (vin is None or e["vin"] == vin) and (type_ is None or e["type"] == type_):
                out.append(e)
        return out

    def notify(self, vin):
        return [json.loads(p) for t, p, _ in self.c.received
                if t == f"pitwall/v1/vehicles/{vin}/notify"]

    def wait(self, pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.poll(0.2)
            if pred():
                return
        raise TimeoutError(f"waited for {what}")


def alerts(gw, vin, kind=None):
    sql = "SELECT kind, subject, severity, status, active, events FROM alert WHERE vin = ?"
    args = [vin]
    if kind:
        sql += " AND kind = ?"
        args.append(kind)
    return gw.query(sql + " ORDER BY id", args)


def settle(gw, watch):
    """Until the outbox is empty (every row acknowledged by the broker)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        watch.poll(0.2)
        if gw.query("SELECT count(*) FROM outbox")[0][0] == 0:
            return
    raise TimeoutError("the outbox does not empty")


def test_rules_over_mqtt():
    wd = Workdir("rules-gw")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site=SITE, extra=clock_args())
    prepare_db(gw.db)
    watch = Watch(broker)
    try:
        gw.start()
        # the start-up sweep of the sample dealership goes out first
        watch.wait(lambda: len(watch.events()) >= 300, "the start-up sweep's events")
        settle(gw, watch)
        startup = len(watch.events())
        assert gw.metric('pitwall_events_total{type="insurance_due"}') > 0

        t = T0_MS - 24 * H
        steps = []
        # maintenance: first odometer 12,000 km (2,000 left: fine), then past 13,000
        steps += [tel(V_MAINT, t, odometer_km=12000.0),
                  tel(V_MAINT, t + 2 * H, odometer_km=12900.0),
                  tel(V_MAINT, t + 3 * H, odometer_km=13050.0),
                  tel(V_MAINT, t + 4 * H, odometer_km=13200.0)]
        # a slow leak at 18 °C: 232 -> 192 kPa in 20 h, then 160 (critical), then inflated
        for i in range(11):
            steps.append(tel(V_TYRE, t + i * 2 * H,
                             tires={"fl": {"kpa": 232.0 - 4 * i, "temp_c": 18.0}}))
        steps += [tel(V_TYRE, t + 21 * H, tires={"fl": {"kpa": 160.0, "temp_c": 18.0}}),
                  tel(V_TYRE, t + 22 * H, tires={"fl": {"kpa": 235.0, "temp_c": 18.0}})]
        # a fault episode
        steps += [tel(V_FAULT, t, dtc=[]),
                  tel(V_FAULT, t + H, dtc=[{"code": "P0301", "status": "pending"}]),
                  tel(V_FAULT, t + 2 * H, dtc=[{"code": "P0301", "status": "pending"}]),
                  tel(V_FAULT, t + 3 * H,
                      dtc=[{"code": "P0301", "status": "confirmed", "mil": True}]),
                  tel(V_FAULT, t + 4 * H, dtc=[])]
        # a weak battery overnight, charged in the morning
        steps += [tel(V_BATT, t, ignition="on", battery_v=14.1),
                  tel(V_BATT, t + H, ignition="off", battery_v=12.2),
                  tel(V_BATT, t + 8 * H, battery_v=11.6),
                  tel(V_BATT, t + 9 * H, battery_v=10.8),
                  tel(V_BATT, t + 10 * H, ignition="on", battery_v=13.9),
                  tel(V_BATT, t + 11 * H, ignition="off", battery_v=12.5)]
        # an odometer rollback, then the odometer consistent again
        steps += [tel(V_ODO, t, odometer_km=50000.0), tel(V_ODO, t + H, odometer_km=4000.0),
                  tel(V_ODO, t + 2 * H, odometer_km=4001.0),
                  tel(V_ODO, t + 3 * H, odometer_km=50010.0)]
        # the fuel car's last week at 7.5 l/100km (its baseline is 6.0)
        for k in range(7, 0, -1):
            base = T0_MS - k * 24 * H
            steps += [tel(V_FUEL, base, odometer_km=10000.0 + 100 * (7 - k), speed_kmh=15.0),
                      tel(V_FUEL, base + H, odometer_km=10050.0 + 100 * (7 - k),
                          speed_kmh=15.0, fuel_l_per_100km=7.5)]
        run_sim(broker, scenario(wd, steps))
        gw.wait_metric('pitwall_messages_total{result="accepted"}', len(steps))
        settle(gw, watch)

        # maintenance: one event, one in-car message, one open alert
        ev = watch.events(V_MAINT)
        assert [e["type"] for e in ev] == ["maintenance_due"], ev
        assert ev[0]["due_by"] == "km" and ev[0]["limit_km"] == 14000.0, ev
        n = watch.notify(V_MAINT)
        assert len(n) == 1 and n[0]["kind"] == "maintenance_due", n
        assert "公里" in n[0]["text"], n
        assert alerts(gw, V_MAINT) == [("maintenance", "2026-11-01", "info", "open", 1, 1)]

        # the leak: one alert, opened as a slow leak, escalated to critical, cleared
        ev = watch.events(V_TYRE)
        assert [(e["type"], e["severity"], e["reason"]) for e in ev] == [
            ("tyre_pressure", "warning", "slow_leak"), ("tyre_pressure", "critical", "low")], ev
        assert ev[0]["wheel"] == "fl" and ev[0]["drop_kpa"] >= 20, ev
        assert [m["kind"] for m in watch.notify(V_TYRE)] == ["tyre"]
        assert alerts(gw, V_TYRE) == [("tyre_pressure", "fl", "critical", "resolved", 0, 2)]

        # the fault: info, then critical with MIL (and a message), then cleared
        ev = watch.events(V_FAULT)
        assert [(e["code"], e["status"], e["mil"], e["severity"]) for e in ev] == [
            ("P0301", "pending", False, "info"), ("P0301", "confirmed", True, "critical")], ev
        assert [m["kind"] for m in watch.notify(V_FAULT)] == ["fault"]
        assert alerts(gw, V_FAULT) == [("fault", "P0301", "critical", "resolved", 0, 2)]

        # the battery: one warning, then critical, cleared once charged
        ev = watch.events(V_BATT)
        assert [(e["type"], e["severity"]) for e in ev] == [
            ("battery_low", "warning"), ("battery_low", "critical")], ev
        assert watch.notify(V_BATT) == []
        assert alerts(gw, V_BATT) == [("battery", "", "critical", "resolved", 0, 2)]

        # the rollback: one alert; the episode ended, the alert stays for a person
        ev = watch.events(V_ODO)
        assert [(e["type"], e["odometer_km"], e["reported_km"]) for e in ev] == [
            ("odometer_rollback", 50000.0, 4000.0)], ev
        assert alerts(gw, V_ODO) == [("odometer", "", "warning", "open", 0, 1)]

        # every event published was counted once
        m = gw.metrics()
        total = sum(v for k, v in m.items() if k.startswith("pitwall_events_total"))
        assert total == len(watch.events()), (total, len(watch.events()))

        # the fuel week is in vehicle_day; the anomaly is the sweep's: restart
        rows = gw.query("SELECT count(*), round(sum(fuel_l) / sum(fuel_km) * 100, 2) FROM "
                        "vehicle_day WHERE vin = ? AND day >= '2026-11-16'", (V_FUEL,))
        assert rows == [(7, 7.5)], rows
        assert watch.events(V_FUEL) == []
        before = len(watch.events())
        assert gw.stop() == 0
        gw.start()
        watch.wait(lambda: watch.events(V_FUEL), "the fuel anomaly")
        settle(gw, watch)
        ev = watch.events(V_FUEL)
        assert [e["type"] for e in ev] == ["fuel_anomaly"], ev
        assert ev[0]["ratio"] == 1.25 and ev[0]["profile"]["congestion_share"] > 0, ev
        # and nothing else twice: the restart's sweep found every episode open
        assert len(watch.events()) == before + 1, watch.events()[before:]
        assert alerts(gw, V_FUEL) == [("fuel", "", "warning", "open", 1, 1)]

        # the consumption back to normal: the next sweep clears it
        con = sqlite3.connect(gw.db)
        con.execute("UPDATE vehicle_day SET fuel_l = fuel_km * 0.06 WHERE vin = ?", (V_FUEL,))
        con.commit()
        con.close()
        assert gw.stop() == 0
        gw.start()
        deadline = time.time() + 20
        while alerts(gw, V_FUEL)[0][4] == 1 and time.time() < deadline:
            time.sleep(0.2)
        assert alerts(gw, V_FUEL) == [("fuel", "", "warning", "resolved", 0, 1)]
        print(f"{startup} start-up sweep events, {len(watch.events()) - startup} from the "
              f"scenario and the restarts", flush=True)
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_rules_off():
    """rules.enabled false: telemetry only, no alerts, no sweep, no events."""
    wd = Workdir("rules-off")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site=SITE, extra=clock_args(), config={"rules": {"enabled": False}})
    prepare_db(gw.db)
    watch = Watch(broker)
    try:
        gw.start()
        run_sim(broker, scenario(wd, [tel(V_TYRE, T0_MS - H, tires={"fl": {"kpa": 100.0}}),
                                      tel(V_ODO, T0_MS - H, odometer_km=500.0),
                                      tel(V_ODO, T0_MS - 1000, odometer_km=10.0)]))
        gw.wait_metric('pitwall_messages_total{result="accepted"}', 3)
        watch.poll(1.5)
        assert watch.events() == []
        assert gw.query("SELECT count(*) FROM alert") == [(0,)]
        assert gw.query("SELECT count(*) FROM vehicle_day WHERE vin != ?", (V_FUEL,)) == [(0,)]
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_sweep_at_site_local_midnight():
    """The daemon sweeps at start and again when the (virtual) clock passes
    midnight at the site: the sample's visit of 2026-11-22 is due for its
    follow-up call on the 25th, Shanghai time, not before."""
    wd = Workdir("rules-midnight")
    broker = Broker(wd)
    db = wd.file("pitwall.db")
    prepare_db(db)  # first: the virtual clock starts when the gateway does
    start = "2026-11-24T23:59:00+08:00"
    gw = Gateway(wd, broker, site=SITE, db=db,
                 extra=["--now", start, "--speedup", "10", "--anchor", str(int(time.time()))])
    watch = Watch(broker)
    try:
        gw.start()
        watch.wait(lambda: len(watch.events()) >= 300, "the start-up sweep")
        # 60 virtual seconds to midnight at 10x: about 6 s
        watch.wait(lambda: watch.events(type_="followup_due"), "the midnight sweep", timeout=60)
        settle(gw, watch)
        ev = watch.events(type_="followup_due")
        assert [(e["vin"], e["service_id"], e["due_date"]) for e in ev] == [
            ("LSVDB2402T7100434", "S100434-02", "2026-11-25")], ev
        assert gw.query("SELECT last_day FROM sweep_state") == [("2026-11-25",)]
        # its ts is the sweep's time: just after midnight at the site
        midnight = int(datetime.datetime.fromisoformat("2026-11-25T00:00:00+08:00")
                       .timestamp() * 1000)
        assert midnight <= ev[0]["ts"] < midnight + 60 * 1000, ev
        # the start-up sweep ran on the 24th and raised no follow-up
        startup = [e for e in watch.events() if e["ts"] < midnight]
        assert len(startup) >= 300 and not [e for e in startup if e["type"] == "followup_due"]
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_rules_over_mqtt, test_rules_off, test_sweep_at_site_local_midnight])
