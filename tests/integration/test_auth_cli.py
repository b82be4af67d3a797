"""test_auth_cli — `pitwall user` and `pitwall display` end to end, on real
SQLite files.

Users added with the password on stdin and in --password-file, their
stored hashes checked by Python's own PBKDF2 (an independent
implementation of the same encoding); a re-add updates; short passwords,
unknown roles, unknown advisors and bad usage exit 2 naming the problem;
`user list` never shows a hash; `user disable`; display tokens are 64 hex
digits whose SHA-256 (never the token) is stored, a second add replaces
the first; --config's db.path is honoured; --help exits 0. Stdlib only.
"""
import base64
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DATA = os.path.join(harness.SHARED_DIR, "data")


def pitwall(*args, stdin=""):
    return subprocess.run([harness.PITWALL, *args], input=stdin, capture_output=True,
                          text=True, errors="replace", timeout=60)


def query(db, sql, params=()):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def check_hash(encoded, password):
    """Verifies an encoded hash with Python's PBKDF2."""
    scheme, iters, salt, dk = encoded.split("$")
    assert scheme == "pbkdf2-sha256", encoded
    assert iters == "120000", encoded
    salt, dk = base64.b64decode(salt, validate=True), base64.b64decode(dk, validate=True)
    assert len(salt) == 16 and len(dk) == 32, encoded
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(iters), 32) == dk


def fresh_db(wd):
    """A database with the sample's advisors (for --advisor)."""
    db = wd.file("pitwall.db")
    r = pitwall("import", "--db", db, "advisors", os.path.join(DATA, "advisors.csv"))
    assert r.returncode == 0, r.stderr
    return db


def first_advisor():
    with open(os.path.join(DATA, "advisors.csv"), encoding="utf-8") as f:
        return f.read().splitlines()[1].split(",")[0]


def test_user_add_stdin_and_file():
    wd = harness.Workdir("auth-cli")
    try:
        db = fresh_db(wd)
        adv = first_advisor()
        r = pitwall("user", "add", "--db", db, "li.na", "--name", "李娜", "--role", "advisor",
                    "--advisor", adv, stdin="s3cret-pass\n")
        assert r.returncode == 0, r.stderr
        assert "added user li.na" in r.stdout, r.stdout
        (name, role, advisor, h, disabled), = query(
            db, "SELECT name, role, advisor_id, password_hash, disabled FROM user "
                "WHERE user_id = 'li.na'")
        assert (name, role, advisor, disabled) == ("李娜", "advisor", adv, 0)
        assert check_hash(h, "s3cret-pass")
        assert not check_hash(h, "s3cret-pass\n")

        # --password-file: its first line, CRLF tolerated
        pw = wd.file("pw.txt")
        with open(pw, "wb") as f:
            f.write("管理员密码 with spaces\r\nsecond line\n".encode())
        r = pitwall("user", "add", "--db", db, "--role", "manager", "--name", "Wang Qiang",
                    "--password-file", pw, "wang.q")
        assert r.returncode == 0, r.stderr
        (h,), = query(db, "SELECT password_hash FROM user WHERE user_id = 'wang.q'")
        assert check_hash(h, "管理员密码 with spaces")

        # a second add updates the user
        r = pitwall("user", "add", "--db", db, "li.na", "--name", "Li Na", "--role",
                    "customer-care", stdin="another-pass")
        assert r.returncode == 0, r.stderr
        assert "updated user li.na" in r.stdout, r.stdout
        (name, role, advisor, h), = query(
            db, "SELECT name, role, advisor_id, password_hash FROM user "
                "WHERE user_id = 'li.na'")
        assert (name, role, advisor) == ("Li Na", "customer-care", None)
        assert check_hash(h, "another-pass")
        assert query(db, "SELECT count(*) FROM user") == [(2,)]
    finally:
        wd.cleanup()


def test_user_add_refusals():
    wd = harness.Workdir("auth-cli")
    try:
        db = fresh_db(wd)
        base = ["user", "add", "--db", db, "li.na", "--name", "李娜"]
        cases = [
            (base + ["--role", "advisor"], "short7!\n", "too short"),
            (base + ["--role", "advisor"], "", "no password"),
            (base + ["--role", "advisor"], "\n", "too short"),
            (base + ["--role", "boss"], "long-enough\n", "--role"),
            (base + ["--role", "Manager"], "long-enough\n", "--role"),
            (base + ["--role", "advisor", "--advisor", "A999"], "long-enough\n", "--advisor"),
            (base + ["--role", "advisor", "--password-file", wd.file("missing")], "",
             "--password-file"),
            (base, "long-enough\n", "--role"),
            (["user", "add", "--db", db, "li.na", "--role", "advisor"], "long-enough\n",
             "--name"),
            (["user", "add", "--db", db, "li na", "--name", "x", "--role", "advisor"],
             "long-enough\n", "USER"),
            (["user", "add", "--db", db, "--name", "x", "--role", "advisor"], "long-enough\n",
             "USER"),
            (["user", "add", "--db", db, "a", "b", "--name", "x", "--role", "advisor"],
             "long-enough\n", "USER"),
            (base + ["--role", "advisor", "--bogus"], "long-enough\n", "--bogus"),
            (["user", "list", "--db", db, "--role", "advisor"], "", "--role"),
            (["user", "frob", "--db", db], "", "frob"),
            (["user"], "", "command"),
            (["user", "add", "--db"], "", "--db"),
            (["display", "add", "--db", db], "", "NAME"),
            (["display", "add", "--db", db, "bad\tname"], "", "NAME"),
        ]
        for args, stdin, needle in cases:
            r = pitwall(*args, stdin=stdin)
            assert r.returncode == 2, (args, r.returncode, r.stderr)
            assert needle in r.stderr, (args, needle, r.stderr)
        assert query(db, "SELECT count(*) FROM user") == [(0,)]
        assert query(db, "SELECT count(*) FROM display") == [(0,)]
        # exactly eight characters is enough; eight CJK characters too
        r = pitwall(*base, "--role", "advisor", stdin="8chars!!\n")
        assert r.returncode == 0, r.stderr
        r = pitwall("user", "add", "--db", db, "zhao", "--name", "赵", "--role", "advisor",
                    stdin="一二三四五六七八")
        assert r.returncode == 0, r.stderr
        r = pitwall("user", "add", "--db", db, "qian", "--name", "钱", "--role", "advisor",
                    stdin="一二三四五六七")
        assert r.returncode == 2 and "too short" in r.stderr, r.stderr
    finally:
        wd.cleanup()


