"""The icd10 plugin: ICD-10-CM lookups and search from simple-icd-10-cm through a built index."""

import subprocess
import sys

import pytest

import medsec_icd10
from medsec_icd10 import icd10_status, index


def test_show_billable_header_and_unknown(practice):
    shown = practice.json("code", "show", "E11.9")
    assert shown == {"code": "E11.9", "description": "Type 2 diabetes mellitus without complications",
                     "billable": True, "system": "ICD-10-CM", "table": "icd10cm"}
    assert practice.json("code", "show", "e119", "--system", "ICD-10-CM")["code"] == "E11.9"
    header = practice.json("code", "show", "E11")
    assert (header["code"], header["billable"], header["description"]) == ("E11", False, "Type 2 diabetes mellitus")
    assert practice.json("code", "show", "S52.501A")["billable"] is True  # 7th-character extension
    for missing in ("E11.99", "A00-A09", "E1.19", "XYZ"):
        result = practice("code", "show", missing, "--system", "icd10cm")
        assert result.exit_code == 1 and "no code" in result.stderr, missing


def test_tables_lists_icd10cm(practice):
    tables = {t["name"]: t for t in practice.json("code", "tables")}
    assert tables["icd10cm"]["system"] == "ICD-10-CM" and tables["icd10cm"]["plugin"] == "icd10"
    gone = practice.json("code", "tables", env={"MEDSEC_DISABLE_PLUGINS": "icd10"})
    assert "icd10cm" not in {t["name"] for t in gone}


def test_search_words_billable_first(practice):
    hits = practice.json("code", "search", "diabetes", "--system", "ICD-10-CM", "--limit", "50")
    assert len(hits) == 50
    assert all("diabet" in h["description"].lower() for h in hits)
    flags = [h["billable"] for h in hits]
    assert flags == sorted(flags, reverse=True)  # billable first
    mellitus = practice.json("code", "search", "type", "2", "diab", "mell", "--system", "icd10cm", "--limit", "500")
    assert "E11.9" in {h["code"] for h in mellitus}
    for hit in mellitus:  # every word starts a word of the description, in any order
        words = hit["description"].lower().replace(",", " ").split()
        assert {"type", "2"} <= set(words) and any(w.startswith("mell") for w in words), hit
    accents = practice.json("code", "search", "meniere", "--system", "icd10cm")
    assert {h["code"] for h in accents} >= {"H81.01", "H81.09", "H81.0"}
    assert accents[0]["description"].startswith("Ménière")
    assert practice.json("code", "search", "zzzqqq", "--system", "icd10cm") == []


def test_search_code_prefixes(practice):
    hits = practice.json("code", "search", "e116", "--system", "icd10cm")
    codes = [h["code"] for h in hits]
    assert codes and all(c.startswith("E11.6") for c in codes)
    assert codes.index("E11.65") < codes.index("E11.6")  # the header code comes after billable ones
    assert practice.json("code", "search", "E11.65", "--system", "icd10cm")[0]["code"] == "E11.65"


def test_icd10_status_for_the_scrubber(practice):
    root = str(practice.home)
    assert icd10_status(root, "E11.9") == "billable"
    assert icd10_status(root, "E11") == "header"
    assert icd10_status(root, "I10") == "billable"
    assert icd10_status(root, "Q99.99X") == "unknown"
    assert icd10_status(root, "not a code") == "unknown"


def test_claim_scrubber_uses_the_table(demo):
    demo.ok("bill", "charge", "A1", "--code", "99213", "--dx", "E11.9", "--dx", "I10")
    (claim,) = demo.json("claim", "create", "--appt", "A1")
    assert demo.json("claim", "validate", claim["id"])["status"] == "ready"
    warned = demo("bill", "charge", "A1", "--code", "36415", "--dx", "E11")
    assert warned.exit_code == 0 and "E11: header ICD-10-CM code" in warned.stderr


def test_installed_command_in_a_real_process(practice):
    proc = practice.run("code", "show", "E11.9", "--json")
    assert '"billable": true' in proc.stdout
    assert '"billable": false' in practice.run("code", "show", "E11", "--json").stdout


