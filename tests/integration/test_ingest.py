"""Ingest end to end: real mosquitto, the real gateway, a real SQLite file.

- 20,000 messages for 1,000 vehicles: every stored state equals the newest
  message; the same stream shuffled and with duplicates gives the same state.
- Bad input over MQTT is rejected with the right reason, published on
  .../rejected without the payload, and the gateway keeps serving.
- SIGTERM exits 0 promptly; state survives a restart.
"""
import json
import random
import signal
import time

import harness
from harness import Broker, Gateway, Workdir, make_vin, telemetry, topic

VEHICLES = 1000
PER_VEHICLE = 20
FIELDS = ["odometer_km", "speed_kmh", "fuel_pct", "fuel_l_per_100km", "battery_v",
          "engine_hours", "lat", "lon", "heading_deg"]
TIRES = ["fl", "fr", "rl", "rr"]


def make_stream(seed, base_ts):
    """PER_VEHICLE full messages per vehicle, in publish (= ts) order."""
    rnd = random.Random(seed)
    msgs = []
    odo = {}
    for seq in range(PER_VEHICLE):
        for n in range(VEHICLES):
            vin = make_vin(n)
            odo[vin] = odo.get(vin, rnd.randint(100, 90000)) + rnd.randint(0, 30)
            dtc = []
            if rnd.random() < 0.2:
                dtc = [{"code": rnd.choice(["P0301", "P0171", "C0035", "B1000", "U0100"]),
                        "status": rnd.choice(["pending", "confirmed", "permanent"]),
                        "mil": rnd.random() < 0.5}]
            msgs.append(telemetry(
                vin, seq, base_ts + seq * 10_000 + n,
                odometer_km=odo[vin] + 0.5, speed_kmh=round(rnd.uniform(0, 130), 1),
                ignition=rnd.choice(["off", "acc", "on"]),
                fuel_pct=round(rnd.uniform(5, 100), 1),
                fuel_l_per_100km=round(rnd.uniform(4, 15), 1),
                battery_v=round(rnd.uniform(11, 14.5), 2),
                engine_hours=round(1000 + seq * 0.1, 1),
                lat=round(36.6 + rnd.uniform(-0.2, 0.2), 6),
                lon=round(116.9 + rnd.uniform(-0.2, 0.2), 6),
                heading_deg=round(rnd.uniform(0, 359), 1),
                tires={t: {"kpa": round(rnd.uniform(200, 260), 1),
                           "tread_mm": round(rnd.uniform(2, 8), 1),
                           "temp_c": round(rnd.uniform(-5, 60), 1)} for t in TIRES},
                dtc=dtc))
    return msgs


def publish_all(broker, msgs, client_id):
    c = broker.client(client_id)
    for m in msgs:
        c.publish(topic(m["vin"]), json.dumps(m), qos=1)
    c.wait_acked()
    c.close()


def newest_by_vin(msgs):
    newest = {}
    for m in msgs:
        if m["vin"] not in newest or m["ts"] > newest[m["vin"]]["ts"]:
            newest[m["vin"]] = m
    return newest


def stored_states(gw):
    cols = FIELDS + ["ignition", "dtc", "seq_max", "msg_count", "ts_ms"] + [
        f"tire_{t}_{k}" for t in TIRES for k in ("kpa", "tread_mm", "temp_c")]
    rows = gw.query(f"SELECT vin, {', '.join(cols)} FROM vehicle_state")
    return {r[0]: dict(zip(cols, r[1:])) for r in rows}


def close(a, b):
    return abs(float(a) - float(b)) <= 1e-3 * max(1.0, abs(float(b)))


def check_state_equals_newest(states, newest):
    assert len(states) == len(newest), f"{len(states)} vehicles stored, {len(newest)} sent"
    for vin, m in newest.items():
        s = states[vin]
        for f in FIELDS:
            assert close(s[f], m[f]), f"{vin} {f}: stored {s[f]}, newest {m[f]}"
        assert s["ignition"] == m["ignition"], f"{vin} ignition {s['ignition']}"
        for t in TIRES:
            for k in ("kpa", "tread_mm", "temp_c"):
                assert close(s[f"tire_{t}_{k}"], m["tires"][t][k]), f"{vin} tire {t} {k}"
        stored_dtc = json.loads(s["dtc"]) if s["dtc"] else []
        assert sorted(d["code"] for d in stored_dtc) == sorted(d["code"] for d in m["dtc"]), \
            f"{vin} dtc {stored_dtc} != {m['dtc']}"
        assert s["ts_ms"] == m["ts"], f"{vin} ts"
        assert s["seq_max"] == PER_VEHICLE - 1 and s["msg_count"] == PER_VEHICLE, \
            f"{vin}: seq_max {s['seq_max']} msg_count {s['msg_count']}"


