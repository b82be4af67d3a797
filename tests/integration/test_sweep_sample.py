#!/usr/bin/env python3
"""test_sweep_sample — `pitwall sweep` on the sample dealership against
reminder lists computed here, independently, from the CSV files.

Issue 4 "Done when": import ../shared/data with `pitwall import`, run
`pitwall sweep --now 2026-11-23`, and compare what it prints with lists this
file computes from the CSVs alone, following DESIGN "Rules" with the
defaults of docs/config.md (no gateway code is called for the expectation):

- maintenance: first service 5,000 km / 6 months after purchase, then every
  10,000 km / 12 months after the newest first_service or maintenance
  visit, whichever first; due at <= 1,000 km or <= 7 days (by date or by
  the predicted date of the km limit), overdue past either. The odometer
  today is predicted from the newest reading (any visit, or the purchase)
  at the daily km: telemetry over the last 30 days when there are >= 7 days
  of it, else the lifetime average from purchase to the newest reading,
  else 40 km a day (rules.maintenance.default_daily_km);
- insurance: per vehicle and policy kind the latest expiry; a reminder at
  90, 30 and 7 days before it (info, info, warning) and critical from the
  expiry day;
- follow-ups: 3 days after a visit, 7 after purchase, for the days since
  the previous sweep (the first sweep: that day only);
- lost customers: no visit (or purchase) for 365 days while telemetry shows
  the car driven over the last 30 days — with the bare CSVs there is no
  telemetry, so none; a second run seeds vehicle_day for a third of the
  cars and checks lost customers and the telemetry prediction too.

Then later days: each sweep raises only what is new (a stage reached, due
becoming overdue, the follow-ups of the days in between), never an episode
twice.
"""
import calendar
import csv
import datetime
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PITWALL, SHARED_DIR, Workdir  # noqa: E402

DATA = os.path.join(SHARED_DIR, "data")
KINDS = ["advisors", "customers", "vehicles", "appointments", "policies", "services"]

# docs/config.md defaults
FIRST_KM, FIRST_MONTHS = 5000.0, 6
INTERVAL_KM, INTERVAL_MONTHS = 10000.0, 12
LEAD_KM, LEAD_DAYS = 1000.0, 7
WINDOW_DAYS, MIN_DATA_DAYS, DEFAULT_DAILY_KM = 30, 7, 40.0
INSURANCE_LEADS = [90, 30, 7]
LOST_DAYS = 365
FOLLOWUP_VISIT, FOLLOWUP_PURCHASE = 3, 7


def d(s):
    return datetime.date.fromisoformat(s)


