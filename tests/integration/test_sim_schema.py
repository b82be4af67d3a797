"""Everything pitwall-sim puts on the wire without --faults is valid per
the contract's JSON Schemas (schemas/, checked by the real validator, ajv
draft 2020-12): load mode (full and minimal objects), and the sample
store's morning in realistic mode (objects, offline batches, retained
status, the broker-published wills, plate reads). A subscriber records
every message on pitwall/# from a private mosquitto; node + ajv judge them.
Skipped (exit 0, says so) when node or the npm modules are missing:
scripts/test installs them.
"""
import json
import os
import shutil
import subprocess
import threading
import time

import harness
from harness import Broker, Workdir

SIM = harness.PITWALL_SIM
DATA = os.path.join(harness.SHARED_DIR, "data")

VALIDATE = r"""
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
const [src, file] = process.argv.slice(1);
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
for (const f of fs.readdirSync(path.join(src, 'schemas')).filter((f) => f.endsWith('.schema.json')))
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(src, 'schemas', f), 'utf8')));
const base = 'https://pitwall.example/schemas/v1/';
const kinds = { telemetry: 'telemetry', status: 'status', anpr: 'anpr' };
const counts = {}; let bad = 0;
for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
  const { topic, payload } = JSON.parse(line);
  const kind = kinds[topic.split('/').pop()];
  if (!kind) continue;
  const v = ajv.getSchema(base + kind + '.schema.json');
  const doc = JSON.parse(payload);
  counts[kind] = (counts[kind] || 0) + 1;
  if (Array.isArray(doc)) counts.batch = (counts.batch || 0) + 1;
  if (!v(doc)) {
    if (bad++ < 5) console.log('INVALID', topic, JSON.stringify(v.errors), payload.slice(0, 300));
  }
}
console.log(JSON.stringify({ counts, invalid: bad }));
process.exit(bad ? 1 : 0);
"""


class Recorder(threading.Thread):
    def __init__(self, broker, path):
        super().__init__(daemon=True)
        self.c = broker.client("schema-recorder")
        self.c.subscribe("pitwall/#", qos=1)
        self.out = open(path, "w")
        self.n = 0
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            self.c.poll(0.1)
            for topic, payload, _ in self.c.received:
                self.out.write(json.dumps({"topic": topic,
                                           "payload": payload.decode("utf-8")},
                                          ensure_ascii=False) + "\n")
                self.n += 1
            self.c.received.clear()

    def settle(self, idle=2.0):
        last, since = -1, time.time()
        while time.time() - since < idle:
            if self.n != last:
                last, since = self.n, time.time()
            time.sleep(0.1)

    def close(self):
        self.stop_flag.set()
        self.join()
        self.out.close()
        self.c.close()


def run_sim(broker, *args):
    p = subprocess.run([SIM, "--broker", broker.uri, *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_every_simulated_message_is_schema_valid():
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(harness.SOURCE_DIR, "node_modules", "ajv")):
        print("SKIP: node or node_modules/ajv missing (scripts/test installs them)")
        return
    wd = Workdir("simschema")
    broker = Broker(wd)
    rec = None
    try:
        path = wd.file("messages.jsonl")
        rec = Recorder(broker, path)
        rec.start()
        run_sim(broker, "--vehicles", 500, "--count", 5000, "--rate", 5000, "--seed", 21)
        run_sim(broker, "--vehicles", 50, "--count", 200, "--fields", "minimal")
        anchor = int(time.time()) + 1
        s = run_sim(broker, "--fleet", os.path.join(DATA, "vehicles.csv"),
                    "--appointments", os.path.join(DATA, "appointments.csv"),
                    "--site-file", os.path.join(DATA, "site.json"), "--realtime",
                    "--now", "2026-11-23T07:00:00+08:00", "--speedup", 1200,
                    "--anchor", anchor, "--duration", 3.5 * 3600, "--seed", 5)
        assert s["batches"] > 0 and s["plate_reads"] > 0 and s["offline_episodes"] >= 0, s
        rec.settle()
        rec.close()
        print(f"recorded {rec.n} messages", flush=True)
        p = subprocess.run([node, "--input-type=module", "-e", VALIDATE, harness.SOURCE_DIR,
                            path], capture_output=True, text=True, cwd=harness.SOURCE_DIR,
                           timeout=300)
        print(p.stdout.strip(), p.stderr.strip(), flush=True)
        assert p.returncode == 0, "schema-invalid messages (above)"
        counts = json.loads(p.stdout.strip().splitlines()[-1])["counts"]
        assert counts.get("batch", 0) > 0 and counts.get("anpr", 0) > 0 and \
            counts.get("status", 0) > 0, counts
    finally:
        if rec and not rec.stop_flag.is_set():
            rec.close()
        broker.stop()
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_every_simulated_message_is_schema_valid])
