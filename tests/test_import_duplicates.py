"""`patient import` refuses rows that duplicate a registered patient (same name and date of
birth; merged-away records do not count), whether it asks row by row (a small file) or reads
every birth date's patients at once (from 500 rows on): both ways find the same rows."""

import csv

import pytest


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.mark.parametrize("padding", [0, 600], ids=["row-by-row", "at-once"])
def test_rows_that_duplicate_registered_patients_are_refused_either_way(practice, tmp_path, padding):
    for first, last, dob in [("Ana", "Lopez", "1980-02-03"), ("Bo", "Lind", "1975-06-07"),
                             ("Cy", "Moss", "1975-06-07"), ("Cyrus", "Moss", "1975-06-07")]:
        practice.ok("patient", "add", "--first", first, "--last", last, "--dob", dob)
    practice.ok("patient", "merge", "P4", "--into", "P3")  # P4 is merged away: no longer a duplicate
    rows = [["first", "last", "dob"],
            ["ANA", "lopez", "1980-02-03"],  # P1
            ["Bo", "Lind", "1975-06-08"],  # another day: new
            ["Cy", "Moss", "1975-06-07"],  # P3
            ["Cyrus", "Moss", "1975-06-07"]]  # like P4, which was merged away: new
    rows += [[f"Pad{n}", "Filler", f"19{40 + n % 60}-0{1 + n % 9}-1{n % 10}"] for n in range(padding)]
    src = write_csv(tmp_path / "in.csv", rows)
    result = practice("patient", "import", str(src))
    assert result.exit_code == 1, result.stderr
    assert f"{src}:2: duplicate of P1" in result.stderr and f"{src}:4: duplicate of P3" in result.stderr
    assert result.stderr.count("duplicate of") == 2
    imported = practice.json("patient", "import", str(src), "--skip-bad")
    assert (imported["imported"], imported["skipped"]) == (2 + padding, 2)
