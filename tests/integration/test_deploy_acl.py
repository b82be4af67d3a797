"""The production broker policy (deploy/pitwall.acl) on a real mosquitto:
no anonymous clients; the gateway logs in with its password file; a device
may publish only under its own pitwall/v1/vehicles/{vin}/; only cameras
publish plate reads.
"""
import json
import os
import subprocess
import time

import harness
from harness import Gateway, Workdir, make_vin, telemetry, topic

CONF = """per_listener_settings false
listener {port} 127.0.0.1
allow_anonymous false
password_file {dir}/passwd
acl_file {source}/deploy/pitwall.acl
persistence false
max_queued_messages 10000
set_tcp_nodelay true
message_size_limit 65536
log_dest stdout
"""


class PolicyBroker(harness.Broker):
    """A private mosquitto with the production password file and ACL."""

    def __init__(self, workdir, users):
        self.dir = workdir
        self.port = harness.free_port()
        self.conf = workdir.file("mosquitto.conf")
        passwd = workdir.file("passwd")
        open(passwd, "w").close()
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", passwd, user, password], check=True)
        os.chmod(workdir.path, 0o755)
        os.chmod(passwd, 0o644)
        with open(self.conf, "w") as f:
            f.write(CONF.format(port=self.port, dir=workdir.path, source=harness.SOURCE_DIR))
        self.proc = None
        self.log = open(workdir.file("mosquitto.log"), "ab")
        self.start()


def test_devices_publish_only_under_their_own_vin():
    vin_a, vin_b = make_vin(1), make_vin(2)
    users = {"pitwall-gateway": "gw-secret", vin_a: "a-secret", vin_b: "b-secret",
             "camera-entrance-1": "cam-secret"}
    wd = Workdir("acl")
    broker = PolicyBroker(wd, users)
    with open(wd.file("gateway.passwd"), "w") as f:
        f.write("gw-secret\n")
    gw = Gateway(wd, broker, site="acl", config={
        "mqtt": {"username": "pitwall-gateway", "password_file": wd.file("gateway.passwd")}})
    gw.start()
    try:
        # anonymous clients are refused
        try:
            broker.client("anonymous")
            raise AssertionError("an anonymous client was let in")
        except ConnectionError:
            pass
        now = harness.now_ms()
        dev_a = broker.client("dev-a", username=vin_a, password="a-secret")
        dev_a.publish(topic(vin_a), json.dumps(telemetry(vin_a, 1, now, odometer_km=10)))
        # A pretending to be B, and A pretending to be a camera: the broker drops both
        dev_a.publish(topic(vin_b), json.dumps(telemetry(vin_b, 1, now, odometer_km=99)))
        dev_a.publish("pitwall/v1/sites/acl/anpr", json.dumps(
            {"v": 1, "ts": now, "plate": "鲁A12345", "camera": "entrance-1", "confidence": 0.9}))
        dev_a.wait_acked()
        dev_b = broker.client("dev-b", username=vin_b, password="b-secret")
        dev_b.publish(topic(vin_b), json.dumps(telemetry(vin_b, 2, now, odometer_km=20)))
        dev_b.wait_acked()
        cam = broker.client("cam", username="camera-entrance-1", password="cam-secret")
        cam.publish("pitwall/v1/sites/acl/anpr", json.dumps(
            {"v": 1, "ts": now, "plate": "鲁A12345", "camera": "entrance-1", "confidence": 0.9}))
        cam.wait_acked()
        gw.wait_metric('pitwall_messages_total{result="accepted"}', 3, timeout=20)
        time.sleep(0.5)
        m = gw.metrics()
        assert m['pitwall_messages_total{result="accepted"}'] == 3, m
        assert m["pitwall_anpr_reads_total"] == 1, "only the camera's plate read arrives"
        rows = dict(gw.query("SELECT vin, odometer_km FROM vehicle_state"))
        assert rows == {vin_a: 10.0, vin_b: 20.0}, rows
    finally:
        gw.stop()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_devices_publish_only_under_their_own_vin])