def add_months(day, n):
    idx = day.year * 12 + day.month - 1 + n
    y, m = divmod(idx, 12)
    m += 1
    return datetime.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def read(kind):
    with open(os.path.join(DATA, f"{kind}.csv"), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


class Dealer:
    def __init__(self):
        self.vehicles = read("vehicles")
        self.policies = read("policies")
        self.services = read("services")


def newest(rows):
    """The newest visit: the later date, then the higher odometer."""
    return max(rows, key=lambda r: (r["date"], float(r["odometer_km"])), default=None)


def expect_maintenance(dealer, today, telemetry=None):
    """{vin: (type, since, due_by, limit_date, limit_km, predicted_date, odometer, source)}.
    telemetry: {vin: {day: km}} of vehicle_day rows (complete days only)."""
    out = {}
    for v in dealer.vehicles:
        vin = v["vin"]
        purchase, p_km = d(v["purchase_date"]), float(v["purchase_odometer_km"])
        visits = [s for s in dealer.services if s["vin"] == vin and d(s["date"]) <= today]
        services = [s for s in visits if s["kind"] in ("first_service", "maintenance")]
        reading_day, reading_km = purchase, p_km
        last_visit = newest(visits)
        if last_visit and (d(last_visit["date"]) > reading_day or
                           (d(last_visit["date"]) == reading_day and
                            float(last_visit["odometer_km"]) > reading_km)):
            reading_day, reading_km = d(last_visit["date"]), float(last_visit["odometer_km"])
        days = {}
        if telemetry and vin in telemetry:
            lo = today - datetime.timedelta(days=WINDOW_DAYS)
            days = {k: km for k, km in telemetry[vin].items()
                    if lo <= k <= today - datetime.timedelta(days=1)}
        data_days = (today - min(days)).days if days else 0
        if data_days >= MIN_DATA_DAYS:
            daily, source = sum(days.values()) / data_days, "telemetry"
        elif (reading_day - purchase).days >= 1 and reading_km >= p_km:
            daily, source = (reading_km - p_km) / (reading_day - purchase).days, "lifetime"
        else:
            daily, source = DEFAULT_DAILY_KM, "default"
        odometer = reading_km + daily * max(0, (today - reading_day).days)
        svc = newest(services)
        if svc:
            since, limit_km = d(svc["date"]), float(svc["odometer_km"]) + INTERVAL_KM
            limit_day = add_months(since, INTERVAL_MONTHS)
        else:
            since, limit_km = purchase, p_km + FIRST_KM
            limit_day = add_months(purchase, FIRST_MONTHS)
        remaining = limit_km - odometer
        if remaining <= 0:
            km_day = today
        elif daily > 0:
            km_day = today + datetime.timedelta(days=math.floor(remaining / daily))
        else:
            km_day = None
        due_day = min(x for x in (km_day, limit_day) if x is not None)
        if remaining < 0 or today > limit_day:
            kind, by_km = "maintenance_overdue", remaining < 0
        elif remaining <= LEAD_KM or (due_day - today).days <= LEAD_DAYS:
            kind = "maintenance_due"
            by_km = remaining <= LEAD_KM or (km_day is not None and km_day < limit_day)
        else:
            continue
        out[vin] = (kind, since.isoformat(), "km" if by_km else "date", limit_day.isoformat(),
                    round(limit_km, 1), due_day.isoformat(), round(odometer, 1), source)
    return out


def expect_insurance(dealer, today):
    """{(vin, policy_kind): (expiry, days_left, lead_days, severity, policy_id, stage)}."""
    latest = {}
    for p in dealer.policies:
        key = (p["vin"], p["kind"])
        if key not in latest or p["expiry_date"] > latest[key]["expiry_date"]:
            latest[key] = p
    out = {}
    for key, p in latest.items():
        left = (d(p["expiry_date"]) - today).days
        if left <= 0:
            out[key] = (p["expiry_date"], left, 0, "critical", p["policy_id"], 4)
            continue
        reached = [(i, lead) for i, lead in enumerate(INSURANCE_LEADS) if left <= lead]
        if not reached:
            continue
        i, lead = reached[-1]
        sev = "warning" if i == len(INSURANCE_LEADS) - 1 else "info"
        out[key] = (p["expiry_date"], left, lead, sev, p["policy_id"], i + 1)
    return out


def expect_followups(dealer, today, last_day):
    """{(vin, subject)} for the days (last_day, today]."""
    out = set()
    for s in dealer.services:
        due = d(s["date"]) + datetime.timedelta(days=FOLLOWUP_VISIT)
        if last_day < due <= today:
            out.add((s["vin"], s["service_id"]))
    for v in dealer.vehicles:
        due = d(v["purchase_date"]) + datetime.timedelta(days=FOLLOWUP_PURCHASE)
        if last_day < due <= today:
            out.add((v["vin"], "purchase"))
    return out


def expect_lost(dealer, today, telemetry):
    out = set()
    for v in dealer.vehicles:
        vin = v["vin"]
        visits = [s["date"] for s in dealer.services if s["vin"] == vin and d(s["date"]) <= today]
        last = max([v["purchase_date"]] + visits)
        lo = today - datetime.timedelta(days=WINDOW_DAYS)
        km = sum(k for day, k in (telemetry or {}).get(vin, {}).items() if lo <= day <= today)
        if km > 0 and (today - d(last)).days >= LOST_DAYS:
            out.add(vin)
    return out


# ---- running the real binaries ------------------------------------------------------


def pitwall(*args):
    p = subprocess.run([PITWALL, *map(str, args)], capture_output=True, text=True, timeout=120)
    return p


def import_sample(db):
    for kind in KINDS:
        p = pitwall("import", "--db", db, kind, os.path.join(DATA, f"{kind}.csv"))
        assert p.returncode == 0, f"import {kind}: {p.stderr}"


def sweep(db, now):
    p = pitwall("sweep", "--db", db, "--now", now)
    assert p.returncode == 0, f"sweep exit {p.returncode}: {p.stderr}"
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    for e in events:  # the contract's common members
        assert {"id", "type", "vin", "ts", "severity"} <= set(e), e
        assert e["severity"] in ("info", "warning", "critical"), e
    assert len({e["id"] for e in events}) == len(events), "event ids repeat"
    return events


def by_type(events, t):
    return [e for e in events if e["type"] == t]


def got_maintenance(events):
    out = {}
    for e in events:
        if e["type"] in ("maintenance_due", "maintenance_overdue"):
            assert e["vin"] not in out, f"two maintenance events for {e['vin']}"
            out[e["vin"]] = (e["type"], e["since"], e["due_by"], e["limit_date"],
                             round(e["limit_km"], 1), e["predicted_date"],
                             round(e["odometer_km"], 1), e["daily_km_source"])
    return out


def close_enough(a, b):
    """Tuples equal, numbers to 0.1 (the sweep rounds half away from zero,
    Python's round() to even)."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(close_enough(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 0.100001
    return a == b


def compare(name, got, want):
    if isinstance(got, dict) and set(got) == set(want) and \
            all(close_enough(got[k], want[k]) for k in got):
        return
    if got == want:
        return
    lines = [f"{name}: {len(got)} from the sweep, {len(want)} expected"]
    keys = set(got) | set(want) if isinstance(got, dict) else set(got) ^ set(want)
    for k in sorted(keys, key=str)[:20]:
        g = got.get(k) if isinstance(got, dict) else (k in got)
        w = want.get(k) if isinstance(want, dict) else (k in want)
        if not close_enough(g, w):
            lines.append(f"  {k}: sweep {g} expected {w}")
    raise AssertionError("\n".join(lines))


# ---- tests ---------------------------------------------------------------------------


def test_sample_reminder_lists():
    wd = Workdir("sweep-sample")
    try:
        db = wd.file("pitwall.db")
        import_sample(db)
        dealer = Dealer()
        today = d("2026-11-23")
        events = sweep(db, "2026-11-23")

        want_m = expect_maintenance(dealer, today)
        compare("maintenance", got_maintenance(events), want_m)
        for e in by_type(events, "maintenance_due") + by_type(events, "maintenance_overdue"):
            assert e["severity"] == ("warning" if e["type"] == "maintenance_overdue" else "info")

        want_i = expect_insurance(dealer, today)
        got_i = {}
        for e in by_type(events, "insurance_due"):
            key = (e["vin"], e["policy_kind"])
            assert key not in got_i, key
            got_i[key] = (e["expiry_date"], e["days_left"], e["lead_days"], e["severity"],
                          e["policy_id"])
        compare("insurance", got_i, {k: v[:5] for k, v in want_i.items()})

        compare("followup", {(e["vin"], e.get("service_id", "purchase"))
                             for e in by_type(events, "followup_due")},
                expect_followups(dealer, today, today - datetime.timedelta(days=1)))
        assert by_type(events, "lost_customer") == [], "no telemetry: nobody is known driven"
        assert by_type(events, "fuel_anomaly") == []
        assert len(events) == len(want_m) + len(want_i)
        print(f"2026-11-23: {len(want_m)} maintenance "
              f"({sum(1 for v in want_m.values() if v[0] == 'maintenance_overdue')} overdue), "
              f"{len(want_i)} insurance "
              f"({sum(1 for v in want_i.values() if v[3] == 'critical')} expired) reminders agree",
              flush=True)
        assert len(want_m) > 10 and len(want_i) > 10, "the sample should have work to do"

        # the same day again: every episode is open already
        assert sweep(db, "2026-11-23") == []
        con = sqlite3.connect(db)
        open_alerts = con.execute("SELECT count(*) FROM alert WHERE active = 1").fetchone()[0]
        outbox = con.execute("SELECT count(*) FROM outbox WHERE event_type IS NOT NULL"
                             ).fetchone()[0]
        notify = con.execute("SELECT count(*) FROM outbox WHERE event_type IS NULL").fetchone()[0]
        con.close()
        assert open_alerts == len(events) and outbox == len(events)
        # one in-car message per vehicle and kind that day
        assert notify == len({(e["vin"], e["type"].startswith("maintenance"))
                              for e in events}), notify

        # the following days: only what is new
        prev_m, prev_i, last = want_m, want_i, today
        for day in ("2026-11-24", "2026-11-26", "2026-12-10"):
            t = d(day)
            events = sweep(db, day)
            want_m = expect_maintenance(dealer, t)
            new_m = {vin: v for vin, v in want_m.items()
                     if vin not in prev_m or (v[0] == "maintenance_overdue" and
                                              prev_m[vin][0] == "maintenance_due")}
            compare(f"maintenance {day}", got_maintenance(events), new_m)
            want_i = expect_insurance(dealer, t)
            new_i = {k: v[:5] for k, v in want_i.items()
                     if k not in prev_i or v[5] > prev_i[k][5]}
            got_i = {(e["vin"], e["policy_kind"]): (e["expiry_date"], e["days_left"],
                                                    e["lead_days"], e["severity"], e["policy_id"])
                     for e in by_type(events, "insurance_due")}
            compare(f"insurance {day}", got_i, new_i)
            compare(f"followup {day}", {(e["vin"], e.get("service_id", "purchase"))
                                        for e in by_type(events, "followup_due")},
                    expect_followups(dealer, t, last))
            # episodes no longer due were cleared, the rest stay open
            print(f"{day}: {len(new_m)} maintenance, {len(new_i)} insurance, "
                  f"{len(by_type(events, 'followup_due'))} follow-up events", flush=True)
            prev_m = {vin: v for vin, v in want_m.items()}
            prev_i = {**prev_i, **want_i}
            prev_i = {k: v for k, v in prev_i.items() if k in want_i}
            last = t
    finally:
        wd.cleanup()


def test_sample_with_telemetry():
    """A third of the cars report driving (vehicle_day): some for 20 days, some
    for only 5 (too few: the fallback), so lost customers appear and the
    prediction switches to telemetry."""
    wd = Workdir("sweep-telemetry")
    try:
        db = wd.file("pitwall.db")
        import_sample(db)
        dealer = Dealer()
        today = d("2026-11-23")
        telemetry = {}
        con = sqlite3.connect(db)
        for i, v in enumerate(dealer.vehicles):
            if i % 3:
                continue
            n_days = 20 if i % 2 == 0 else 5
            km = 15 + (i % 7) * 11.5
            rows = {}
            for k in range(1, n_days + 1):
                day = today - datetime.timedelta(days=k + (i % 4))
                rows[day] = km
                con.execute("INSERT INTO vehicle_day (vin, day, km) VALUES (?, ?, ?)",
                            (v["vin"], day.isoformat(), km))
            telemetry[v["vin"]] = rows
        con.commit()
        con.close()
        events = sweep(db, "2026-11-23")
        compare("maintenance", got_maintenance(events),
                expect_maintenance(dealer, today, telemetry))
        sources = {e["daily_km_source"] for e in events if e["type"].startswith("maintenance")}
        assert "telemetry" in sources, sources
        want_lost = expect_lost(dealer, today, telemetry)
        got_lost = {e["vin"] for e in by_type(events, "lost_customer")}
        compare("lost_customer", got_lost, want_lost)
        assert want_lost, "the sample has customers gone for over a year"
        print(f"with telemetry: {len(want_lost)} lost customers agree", flush=True)
    finally:
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_sample_reminder_lists, test_sample_with_telemetry])
