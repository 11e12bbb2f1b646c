"""People and things by name (issue 17, part 1): wherever a patient, staff member, payer or
appointment type is expected, an id or a name. Only an exact, unique match (punctuation, accents
and case ignored) is used, echoed on stderr; several matches, or only close ones, are exit 1
listing them (a numbered choice at a terminal: test_book_next.py); ids work as they always did.
Name look-ups are patient searches: audited, and refused to a role that may not read patients."""

import pytest
from helpers.practices import setup_practice

from medsec.errors import Refused
from medsec.records import lookup
from medsec.records.namematch import close, fits_by_prefix, groupings, name_forms, same_name
from medsec.text import words

# Added to the small practice (P1 Ana Lopez .. P4 Di Park; S1 Dr A, S2 Dr B, S3 Nurse C).
PEOPLE = [("Luis", "O'Connell", "1971-03-02"),   # P5
          ("Luis", "O'Connell", "1985-06-11"),   # P6: the same name, another person
          ("Inés", "Núñez", "1990-04-05"),       # P7
          ("Mary-Kate", "De la Cruz", "2001-09-09")]  # P8
STAFF = [("Dr. Helena Voss", "physician", "1869879738"),  # S4
         ("Jordan Ellis, RN", "nurse", "")]               # S5


def build_office(medsec):
    """The small practice with the people above."""
    setup_practice(medsec, patients=4)
    for first, last, dob in PEOPLE:
        medsec.ok("patient", "add", "--first", first, "--last", last, "--dob", dob)
    for name, role, npi in STAFF:
        medsec.ok("staff", "add", "--name", name, "--role", role, *(["--npi", npi] if npi else []))
    medsec.ok("staff", "hours", "S4", "--day", "mon-fri", "--from", "08:00", "--to", "12:00")
    return medsec


@pytest.fixture
def office(medsec, templates):
    return templates.copy(medsec, build_office)


def ids(rows) -> list[str]:
    return [r["id"] for r in rows]


# -- the matching rules ------------------------------------------------------------------------
def test_names_compare_without_punctuation_accents_or_case():
    assert same_name(words("luis oconnell"), "Luis", "O'Connell")
    assert same_name(words("O'Connell, Luis"), "Luis", "O'Connell")
    assert same_name(words("INES NUNEZ"), "Inés", "Núñez")
    assert same_name(words("mary kate de la cruz"), "Mary-Kate", "De la Cruz")
    assert not same_name(words("luis"), "Luis", "O'Connell")  # a part of the name is not the name
    forms = name_forms("Luis", "O'Connell")
    assert fits_by_prefix(["oconn"], forms) and fits_by_prefix(["o", "connell"], forms)
    assert fits_by_prefix(["luis", "o"], forms) and not fits_by_prefix(["lu", "x"], forms)
    assert list(groupings(["a", "b", "c"])) == [["a", "b", "c"], ["ab", "c"], ["a", "bc"], ["abc"]]


@pytest.mark.parametrize("typed,form,near", [
    ("oconel", "oconnell", True), ("lusi", "luis", True), ("smyth", "smith", True), ("helena", "helen", True),
    ("jon", "john", False),  # three letters: as typed or not at all
    ("lopez", "park", False), ("quinonezz", "quinonez", True),
])
def test_a_typo_is_tolerated_in_words_of_four_letters_or_more(typed, form, near):
    assert close(typed, form) is near


# -- patient find ------------------------------------------------------------------------------
@pytest.mark.both_backends  # the look-ups through each store's name index
def test_find_ignores_punctuation_and_accents_and_tolerates_a_typo(office):
    assert ids(office.json("patient", "find", "oconnell")) == ["P5", "P6"]
    assert ids(office.json("patient", "find", "o'con")) == ["P5", "P6"]
    assert ids(office.json("patient", "find", "o", "connell", "luis")) == ["P5", "P6"]
    assert ids(office.json("patient", "find", "nunez")) == ["P7"]
    assert ids(office.json("patient", "find", "delacruz")) == ["P8"]
    # No name starts so: a person is shown the names a typo away, said so; a script gets no match.
    assert office.json("patient", "find", "ocnonell") == []
    shown = office.ok("patient", "find", "ocnonell")
    assert "P5" in shown.stdout and "P6" in shown.stdout and "close spellings" in shown.stderr
    assert ids(office.json("patient", "find", "lopez")) == ["P1"]  # an exact word: no close spellings added
    assert office.json("patient", "find", "zyxw") == []


# -- a patient by name ---------------------------------------------------------------------------
def test_an_exact_unique_name_is_used_and_echoed(office):
    by_id = office.ok("patient", "show", "P7", "--json")
    assert by_id.stderr == ""  # an id: nothing echoed, nothing looked up
    for typed in ("ines nunez", "Núñez, Inés", "INÉS NÚÑEZ"):
        by_name = office.ok("patient", "show", typed, "--json")
        assert by_name.stdout == by_id.stdout
        assert by_name.stderr == "P7 Inés Núñez, 1990-04-05\n"


