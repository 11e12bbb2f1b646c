"""Synthetic patients for the benchmark: a seeded CSV and the queries to ask of it.

Used by bench/run.py; also runnable alone to look at the data:
`python bench/datagen.py --patients 2000 --out /tmp/patients.csv`.

Last names are skewed like a real practice's: "Smith" is ~1% of patients,
the next common surnames follow Zipf's law (Johnson 1/2 of that, Williams
1/3 ...), and the rest (~96% of patients) come from a long tail of invented
syllable names with a handful of patients each. The tail clusters as real
surnames do (Mc-, Ma-, Sa-), and harder: half of its names, and so about half
of all patients, start with the same two letters, "Ma" ("Mabekoru"); the
other half spread over the remaining two-letter starts ("Bakoru"). The
queries are the common name, a rare tail name outside the cluster and a rare
one inside it.
"""

import argparse
import csv
import json
import random
import re
import sys
from collections import Counter

COLUMNS = ["first", "last", "dob", "sex", "phone", "email", "address", "city", "state", "zip"]
COMMON_LAST = "Smith"
COMMON_SHARE = 0.01
FREQUENT_LAST = ["Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
                 "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
                 "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
                 "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker"]
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
         "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
         "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily",
         "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
         "Dorothy", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie", "Edward",
         "Rebecca", "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen",
         "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Aisha", "Wei",
         "Priya", "Mateo", "Sofia", "Hiroshi", "Olga", "Kwame", "Ines", "Farid"]
ONSETS = "bdfghjklmnprstvz"
VOWELS = "aeiou"
STREETS = ["Maple St", "Oak Ave", "Elm Rd", "Harbor Way", "Chestnut St", "Beacon Ln", "Willow Ct",
           "Centre St", "Washington St", "Pleasant St"]
CITIES = [("Boston", "02115"), ("Cambridge", "02139"), ("Somerville", "02143"), ("Quincy", "02169"),
          ("Brookline", "02445"), ("Newton", "02458"), ("Medford", "02155"), ("Waltham", "02451")]
AREA_CODES = ["617", "857", "781", "508", "978", "339"]
RARE_HITS = range(3, 7)  # "a handful" of patients share the rare query name
CLUSTER = "Ma"  # the two letters half of the tail surnames start with
CLUSTER_SHARE = 0.5


def syllables(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(count))


def tail_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct invented surnames, CLUSTER_SHARE of them "Ma" + three
    consonant-vowel syllables ('Mabekoru'), the rest three syllables that do
    not start with "Ma" ('Bakoru').

    None is a prefix of another (the clustered ones start with "Ma", the
    others do not and are all of one length, as the clustered ones are).
    """
    clustered = round(count * CLUSTER_SHARE)
    names: set[str] = set()
    while len(names) < clustered:
        names.add((CLUSTER + syllables(rng, 3)).title())
    while len(names) < count:
        name = syllables(rng, 3).title()
        if not name.startswith(CLUSTER):
            names.add(name)
    return sorted(names)


def last_name_picker(rng: random.Random, patients: int):
    """A function drawing a last name: Zipf over the real surnames, then the tail."""
    tail = tail_names(rng, max(patients // 4, 10))
    cuts = []
    total = 0.0
    for rank, name in enumerate([COMMON_LAST] + FREQUENT_LAST):
        total += COMMON_SHARE / (rank + 1)
        cuts.append((total, name))

    def pick() -> str:
        u = rng.random()
        for cut, name in cuts:
            if u < cut:
                return name
        return rng.choice(tail)

    return pick


def phone(rng: random.Random) -> str:
    """A valid NANP number: area code and exchange start with 2-9."""
    return f"{rng.choice(AREA_CODES)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def patient_rows(rng: random.Random, patients: int):
    """`patients` rows, no two with the same first name, last name and birth date."""
    pick_last = last_name_picker(rng, patients)
    seen: set[tuple] = set()
    for i in range(patients):
        first, last = rng.choice(FIRST), pick_last()
        while True:
            dob = f"{rng.randint(1930, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if (first, last, dob) not in seen:
                seen.add((first, last, dob))
                break
        city, zip_code = rng.choice(CITIES)
        yield {
            "first": first, "last": last, "dob": dob, "sex": rng.choice("MF"),
            "phone": phone(rng), "email": f"{first}.{last}{i}@example.com".lower(),
            "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
            "city": city, "state": "MA", "zip": zip_code,
        }


def name_words(row: dict) -> list[str]:
    """The words medsec's name search matches (ASCII data: lower-case letter runs)."""
    return re.findall(r"[a-z0-9]+", f"{row['first']} {row['last']}".lower())


def choose_rare(last_counts: Counter, words: set[str], clustered: bool) -> str:
    """A tail surname with a handful of patients that starts no other name word:
    one inside the "Ma" cluster, or one outside it."""
    real = {COMMON_LAST, *FREQUENT_LAST}
    for name in sorted(last_counts):
        if name in real or last_counts[name] not in RARE_HITS or name.startswith(CLUSTER) != clustered:
            continue
        word = name.lower()
        if not any(w != word and w.startswith(word) for w in words):
            return name
    raise SystemExit("datagen: no rare surname with a handful of patients; use more patients")


def write_csv(path: str, patients: int, seed: int) -> dict:
    """Write the CSV; return the queries (common name, rare name outside and inside the cluster)
    and their hit counts."""
    rng = random.Random(seed)
    last_counts: Counter = Counter()
    words: set[str] = set()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in patient_rows(rng, patients):
            writer.writerow(row)
            last_counts[row["last"]] += 1
            words.update(name_words(row))
    rare = choose_rare(last_counts, words, clustered=False)
    clustered = choose_rare(last_counts, words, clustered=True)
    return {"common": COMMON_LAST, "common_hits": last_counts[COMMON_LAST],
            "rare": rare, "rare_hits": last_counts[rare],
            "clustered": clustered, "clustered_hits": last_counts[clustered]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--out", required=True, help="CSV file to write")
    args = parser.parse_args()
    json.dump(write_csv(args.out, args.patients, args.seed), sys.stdout)


if __name__ == "__main__":
    main()