def run_stream(name, msgs, expected_objects):
    wd = Workdir(name)
    broker = Broker(wd)
    gw = Gateway(wd, broker, site=name).start()
    try:
        publish_all(broker, msgs, f"{name}-publisher")
        total = gw.wait_metric('pitwall_messages_total{result="accepted"}', expected_objects)
        m = gw.metrics()
        assert m['pitwall_messages_total{result="accepted"}'] == expected_objects, total
        gw.wait_query("SELECT SUM(msg_count) FROM vehicle_state", [(expected_objects,)])
        assert m['pitwall_messages_total{result="rejected"}'] == 0
        return stored_states(gw), m
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_state_equals_newest_and_shuffled_duplicates_agree():
    base = harness.now_ms() - 3_600_000
    msgs = make_stream(7, base)
    assert len(msgs) == VEHICLES * PER_VEHICLE == 20_000
    newest = newest_by_vin(msgs)

    in_order, _ = run_stream("inorder", msgs, len(msgs))
    check_state_equals_newest(in_order, newest)

    rnd = random.Random(11)
    shuffled = msgs + rnd.sample(msgs, 2000)  # 2,000 duplicates
    rnd.shuffle(shuffled)
    reordered, m = run_stream("shuffled", shuffled, len(msgs))
    assert m['pitwall_messages_total{result="duplicate"}'] == 2000, m
    check_state_equals_newest(reordered, newest)
    for vin in newest:
        for k, v in in_order[vin].items():
            if k == "dtc":
                continue
            assert v == reordered[vin][k], f"{vin} {k}: in order {v}, shuffled {reordered[vin][k]}"


BAD_CASES = [
    # (name, payload bytes, expected reason, topic vin differs?)
    ("1 MiB payload", b'{"v":1,"pad":"' + b"x" * (1 << 20) + b'"}', "too_large"),
    ("10,000-deep unclosed nesting", b"[" * 10000, "too_deep"),
    ("10,000-deep closed nesting", b"[" * 10000 + b"]" * 10000, "too_large"),
    ("invalid UTF-8", None, "bad_utf8"),
    ("1e999", None, "number_overflow"),
    ("NaN literal", None, "bad_json"),
    ("wrong type seq", None, "bad_type"),
    ("VIN mismatch", None, "vin_mismatch"),
    ("ts in the future", None, "ts_future"),
    ("ts too old", None, "ts_too_old"),
    ("odometer out of range", None, "out_of_range"),
    ("not an object", b'"hello"', "not_object"),
    ("missing seq", None, "missing_field"),
]


def bad_payload(name, vin, now):
    good = {"v": 1, "vin": vin, "seq": 1, "ts": now}
    if name == "invalid UTF-8":
        return b'{"v":1,"vin":"' + vin.encode() + b'","seq":1,"ts":' + str(now).encode() + \
            b',"note":"\xff\xfe"}'
    if name == "1e999":
        return ('{"v":1,"vin":"%s","seq":1,"ts":%d,"odometer_km":1e999}' % (vin, now)).encode()
    if name == "NaN literal":
        return ('{"v":1,"vin":"%s","seq":1,"ts":%d,"speed_kmh":NaN}' % (vin, now)).encode()
    if name == "wrong type seq":
        return json.dumps(dict(good, seq="1")).encode()
    if name == "VIN mismatch":
        return json.dumps(dict(good, vin=make_vin(999))).encode()
    if name == "ts in the future":
        return json.dumps(dict(good, ts=now + 10 * 60_000)).encode()
    if name == "ts too old":
        return json.dumps(dict(good, ts=now - 31 * 86_400_000)).encode()
    if name == "odometer out of range":
        return json.dumps(dict(good, odometer_km=2_000_001)).encode()
    if name == "missing seq":
        return json.dumps({"v": 1, "vin": vin, "ts": now}).encode()
    raise KeyError(name)


