"""`medsec code` over the practice's codes.yaml (the default yaml-codes plugin)."""


def test_code_tables_search_show(demo):
    tables = {t["name"]: t for t in demo.json("code", "tables")}
    assert {"system": "CPT/HCPCS", "plugin": "yaml-codes"}.items() <= tables["practice"].items()
    hits = demo.json("code", "search", "follow", "visit", "--system", "practice")
    assert {h["code"] for h in hits} == {"99212", "99213", "99214", "99215"}
    assert [h["code"] for h in demo.json("code", "search", "9921", "--system", "practice")] == \
        ["99212", "99213", "99214", "99215"]
    shown = demo.json("code", "show", "99213")
    assert shown["fee"] == "125.00" and shown["table"] == "practice"
    assert demo("code", "show", "00000").exit_code == 1
    assert demo("code", "search", "visit", "--system", "nope").exit_code == 2
    assert demo.json("code", "search", "zzzq") == []


def test_disabled_table_disappears(demo):
    result = demo("code", "show", "99213", env={"MEDSEC_DISABLE_PLUGINS": "yaml-codes"})
    assert result.exit_code == 1
    names = [t["name"] for t in demo.json("code", "tables", env={"MEDSEC_DISABLE_PLUGINS": "yaml-codes"})]
    assert "practice" not in names
