"""test_import — `pitwall import` end to end, on real SQLite files.

The sample dealership (../shared/data) imports cleanly, in order, into a
fresh database with the row counts of its files; a re-import updates every
row and changes nothing. Every broken file of tests/data/bad-csv exits 2
with the line-numbered errors its expected.json lists and leaves the
database's content as it was (table dumps compared). Plus: usage errors,
the import order, the site time zone from --config, and quoting, BOM, CRLF
and blank lines in a good file. Stdlib only.
"""
import csv
import datetime
import json
import os
import re
import sqlite3
import subprocess
import sys
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DATA = os.path.join(harness.SHARED_DIR, "data")
BAD_DIR = os.path.join(harness.SOURCE_DIR, "tests", "data", "bad-csv")
ORDER = ["advisors", "customers", "vehicles", "appointments", "policies", "services"]
TABLES = {"advisors": "advisor", "customers": "customer", "vehicles": "vehicle",
          "appointments": "appointment", "policies": "policy", "services": "service_visit"}
ID_COLUMN = {"advisors": "advisor_id", "customers": "customer_id", "vehicles": "vin",
             "appointments": "appointment_id", "policies": "policy_id", "services": "service_id"}


def pitwall_import(db, kind, path, *extra):
    return subprocess.run([harness.PITWALL, "import", "--db", db, *extra, kind, path],
                          capture_output=True, text=True, errors="replace", timeout=120)