def test_bad_input_rejected_with_reasons():
    wd = Workdir("bad")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="bad").start()
    try:
        watcher = broker.client("bad-watcher")
        watcher.subscribe("pitwall/v1/sites/bad/rejected", qos=0)
        pub = broker.client("bad-publisher")
        vin = make_vin(1)
        now = harness.now_ms()
        expected = {}
        for name, payload, reason in BAD_CASES:
            payload = payload if payload is not None else bad_payload(name, vin, now)
            pub.publish(topic(vin), payload, qos=1)
            expected[reason] = expected.get(reason, 0) + 1
        # a batch: two good objects and one bad one, judged one by one
        batch = [telemetry(vin, 10, now), {"v": 1, "vin": vin, "seq": "x", "ts": now},
                 telemetry(vin, 11, now)]
        pub.publish(topic(vin), json.dumps(batch), qos=1)
        expected["bad_type"] += 1
        pub.wait_acked()
        total_bad = sum(expected.values())
        gw.wait_metric('pitwall_messages_total{result="rejected"}', total_bad, timeout=30)
        gw.wait_metric('pitwall_messages_total{result="accepted"}', 2, timeout=30)
        m = gw.metrics()
        for reason, n in expected.items():
            got = m.get(f'pitwall_rejected_total{{reason="{reason}"}}')
            assert got == n, f"reason {reason}: counted {got}, expected {n}"
        deadline = time.time() + 10
        while len(watcher.received) < total_bad and time.time() < deadline:
            watcher.poll(0.1)
        reasons = sorted(json.loads(p)["reason"] for _, p, _ in watcher.received)
        assert reasons == sorted(r for r, n in expected.items() for _ in range(n)), reasons
        for _, p, _ in watcher.received:
            notice = json.loads(p)
            assert set(notice) >= {"topic", "reason", "ts"}, notice
            assert len(p) < 600, "a rejection notice must not echo the payload"
        h = gw.healthz()
        assert h["ok"] is True and h["mqtt"] == "connected", h
        gw.wait_query("SELECT msg_count FROM vehicle_state WHERE vin = ?", [(2,)], (vin,))
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


def test_sigterm_exits_cleanly_and_state_reloads():
    wd = Workdir("term")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="term").start()
    try:
        pub = broker.client("term-publisher")
        vin = make_vin(5)
        now = harness.now_ms()
        for seq in range(10):
            pub.publish(topic(vin), json.dumps(telemetry(vin, seq, now - 10_000 + seq,
                                                         odometer_km=100 + seq)))
        pub.wait_acked()
        gw.wait_metric('pitwall_messages_total{result="accepted"}', 10)
        t0 = time.time()
        rc = gw.kill(signal.SIGTERM)
        assert rc == 0, f"exit status {rc} after SIGTERM"
        assert time.time() - t0 < 5, "SIGTERM took more than 5 s"
        gw.start()
        assert gw.metric("pitwall_vehicles") == 1
        # the same messages again are duplicates after the restart
        for seq in range(10):
            pub.publish(topic(vin), json.dumps(telemetry(vin, seq, now - 10_000 + seq,
                                                         odometer_km=100 + seq)))
        pub.publish(topic(vin), json.dumps(telemetry(vin, 10, now, odometer_km=120)))
        pub.wait_acked()
        gw.wait_metric('pitwall_messages_total{result="accepted"}', 1)
        gw.wait_metric('pitwall_messages_total{result="duplicate"}', 10)
        gw.wait_query("SELECT msg_count, seq_max, odometer_km FROM vehicle_state",
                      [(11, 10, 120.0)])
        retained = broker.client("term-watch")
        retained.subscribe("pitwall/v1/sites/term/gateway", qos=1)
        retained.poll(1.0)
        assert retained.received and json.loads(retained.received[-1][1])["online"] is True
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_bad_input_rejected_with_reasons,
                      test_sigterm_exits_cleanly_and_state_reloads,
                      test_state_equals_newest_and_shuffled_duplicates_agree])