def test_user_list_and_disable():
    wd = harness.Workdir("auth-cli")
    try:
        db = fresh_db(wd)
        adv = first_advisor()
        for user, role, extra in [("li.na", "advisor", ["--advisor", adv]),
                                  ("wang.q", "manager", []), ("zhou", "customer-care", [])]:
            r = pitwall("user", "add", "--db", db, user, "--name", user.upper(), "--role", role,
                        *extra, stdin="password-" + user)
            assert r.returncode == 0, r.stderr
        r = pitwall("user", "disable", "--db", db, "zhou")
        assert r.returncode == 0, r.stderr
        r = pitwall("user", "disable", "--db", db, "nobody")
        assert r.returncode == 1 and "nobody" in r.stderr, (r.returncode, r.stderr)
        r = pitwall("user", "list", "--db", db)
        assert r.returncode == 0, r.stderr
        assert "pbkdf2" not in r.stdout and "$" not in r.stdout, r.stdout
        for (h,) in query(db, "SELECT password_hash FROM user"):
            assert h.split("$")[-1] not in r.stdout
        rows = [line.split("\t") for line in r.stdout.splitlines()]
        assert rows == [["user", "name", "role", "advisor", "disabled"],
                        ["li.na", "LI.NA", "advisor", adv, "no"],
                        ["wang.q", "WANG.Q", "manager", "", "no"],
                        ["zhou", "ZHOU", "customer-care", "", "yes"]], rows
        assert query(db, "SELECT disabled FROM user WHERE user_id = 'zhou'") == [(1,)]
        # a re-add enables again
        r = pitwall("user", "add", "--db", db, "zhou", "--name", "Zhou", "--role",
                    "customer-care", stdin="new-password")
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT disabled FROM user WHERE user_id = 'zhou'") == [(0,)]
        # a list never creates a database
        r = pitwall("user", "list", "--db", wd.file("absent.db"))
        assert r.returncode == 1, r.returncode
        assert not os.path.exists(wd.file("absent.db"))
    finally:
        wd.cleanup()


def test_display_tokens():
    wd = harness.Workdir("auth-cli")
    try:
        db = fresh_db(wd)
        tokens = []
        for _ in range(2):
            r = pitwall("display", "add", "--db", db, "entrance-1")
            assert r.returncode == 0, r.stderr
            m = re.search(r"^token: ([0-9a-f]{64})$", r.stdout, re.M)
            assert m, r.stdout
            token = m.group(1)
            assert f"/welcome?display={token}" in r.stdout, r.stdout
            tokens.append(token)
        assert tokens[0] != tokens[1]
        # one row, holding the SHA-256 of the newest token, never a token
        rows = query(db, "SELECT name, token_sha256 FROM display")
        assert rows == [("entrance-1", hashlib.sha256(tokens[1].encode()).hexdigest())], rows
        dump = "\n".join(sqlite3.connect(db).iterdump())
        assert tokens[0] not in dump and tokens[1] not in dump
        r = pitwall("display", "list", "--db", db)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "display\tcreated" and len(lines) == 2, lines
        assert re.fullmatch(r"entrance-1\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[1]), lines
        assert tokens[1] not in r.stdout
    finally:
        wd.cleanup()


def test_config_and_help():
    wd = harness.Workdir("auth-cli")
    try:
        db = wd.file("from-config.db")
        cfg = wd.file("pitwall.json")
        with open(cfg, "w") as f:
            json.dump({"db": {"path": db}}, f)
        r = pitwall("user", "add", "--config", cfg, "li.na", "--name", "Li", "--role", "manager",
                    stdin="password-1")
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT user_id FROM user") == [("li.na",)]
        r = pitwall("display", "add", "--config", cfg, "lobby")
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT name FROM display") == [("lobby",)]
        with open(cfg, "w") as f:
            json.dump({"db": {"nonsense": 1}}, f)
        r = pitwall("user", "list", "--config", cfg)
        assert r.returncode == 2 and "db.nonsense" in r.stderr, (r.returncode, r.stderr)
        for args in (["user", "--help"], ["user", "add", "--help"], ["user", "list", "-h"],
                     ["display", "--help"], ["display", "add", "--help"]):
            r = pitwall(*args)
            assert r.returncode == 0 and r.stdout.startswith("usage: pitwall"), (args, r)
        r = pitwall("--help")
        assert "pitwall user" in r.stdout and "pitwall display" in r.stdout, r.stdout
    finally:
        wd.cleanup()


if __name__ == "__main__":
    harness.run_main([test_user_add_stdin_and_file, test_user_add_refusals,
                      test_user_list_and_disable, test_display_tokens, test_config_and_help])
