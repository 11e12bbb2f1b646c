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


def test_exact_code_wins_and_systems_inside_a_table(demo, tmp_path):
    """J1100 is the practice's HCPCS code, not ICD-10-CM's J11.00 read loosely; --system HCPCS
    or CPT picks the practice's CPT/HCPCS table and that system's codes in it."""
    codes = tmp_path / "codes.csv"
    codes.write_text("code,description,fee,system\nJ1100,Injection dexamethasone sodium phosphate 1 mg,4.50,HCPCS\n")
    assert demo.json("code", "import", codes)["added"] == 1
    shown = demo.json("code", "show", "J1100")
    assert (shown["code"], shown["system"], shown["table"]) == ("J1100", "HCPCS", "practice")
    assert demo.json("code", "show", "J1100", "--system", "ICD-10-CM")["code"] == "J11.00"
    assert demo.json("code", "show", "j11.00")["table"] == "icd10cm"
    hcpcs = demo.json("code", "search", "inj", "--system", "HCPCS")
    assert [(h["code"], h["table"]) for h in hcpcs] == [("J1100", "practice")]
    cpt = {h["code"] for h in demo.json("code", "search", "visit", "--system", "cpt")}
    assert {"99212", "99213", "99214", "99215"} <= cpt and "J1100" not in cpt
    assert demo.json("code", "search", "J11", "--system", "icd10")[0]["table"] == "icd10cm"
    assert demo.json("code", "search", "dexameth", "--system", "practice")[0]["code"] == "J1100"