def sample_rows(kind):
    with open(os.path.join(DATA, f"{kind}.csv"), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def dump(db):
    """The database's content, table by table, as SQL text."""
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def query(db, sql, params=()):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def load_sample(db):
    for kind in ORDER:
        r = pitwall_import(db, kind, os.path.join(DATA, f"{kind}.csv"))
        assert r.returncode == 0, f"{kind}: exit {r.returncode}\n{r.stderr}"
    return db


def test_sample_imports_in_order():
    wd = harness.Workdir("import")
    try:
        db = wd.file("fresh.db")
        for kind in ORDER:
            path = os.path.join(DATA, f"{kind}.csv")
            rows = sample_rows(kind)
            r = pitwall_import(db, kind, path)
            assert r.returncode == 0, f"{kind}: exit {r.returncode}\n{r.stderr}"
            want = f"imported {len(rows)} {kind} ({len(rows)} new, 0 updated) from {path}"
            assert r.stdout.strip() == want, (r.stdout, want)
            (n,), = query(db, f"SELECT count(*) FROM {TABLES[kind]}")
            assert n == len(rows), (kind, n, len(rows))
            ids = {row[0] for row in query(db, f"SELECT {ID_COLUMN[kind]} FROM {TABLES[kind]}")}
            assert ids == {row[ID_COLUMN[kind]] for row in rows}, kind
        counts = {k: len(sample_rows(k)) for k in ORDER}
        assert counts == {"advisors": 6, "customers": 400, "vehicles": 450,
                          "appointments": 50, "policies": 801, "services": 2098}, counts

        # every value as the files say, computed here from the CSV
        tz = zoneinfo.ZoneInfo(json.load(open(os.path.join(DATA, "site.json")))["timezone"])
        got = {a: (v, s, loc, ms, adv) for a, v, loc, ms, s, adv in
               query(db, "SELECT appointment_id, vin, start_local, start_ms, service, "
                         "advisor_id FROM appointment")}
        for row in sample_rows("appointments"):
            local = datetime.datetime.strptime(row["start"], "%Y-%m-%dT%H:%M")
            ms = int(local.replace(tzinfo=tz).timestamp() * 1000)
            assert got[row["appointment_id"]] == (row["vin"], row["service"], row["start"], ms,
                                                  row["advisor_id"]), row
        vehicles = {r[0]: r[1:] for r in query(
            db, "SELECT vin, plate, customer_id, brand, model, model_year, purchase_date, "
                "purchase_odometer_km FROM vehicle")}
        for row in sample_rows("vehicles"):
            assert vehicles[row["vin"]] == (row["plate"], row["customer_id"], row["brand"],
                                            row["model"], int(row["model_year"]),
                                            row["purchase_date"],
                                            float(row["purchase_odometer_km"])), row
        customers = {r[0]: r[1:] for r in query(
            db, "SELECT customer_id, name, gender, phone, tier, advisor_id, display_consent "
                "FROM customer")}
        for row in sample_rows("customers"):
            assert customers[row["customer_id"]] == (
                row["name"], row["gender"], row["phone"], row["tier"], row["advisor_id"],
                1 if row["display_consent"] == "yes" else 0), row
        (fk,), = query(db, "SELECT count(*) FROM pragma_foreign_key_check")
        assert fk == 0
    finally:
        wd.cleanup()


def test_reimport_is_idempotent():
    wd = harness.Workdir("import")
    try:
        db = load_sample(wd.file("pitwall.db"))
        before = dump(db)
        for kind in ORDER:
            path = os.path.join(DATA, f"{kind}.csv")
            n = len(sample_rows(kind))
            r = pitwall_import(db, kind, path)
            assert r.returncode == 0, r.stderr
            assert f"imported {n} {kind} (0 new, {n} updated)" in r.stdout, r.stdout
        assert dump(db) == before
    finally:
        wd.cleanup()


def test_bad_csv_files():
    with open(os.path.join(BAD_DIR, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    files = sorted(n for n in os.listdir(BAD_DIR) if n.endswith(".csv"))
    assert sorted(expected) == files, "expected.json and the files disagree"
    for must in ("missing-column", "bad-date", "unknown-customer", "duplicate-plate",
                 "bad-vin", "gbk", "empty"):
        assert any(must in n for n in files), must
    wd = harness.Workdir("import-bad")
    try:
        db = load_sample(wd.file("pitwall.db"))
        before = dump(db)
        mtime_rows = query(db, "SELECT count(*) FROM service_visit")
        for name in files:
            path = os.path.join(BAD_DIR, name)
            spec = expected[name]
            r = pitwall_import(db, spec["kind"], path)
            assert r.returncode == 2, f"{name}: exit {r.returncode}\n{r.stdout}{r.stderr}"
            assert r.stdout == "", f"{name}: printed {r.stdout!r}"
            lines = r.stderr.splitlines()
            assert lines and lines[-1].startswith(f"{path}: nothing imported: "), \
                f"{name}:\n{r.stderr}"
            errors = [ln for ln in lines if re.match(re.escape(path) + r":\d+: ", ln)]
            assert len(errors) == len(lines) - 1, f"{name}: unexpected lines\n{r.stderr}"
            for line, text in spec["errors"]:
                prefix = f"{path}:{line}: "
                assert any(ln.startswith(prefix) and text in ln for ln in errors), \
                    f"{name}: no error at line {line} with {text!r}; got:\n{r.stderr}"
            reported = {int(ln[len(path) + 1:].split(":", 1)[0]) for ln in errors}
            assert reported == {line for line, _ in spec["errors"]}, \
                f"{name}: errors on lines {sorted(reported)}\n{r.stderr}"
            assert dump(db) == before, f"{name}: the database changed"
        assert query(db, "SELECT count(*) FROM service_visit") == mtime_rows
    finally:
        wd.cleanup()


def test_wrong_order_on_a_fresh_database():
    wd = harness.Workdir("import")
    try:
        db = wd.file("fresh.db")
        r = pitwall_import(db, "vehicles", os.path.join(DATA, "vehicles.csv"))
        assert r.returncode == 2, r.stderr
        first = r.stderr.splitlines()[0]
        assert re.match(r".*vehicles\.csv:2: column customer_id: \"C00001\": no such customer "
                        r"\(import customers before vehicles\)$", first), first
        assert "450 errors on 450 lines" in r.stderr.splitlines()[-1], r.stderr
        assert "more errors not shown" in r.stderr
        assert len([ln for ln in r.stderr.splitlines() if "no such customer" in ln]) == 50
        assert query(db, "SELECT count(*) FROM vehicle") == [(0,)]
    finally:
        wd.cleanup()


def test_usage():
    wd = harness.Workdir("import")
    try:
        db = wd.file("u.db")
        advisors = os.path.join(DATA, "advisors.csv")
        cases = [
            ([], 2, "expected KIND and FILE.csv"),
            (["advisors"], 2, "expected KIND and FILE.csv"),
            (["--db", db, "advisor", advisors], 2, "unknown kind 'advisor'"),
            (["--db", db, "advisors", wd.file("missing.csv")], 2, "missing.csv: No such file"),
            (["--db", db, "advisors", advisors, "extra"], 2, "expected KIND and FILE.csv"),
            (["--db", db, "--bogus", "advisors", advisors], 2, "usage: pitwall import"),
            (["--db", db, "advisors", wd.path], 2, wd.path),
        ]
        for args, status, text in cases:
            r = subprocess.run([harness.PITWALL, "import", *args], capture_output=True,
                               text=True, timeout=30)
            assert r.returncode == status, (args, r.returncode, r.stderr)
            assert text in r.stderr, (args, r.stderr)
        r = subprocess.run([harness.PITWALL, "import", "--help"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith("usage: pitwall import"), r
        # options after the arguments work too
        r = subprocess.run([harness.PITWALL, "import", "advisors", advisors, "--db", db],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        # a database that cannot be opened is a runtime failure
        r = pitwall_import(os.path.join(wd.path, "no", "such", "dir.db"), "advisors", advisors)
        assert r.returncode == 1, (r.returncode, r.stderr)
    finally:
        wd.cleanup()


def test_site_time_zone_from_config():
    wd = harness.Workdir("import")
    try:
        db = load_sample(wd.file("pitwall.db"))
        (sh,), = query(db, "SELECT start_ms FROM appointment WHERE appointment_id = 'AP112301'")
        cfg = wd.file("tokyo.json")
        with open(cfg, "w") as f:
            json.dump({"site": {"timezone": "Asia/Tokyo"}}, f)
        r = pitwall_import(db, "appointments", os.path.join(DATA, "appointments.csv"),
                           "--config", cfg)
        assert r.returncode == 0, r.stderr
        (tk,), = query(db, "SELECT start_ms FROM appointment WHERE appointment_id = 'AP112301'")
        assert sh - tk == 3600 * 1000, (sh, tk)
        # the config's db.path is used when --db is not given
        with open(cfg, "w") as f:
            json.dump({"site": {"timezone": "Asia/Shanghai"}, "db": {"path": db}}, f)
        r = subprocess.run([harness.PITWALL, "import", "--config", cfg, "appointments",
                            os.path.join(DATA, "appointments.csv")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT start_ms FROM appointment WHERE appointment_id = 'AP112301'") \
            == [(sh,)]
        before = dump(db)
        with open(cfg, "w") as f:
            json.dump({"site": {"timezone": "Europe/Berlin"}}, f)
        r = pitwall_import(db, "appointments", os.path.join(DATA, "appointments.csv"),
                           "--config", cfg)
        assert r.returncode == 2 and "site.timezone: 'Europe/Berlin' is not supported" \
            in r.stderr, r.stderr
        with open(cfg, "w") as f:
            json.dump({"site": {"timezone": "Asia/Shanghai"}, "bogus": 1}, f)
        r = pitwall_import(db, "appointments", os.path.join(DATA, "appointments.csv"),
                           "--config", cfg)
        assert r.returncode == 2 and "bogus" in r.stderr, r.stderr
        assert dump(db) == before
    finally:
        wd.cleanup()


def test_quoting_bom_crlf_blank_lines():
    wd = harness.Workdir("import")
    try:
        db = load_sample(wd.file("pitwall.db"))
        path = wd.file("advisors.csv")
        with open(path, "wb") as f:
            f.write("\ufeffadvisor_id,name,desk\r\n\r\n"
                    "A07,\"Smith, \"\"Jo\"\"\",7\r\n"
                    "\"A08\",钱伟,\"8\"\r\n\r\n".encode("utf-8"))
        r = pitwall_import(db, "advisors", path)
        assert r.returncode == 0, r.stderr
        assert "imported 2 advisors (2 new, 0 updated)" in r.stdout, r.stdout
        assert query(db, "SELECT name, desk FROM advisor WHERE advisor_id IN ('A07', 'A08') "
                         "ORDER BY advisor_id") == [('Smith, "Jo"', "7"), ("钱伟", "8")]
        # plates are stored upper-cased, as the plate camera reports them
        path = wd.file("vehicles.csv")
        vin = harness.make_vin(912345)
        with open(path, "w", encoding="utf-8") as f:
            f.write("vin,plate,customer_id,brand,model,model_year,purchase_date,"
                    f"purchase_odometer_km\n{vin},鲁ad12345,C00001,大众,ID.4 CROZZ,2025,"
                    "2025-06-01,12.5\n")
        r = pitwall_import(db, "vehicles", path)
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT plate, purchase_odometer_km FROM vehicle WHERE vin = ?",
                     (vin,)) == [("鲁AD12345", 12.5)]
    finally:
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_sample_imports_in_order, test_reimport_is_idempotent,
                      test_bad_csv_files, test_wrong_order_on_a_fresh_database, test_usage,
                      test_site_time_zone_from_config, test_quoting_bom_crlf_blank_lines])
