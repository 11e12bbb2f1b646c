"""The audit log records who touched which patient, never the values."""


def test_reads_and_changes_are_audited_without_phi(practice):
    practice.ok("patient", "add", "--first", "Ana", "--last", "Secretname", "--dob", "1980-02-03")
    practice.ok("patient", "show", "P1", env={"MEDSEC_USER": "casey"})
    practice.ok("patient", "find", "secret")
    practice.ok("patient", "edit", "P1", "--city", "Boston")
    entries = practice.json("audit", "--patient", "p1")
    assert [(e["user"], e["command"], e["action"]) for e in entries] == [
        ("tester", "patient add", "create"), ("casey", "patient show", "read"),
        ("tester", "patient find", "search"), ("tester", "patient edit", "update")]
    raw = "".join(p.read_text() for p in (practice.home / "audit").glob("*.jsonl"))
    assert "Secretname" not in raw and "Boston" not in raw and "1980-02-03" not in raw
    assert [e["command"] for e in practice.json("audit", "--user", "casey")] == ["patient show"]
    assert practice.json("audit", "--since", "tomorrow") == []


def test_user_option_beats_environment(practice):
    practice.ok("--user", "riley", "patient", "add", "--first", "A", "--last", "B", "--dob", "1990-01-01")
    assert practice.json("audit", "--patient", "P1")[0]["user"] == "riley"
