"""Exactly once across crashes: a 50,000-message QoS 1 stream while the
gateway is killed with SIGKILL at five random moments (and restarted each
time), then the broker is restarted mid-stream. Every message must be
applied exactly once: per vehicle, the stored count and highest seq equal
what was published, and the state is the newest message's.
"""
import json
import os
import random
import signal
import time

import harness
from harness import Broker, Gateway, Workdir, make_vin, telemetry, topic

TOTAL = int(os.environ.get("PW_CRASH_MESSAGES", "50000"))
VEHICLES = 500


def publish(client, t, payload):
    """Publishes through a broker restart: reconnect and resend on failure."""
    while True:
        try:
            client.publish(t, payload, qos=1, window=200)
            return
        except (OSError, ConnectionError, TimeoutError):
            client.reconnect()
            return  # the message was in flight: reconnect() resent it


def test_sigkill_and_broker_restart_apply_everything_once():
    seed = int(os.environ.get("PW_CRASH_SEED", str(random.randrange(1 << 30))))
    print(f"seed {seed}", flush=True)
    rnd = random.Random(seed)
    kills = sorted(rnd.sample(range(TOTAL // 20, TOTAL * 8 // 10), 5))
    broker_restart_at = rnd.randrange(TOTAL * 8 // 10 + 1, TOTAL * 9 // 10)
    wd = Workdir("crash")
    broker = Broker(wd)
    gw = Gateway(wd, broker, site="crash", extra=()).start()
    pub = broker.client("crash-publisher", clean=False)
    base = harness.now_ms() - 600_000
    published = {}
    last = {}
    try:
        for i in range(TOTAL):
            n = i % VEHICLES
            vin = make_vin(n)
            seq = i // VEHICLES
            msg = telemetry(vin, seq, base + i, odometer_km=1000 + seq, fuel_pct=50 + seq % 40)
            publish(pub, topic(vin), json.dumps(msg))
            published[vin] = published.get(vin, 0) + 1
            last[vin] = msg
            if kills and i == kills[0]:
                kills.pop(0)
                # let the gateway be mid-stream, then pull the plug
                time.sleep(rnd.uniform(0.0, 0.3))
                gw.kill(signal.SIGKILL)
                gw.start()
            if i == broker_restart_at:
                broker.restart()
        while True:
            try:
                pub.wait_acked(timeout=120)
                break
            except (OSError, ConnectionError):
                pub.reconnect()
        # wait while the gateway makes progress (sanitizer builds are slow)
        applied, last_change = 0, time.time()
        while time.time() - last_change < 30:
            now_applied = gw.query("SELECT COALESCE(SUM(msg_count), 0) FROM vehicle_state")[0][0]
            if now_applied >= TOTAL:
                break
            if now_applied != applied:
                applied, last_change = now_applied, time.time()
            time.sleep(0.5)
        time.sleep(1.0)  # anything redelivered late must still be a duplicate
        rows = gw.query("SELECT vin, msg_count, seq_max, odometer_km FROM vehicle_state")
        assert len(rows) == VEHICLES, f"{len(rows)} vehicles"
        wrong = [(vin, cnt, smax) for vin, cnt, smax, _ in rows
                 if cnt != published[vin] or smax != published[vin] - 1]
        assert not wrong, f"{len(wrong)} vehicles off, e.g. {wrong[:5]}"
        for vin, _, _, odo in rows:
            assert odo == last[vin]["odometer_km"], f"{vin} odometer {odo}"
        total = sum(r[1] for r in rows)
        assert total == TOTAL, f"applied {total} of {TOTAL}"
        print(f"{gw.starts} gateway starts, {TOTAL} messages applied exactly once", flush=True)
    finally:
        pub.close()
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_sigkill_and_broker_restart_apply_everything_once])