@pytest.mark.both_backends  # the look-ups through each store's name index
def test_a_name_two_patients_share_is_exit_1_listing_both_with_their_birth_dates(office):
    result = office("appt", "list", "--patient", "luis o'connell")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[:2] == ["medsec: P5 Luis O'Connell, 1971-03-02", "medsec: P6 Luis O'Connell, 1985-06-11"]
    assert lines[2].startswith("medsec: error: 'luis o'connell' matches 2 patients") and "date of birth" in lines[2]


@pytest.mark.parametrize("typed", ["luis oconnell 1985-06-11", "luis o'connell 6/11/1985", "1985-06-11 Luis OConnell"])
def test_a_date_of_birth_tells_them_apart(office, typed):
    assert office.json("patient", "show", typed)["id"] == "P6"


def test_a_wrong_date_of_birth_is_not_a_match(office):
    result = office("patient", "show", "luis oconnell 1999-01-01")
    assert result.exit_code == 1
    assert "no patient named 'luis oconnell' was born on 1999-01-01" in result.stderr
    assert "P5 Luis O'Connell, 1971-03-02" in result.stderr  # who does have the name


@pytest.mark.parametrize("typed,listed", [
    ("ines nunes", ["P7"]),            # a typo: never used without asking
    ("oconnell", ["P5", "P6"]),        # a part of the name
    ("luis o", ["P5", "P6"]),
])
def test_only_close_or_partial_matches_are_exit_1_listing_them(office, typed, listed):
    result = office("patient", "show", typed)
    assert result.exit_code == 1 and result.stdout == ""
    assert f"no patient is named exactly '{typed}'" in result.stderr
    assert [line.split()[1] for line in result.stderr.splitlines()[:-1]] == listed


def test_no_match_is_exit_1_and_ids_are_judged_as_before(office):
    none = office("patient", "show", "nobody at all")
    assert none.exit_code == 1 and "no patient is named 'nobody at all'" in none.stderr
    assert office("patient", "show", "X12").exit_code == 2  # shaped like an id: not a name
    assert "no patient P99" in office("patient", "show", "P99").stderr


def test_a_name_is_resolved_wherever_a_patient_is_expected(office):
    office.ok("patient", "note", "ines nunez", "Prefers mornings")
    assert office.json("patient", "note", "P7")[0]["text"] == "Prefers mornings"
    office.ok("patient", "coverage", "add", "Inés Núñez", "--payer", "acme health", "--member-id", "M1")
    assert office.json("patient", "coverage", "list", "P7")[0]["payer"] == "ACME"
    assert office.json("appt", "list", "--patient", "ines nunez") == []


def test_name_lookups_are_audited_as_patient_searches(office):
    office.ok("patient", "show", "ines nunez")
    office("patient", "show", "luis oconnell")
    searches = [(e["command"], e["ids"]) for e in office.json("audit") if e["action"] == "search"]
    assert ("patient show", ["P7"]) in searches and ("patient show", ["P5", "P6"]) in searches


def test_a_role_that_may_not_read_patients_learns_no_name(office):
    from medsec.context import AppContext
    from medsec.security.principal import Principal

    app = AppContext(data_dir=str(office.home), user="S3")
    app.principal = Principal("S3", "scheduler", "SN1", frozenset({"schedule.book", "schedule.read"}))
    with pytest.raises(Refused, match="patients.read") as refused:
        lookup.resolve_patient(app, "luis oconnell")
    assert "O'Connell" not in str(refused.value) and not refused.value.details
    assert lookup.resolve_patient(app, "P5") is None  # an id is the command's to judge


# -- staff, payers, appointment types ------------------------------------------------------------
@pytest.mark.parametrize("typed", ["voss", "Dr. Voss", "helena voss", "HV", "Voss, Helena"])
def test_a_staff_member_by_name_last_name_or_initials(office, typed):
    result = office.ok("staff", "show", typed, "--json")
    assert result.json()["id"] == "S4" and result.stderr == "S4 Dr. Helena Voss (physician)\n"


def test_staff_names_everywhere_a_staff_member_is_expected(office):
    assert office.json("appt", "slots", "--provider", "voss", "--type", "follow-up", "--first")[0]["provider"] == "S4"
    assert office.json("task", "add", "call back", "--for", "ellis")["owner"] == "S5"
    assert office.json("task", "add", "restock", "--for", "front-desk")["owner"] == "front-desk"  # a role stays one
    partial = office("staff", "show", "hel")
    assert partial.exit_code == 1 and "S4 Dr. Helena Voss (physician)" in partial.stderr


def test_payers_and_appointment_types_by_name(office):
    as_typed = office.json("appt", "slots", "--any", "--type", "follow-up", "--first")
    by_name = office.ok("appt", "slots", "--any", "--type", "Follow up", "--first", "--json")
    assert by_name.json() == as_typed and by_name.stderr == "follow-up\n"
    folow = office("appt", "slots", "--any", "--type", "folow-up", "--first")
    assert folow.exit_code == 1 and "medsec: follow-up" in folow.stderr
    assert "unknown appointment type 'massage'" in office("appt", "slots", "--any", "--type", "massage").stderr
    assert office.json("claim", "list", "--payer", "Acme Health") == []
