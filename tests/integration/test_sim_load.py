"""pitwall-sim load mode against the real gateway (real mosquitto, loopback).

- 30,000 full messages for 300 generated vehicles at QoS 1: the gateway
  accepts every one (0 rejected) and its per-vehicle msg_count and seq_max
  equal the simulator's --manifest (what the broker acknowledged).
- --faults: the gateway's rejection counts per reason, duplicates and
  odometer rollbacks equal what the simulator reports it injected.
- --state: a second run continues every device's seq, so nothing it sends
  is a duplicate.
- --fields minimal and QoS 0 are accepted too.
"""
import json
import os
import subprocess

import harness
from harness import Broker, Gateway, Workdir

SIM = harness.PITWALL_SIM


def run_sim(broker, *args, timeout=300):
    p = subprocess.run([SIM, "--broker", broker.uri, *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, f"pitwall-sim exit {p.returncode}: {p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def read_manifest(path):
    out = {}
    with open(path) as f:
        for line in f:
            vin, count, max_seq = line.strip().split(",")
            out[vin] = (int(count), int(max_seq))
    return out


def done(gw):
    m = gw.metrics()
    return sum(m.get(f'pitwall_messages_total{{result="{r}"}}', 0)
               for r in ("accepted", "rejected", "duplicate"))


def wait_done(gw, n, timeout=120):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done(gw) >= n:
            time.sleep(0.3)
            return gw.metrics()
        time.sleep(0.1)
    raise TimeoutError(f"gateway finished {done(gw)} of {n}")


def test_manifest_equals_database():
    wd = Workdir("simload")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="simload").start()
    try:
        manifest = wd.file("manifest.csv")
        s = run_sim(broker, "--vehicles", 300, "--count", 30000, "--qos", 1, "--seed", 3,
                    "--manifest", manifest, "--client-id", "simload")
        assert s["published"] == s["acked"] == 30000, s
        m = wait_done(gw, 30000)
        assert m['pitwall_messages_total{result="accepted"}'] == 30000, m
        assert m['pitwall_messages_total{result="rejected"}'] == 0, m
        assert m.get("pitwall_unknown_fields_total", 0) == 0, m
        want = read_manifest(manifest)
        got = {vin: (cnt, smax) for vin, cnt, smax in
               gw.query("SELECT vin, msg_count, seq_max FROM vehicle_state")}
        assert len(want) == 300 and got == want, \
            [(v, want[v], got.get(v)) for v in want if got.get(v) != want[v]][:5]
        # every field of the contract is there, with plausible values
        row = gw.query("SELECT odometer_km, speed_kmh, ignition, fuel_pct, battery_v, "
                       "engine_hours, lat, lon, heading_deg, tire_fl_kpa, tire_rr_tread_mm, "
                       "tire_rl_temp_c, dtc FROM vehicle_state LIMIT 1")[0]
        assert None not in row, row
        assert 0 < row[0] < 2_000_000 and 0 <= row[3] <= 100 and 9 < row[4] < 15, row
        assert abs(row[6] - 36.67) < 1 and abs(row[7] - 116.89) < 1, row
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_faults_match_gateway_counts():
    wd = Workdir("simfaults")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="simfaults").start()
    try:
        s = run_sim(broker, "--vehicles", 200, "--count", 20000, "--seed", 9,
                    "--faults", "dup=0.02,reorder=0.02,skew=0.004,rollback=0.004,vin=0.004,"
                                "malformed=0.004", "--client-id", "simfaults")
        f = s["faults"]
        assert min(f["dup"], f["reorder"], f["skew"], f["rollback"], f["vin"],
                   f["malformed"]) > 20, f
        m = wait_done(gw, s["published"])
        rej = f["expect_rejected"]
        for reason, n in rej.items():
            assert m.get(f'pitwall_rejected_total{{reason="{reason}"}}', 0) == n, \
                (reason, n, {k: v for k, v in m.items() if "rejected" in k})
        assert m['pitwall_messages_total{result="rejected"}'] == sum(rej.values()), m
        assert m['pitwall_messages_total{result="duplicate"}'] == f["expect_duplicate"], m
        assert m.get("pitwall_odometer_rollbacks_total", 0) == f["expect_rollback"], m
        assert m['pitwall_messages_total{result="accepted"}'] == \
            s["published"] - f["dup"] - sum(rej.values()), m
        print(f"injected {json.dumps(f)}; gateway agrees", flush=True)
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_state_file_continues_seq_and_minimal_qos0():
    wd = Workdir("simstate")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="simstate").start()
    try:
        state = wd.file("seq.state")
        run_sim(broker, "--vehicles", 10, "--count", 100, "--state", state, "--seed", 4,
                "--client-id", "simstate")
        run_sim(broker, "--vehicles", 10, "--count", 100, "--state", state, "--seed", 4,
                "--fields", "minimal", "--client-id", "simstate")
        m = wait_done(gw, 200)
        assert m['pitwall_messages_total{result="accepted"}'] == 200, m
        assert m['pitwall_messages_total{result="duplicate"}'] == 0, m
        assert sorted(gw.query("SELECT msg_count, seq_max FROM vehicle_state")) == \
            [(20, 19)] * 10
        with open(state) as f:
            assert all(line.strip().endswith(",20") for line in f), "next seq 20 each"
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()

    wd = Workdir("simqos0")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="simqos0", config={"mqtt": {"qos": 0}}).start()
    try:
        s = run_sim(broker, "--vehicles", 50, "--count", 2000, "--qos", 0, "--rate", 2000,
                    "--client-id", "simqos0")
        assert s["acked"] == 2000, s
        m = wait_done(gw, 2000, timeout=30)
        assert m['pitwall_messages_total{result="rejected"}'] == 0, m
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    if not os.access(SIM, os.X_OK):
        raise SystemExit(f"{SIM} not built")
    harness.run_main([test_manifest_equals_database, test_faults_match_gateway_counts,
                      test_state_file_continues_seq_and_minimal_qos0])
