"""pitwall-sim realistic and scripted modes against the real gateway, both
on the same virtual clock (--now T --speedup K --anchor A).

- The sample dealership's morning (../shared/data: 450 vehicles, their
  appointments, site.json): every object accepted, the camera's plate reads
  counted by the gateway, devices' retained status with will, manifest
  equals the database.
- 2,000 generated vehicles over one simulated day: 0 rejected (issue 3's
  "done when"), per-vehicle counts equal the manifest.
- A scenario script: exact objects, a batch, a status, a plate read and a
  malformed payload land as scripted.

PW_SIM_DAY_SPEEDUP (default 480: the day in 3 minutes) and
PW_SIM_DAY_VEHICLES (default 2000) tune the long test.
"""
import json
import os
import subprocess
import time

import harness
from harness import Broker, Gateway, Workdir

SIM = harness.PITWALL_SIM
DATA = os.path.join(harness.SHARED_DIR, "data")


def virtual_clock(now, speedup):
    anchor = int(time.time()) + 2
    return ["--now", now, "--speedup", str(speedup), "--anchor", str(anchor)]


def run_sim(broker, *args, timeout=900):
    p = subprocess.run([SIM, "--broker", broker.uri, *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, f"pitwall-sim exit {p.returncode}: {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def read_manifest(path):
    with open(path) as f:
        return {vin: (int(c), int(s)) for vin, c, s in (l.strip().split(",") for l in f)}


def wait_accepted(gw, n, timeout=300):
    deadline = time.time() + timeout
    key = 'pitwall_messages_total{result="accepted"}'
    while time.time() < deadline:
        m = gw.metrics()
        if m.get(key, 0) + m.get('pitwall_messages_total{result="rejected"}', 0) >= n:
            time.sleep(0.5)
            return gw.metrics()
        time.sleep(0.2)
    raise TimeoutError(f"accepted {gw.metric(key)} of {n}")


def check_manifest(gw, manifest):
    want = read_manifest(manifest)
    got = {v: (c, s) for v, c, s in gw.query("SELECT vin, msg_count, seq_max FROM vehicle_state")}
    sent = {v: cs for v, cs in want.items() if cs[0] > 0}
    bad = [(v, sent[v], got.get(v)) for v in sent if got.get(v) != sent[v]]
    assert not bad and len(got) == len(sent), bad[:5]


def test_sample_store_morning_with_appointments_and_camera():
    wd = Workdir("simstore")
    broker = Broker(wd)
    clock = virtual_clock("2026-11-23T07:30:00+08:00", 600)
    gw = Gateway(wd, broker, site="jinan-west", extra=clock).start()
    try:
        manifest = wd.file("manifest.csv")
        s = run_sim(broker, "--fleet", os.path.join(DATA, "vehicles.csv"),
                    "--appointments", os.path.join(DATA, "appointments.csv"),
                    "--site-file", os.path.join(DATA, "site.json"), "--realtime",
                    *clock, "--duration", 4.5 * 3600, "--manifest", manifest, "--seed", 2)
        print(json.dumps(s), flush=True)
        assert s["ok"] and s["failed"] == 0 and s["acked"] == s["messages"], s
        # appointments between 07:45 and 12:00 on the sample day: the cars come
        assert s["plate_reads"] >= 10 and s["site_visits"] == s["plate_reads"], s
        m = wait_accepted(gw, s["objects"] + s["status"] + s["plate_reads"])
        assert m['pitwall_messages_total{result="rejected"}'] == 0, \
            {k: v for k, v in m.items() if "reject" in k}
        assert m['pitwall_messages_total{result="accepted"}'] >= \
            s["objects"] + s["status"] + s["plate_reads"], m
        assert m.get("pitwall_anpr_reads_total") == s["plate_reads"], m
        # the simulator's own status messages plus one will per lost coverage
        assert m.get("pitwall_status_messages_total") == \
            s["status"] + s["offline_episodes"], m
        check_manifest(gw, manifest)
        # the simulator switched its devices off at the end: status says so
        online = gw.query("SELECT COUNT(*) FROM vehicle_state WHERE online = 1")[0][0]
        assert online == 0, f"{online} devices still online"
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_two_thousand_vehicles_one_day_zero_rejected():
    n = int(os.environ.get("PW_SIM_DAY_VEHICLES", "2000"))
    speedup = float(os.environ.get("PW_SIM_DAY_SPEEDUP", "480"))
    wd = Workdir("simday")
    broker = Broker(wd)
    clock = virtual_clock("2026-11-23T00:00:00+08:00", speedup)
    gw = Gateway(wd, broker, site="jinan-west", extra=clock).start()
    try:
        manifest = wd.file("manifest.csv")
        t0 = time.time()
        s = run_sim(broker, "--vehicles", n, "--realtime", *clock, "--duration", 86400,
                    "--site-file", os.path.join(DATA, "site.json"), "--manifest", manifest,
                    "--seed", 11, "--drain-timeout", 300)
        print(json.dumps(s), flush=True)
        assert s["ok"] and s["failed"] == 0 and s["acked"] == s["messages"], s
        m = wait_accepted(gw, s["objects"] + s["status"] + s["plate_reads"], timeout=600)
        print(f"{s['objects']:,} objects in {time.time() - t0:.0f} s; gateway: "
              f"{json.dumps({k: v for k, v in m.items() if 'messages_total' in k})}", flush=True)
        assert m['pitwall_messages_total{result="rejected"}'] == 0, \
            {k: v for k, v in m.items() if "reject" in k}
        assert m['pitwall_messages_total{result="duplicate"}'] == 0, m
        assert s["batches"] > 0 and s["offline_episodes"] > 0 and s["drive_pasts"] > 0, s
        check_manifest(gw, manifest)
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


VIN = "LSVCA2114M4100000"


def test_scenario_script():
    wd = Workdir("simscript")
    broker = Broker(wd)
    clock = virtual_clock("2026-11-23T09:00:00+08:00", 60)
    gw = Gateway(wd, broker, site="jinan-west", extra=clock).start()
    try:
        script = {"site": "jinan-west", "steps": [
            {"at_s": 0, "status": {"vin": VIN, "online": True}},
            {"at_s": 0, "telemetry": {"vin": VIN, "odometer_km": 1000.0, "fuel_pct": 50}},
            {"at_s": 60, "telemetry": {"vin": VIN, "odometer_km": 1001.5, "speed_kmh": 30}},
            {"at_s": 120, "batch": [{"vin": VIN, "odometer_km": 1002.0},
                                    {"vin": VIN, "odometer_km": 1003.0, "ignition": "off"}]},
            {"at_s": 150, "plate": "鲁A9QHFG", "confidence": 0.91},
            {"at_s": 160, "topic": f"pitwall/v1/vehicles/{VIN}/telemetry", "raw": "{\"v\":1,"},
            {"at_s": 170, "telemetry": {"vin": VIN, "odometer_km": 1003.0,
                                        "ts_offset_s": 3600}},
        ]}
        path = wd.file("script.json")
        with open(path, "w") as f:
            json.dump(script, f, ensure_ascii=False)
        t0 = time.time()
        s = run_sim(broker, "--scenario", path, *clock, timeout=60)
        assert s["published"] == 7 and s["ok"], s
        assert time.time() - t0 >= 2.5, "170 virtual seconds at 60x take about 3 s"
        m = wait_accepted(gw, 7)
        assert m['pitwall_messages_total{result="accepted"}'] == 6, m  # status, 4 objects, plate
        assert m.get('pitwall_rejected_total{reason="bad_json"}') == 1, m
        assert m.get('pitwall_rejected_total{reason="ts_future"}') == 1, m
        assert m.get("pitwall_anpr_reads_total") == 1, m
        assert gw.query("SELECT msg_count, seq_max, odometer_km, ignition, online "
                        "FROM vehicle_state") == [(4, 3, 1003.0, "off", 1)]
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_scenario_script,
                      test_sample_store_morning_with_appointments_and_camera,
                      test_two_thousand_vehicles_one_day_zero_rejected])