def test_plugin_import_stays_cheap():
    code = ("import sys, medsec_icd10; "
            "print(sorted(m for m in ('simple_icd_10_cm', 'medsec_icd10.index') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the index itself (a few fake codes: building from the package is tested above) --
FAKE = [("A00", "Cholera", False), ("A00.0", "Cholera due to Vibrio cholerae 01, biovar cholerae", True),
        ("E11", "Type 2 diabetes mellitus", False), ("E11.9", "Type 2 diabetes mellitus without complications", True),
        ("H81.0", "Ménière's disease", True)]


@pytest.fixture
def fresh_index(tmp_path, monkeypatch):
    """The index module with its own package-side folder, nothing cached, fake codes."""
    monkeypatch.setattr(index, "HERE", str(tmp_path / "pkg"))
    monkeypatch.setattr(index, "_opened", {})
    monkeypatch.setattr(index, "_built", {})
    monkeypatch.setattr(index, "package_version", lambda: "9.9.9")
    loads = []
    monkeypatch.setattr(index, "load_codes", lambda: loads.append(1) or list(FAKE))
    data = tmp_path / "data"
    data.mkdir()
    return data, tmp_path / "pkg", loads


def test_index_is_built_once_then_read_from_disk(fresh_index, monkeypatch):
    data, pkg, loads = fresh_index
    assert index.find(str(data), "E119") == ("E11.9", "Type 2 diabetes mellitus without complications", True)
    built = data / "index" / "codes" / "icd10cm-9.9.9"
    assert (built / "manifest.json").exists() and (built / "E1.json").exists()
    assert (pkg / "_index" / "icd10cm-9.9.9" / "manifest.json").exists()  # shared copy for other data dirs
    assert loads == [1]
    monkeypatch.setattr(index, "_opened", {})
    monkeypatch.setattr(index, "_built", {})
    assert index.find(str(data), "A00.0")[2] is True
    assert [r[0] for r in index.search(str(data), "chol", 10)] == ["A00.0", "A00"]
    assert loads == [1]  # read back from disk, not rebuilt


def test_index_is_rebuildable_and_old_versions_go(fresh_index, monkeypatch):
    data, pkg, loads = fresh_index
    old = data / "index" / "codes" / "icd10cm-1.0.0"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text("{}")
    index.find(str(data), "E11")
    assert not old.exists()
    import shutil

    shutil.rmtree(data / "index")
    shutil.rmtree(pkg)
    monkeypatch.setattr(index, "_opened", {})
    monkeypatch.setattr(index, "_built", {})
    assert index.find(str(data), "E11") == ("E11", "Type 2 diabetes mellitus", False)
    assert (data / "index" / "codes" / "icd10cm-9.9.9" / "manifest.json").exists()
    assert loads == [1, 1]


def test_unwritable_data_dir_uses_the_package_side_then_memory(fresh_index, monkeypatch):
    data, pkg, _ = fresh_index
    real_write = index.write

    def refuse(where):
        def write(folder, *args, **kwargs):
            if folder.startswith(where):
                raise PermissionError(13, "read-only", folder)
            return real_write(folder, *args, **kwargs)
        return write

    monkeypatch.setattr(index, "write", refuse(str(data)))
    assert index.find(str(data), "E11.9")[0] == "E11.9"
    assert not (data / "index").exists() and (pkg / "_index" / "icd10cm-9.9.9" / "E1.json").exists()
    import shutil

    shutil.rmtree(pkg)
    monkeypatch.setattr(index, "_opened", {})
    monkeypatch.setattr(index, "write", refuse("/"))
    assert medsec_icd10.lookup(str(data), "H81.0")["description"] == "Ménière's disease"
    assert [r["code"] for r in medsec_icd10.search(str(data), "menie", 5)] == ["H81.0"]
    assert not pkg.exists()  # nothing written anywhere: kept in memory


def test_half_built_index_is_ignored(fresh_index):
    data, _, loads = fresh_index
    partial = data / "index" / "codes" / "icd10cm-9.9.9"
    partial.mkdir(parents=True)
    (partial / "E1.json").write_text('{"E119": ["E11.9", "stale", 1]}')  # no manifest: unfinished
    assert index.find(str(data), "E11.9")[1] == "Type 2 diabetes mellitus without complications"
    assert loads == [1]


@pytest.mark.parametrize("code, key", [("E11.9", "E119"), ("e119", "E119"), (" S52.501A ", "S52501A"),
                                       ("E1.19", None), ("E11..9", None), ("11.9", None), ("", None)])
def test_normalize(code, key):
    assert index.normalize(code) == key
