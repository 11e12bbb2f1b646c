"""Names as the front desk types them: punctuation, accents and case ignored, a typo tolerated.

A name is read as its words (medsec.text.words: "O'Connell" is "o" and "connell"), and its
*forms* are those words and every run of them written together ("oconnell"), within the
first name and within the last. So "oconnell", "o connell" and "O'Connell" find the same
patient, and "de la cruz" finds "Delacruz".

Three strengths of match, strongest first:

- `same_name`: the words typed, written together, are the first and last name written
  together (in either order): "luis oconnell", "O'Connell, Luis". Only this kind of match is
  ever acted on without asking (medsec.records.lookup).
- `fits_by_prefix`: the words typed, grouped into runs, each start a form ("luis o", "oconn"):
  what `patient find` has always done, punctuation now ignored.
- `close`: each word typed is within a typo of a form, or of its start (one edit up to seven
  letters, two from eight; words shorter than four letters must match exactly). The edit
  distance is RapidFuzz's optimal string alignment (a swap of two letters is one typo).

`NameIndex` finds the candidates of each through the store's name index (no scan): a form is
found from its first word ("o") looked up exactly and the rest ("connell") by prefix.
"""

from collections.abc import Iterable, Iterator

from medsec.text import words

# Past this many words, a query's words are matched one by one (no runs written together):
# the groupings of n words number 2^(n-1).
MAX_GROUPED_WORDS = 6
# The shortest word a typo is tolerated in; shorter words must match as typed.
FUZZY_SHORTEST = 4
# Particles written before a name without a space ("O'", "D'", "Mc", "De", "Van"): the longest
# one a misspelt word is also tried without.
PARTICLE_LONGEST = 3


def compact(text: str) -> str:
    """A name written together: folded, every character that is not a letter or digit gone."""
    return "".join(words(text))


def runs(name_words: list[str]) -> list[str]:
    """Every run of consecutive words written together: ['o', 'connell'] -> o, oconnell, connell."""
    return ["".join(name_words[i:j]) for i in range(len(name_words)) for j in range(i + 1, len(name_words) + 1)]


def name_forms(*parts: str) -> set[str]:
    """The forms of a name given in parts (first, last): each part's words and runs of them."""
    forms: set[str] = set()
    for part in parts:
        forms.update(runs(words(part)))
    return forms


def same_name(query: list[str], first: str, last: str) -> bool:
    """Whether the words typed are exactly the first and last name (either order), written together."""
    typed = "".join(query)
    f, l = compact(first), compact(last)
    return bool(typed) and typed in (f + l, l + f)


def fits_by_prefix(query: list[str], forms: Iterable[str]) -> bool:
    """Whether the words typed, grouped into runs, each start one of the forms."""
    forms = tuple(forms)
    return any(all(any(f.startswith(run) for f in forms) for run in grouping) for grouping in groupings(query))


def close(word: str, form: str) -> bool:
    """Whether `word` starts `form`, or is within a typo of it or of its start."""
    if form.startswith(word):
        return True
    if len(word) < FUZZY_SHORTEST:
        return False
    from rapidfuzz.distance import OSA  # only a misspelt name pays for it

    allowed = 1 if len(word) < 8 else 2
    lengths = {len(form)} | {k for k in (len(word) - 1, len(word), len(word) + 1) if 0 < k < len(form)}
    return any(OSA.distance(word, form[:k], score_cutoff=allowed) <= allowed for k in lengths)


def fits_closely(query: list[str], forms: Iterable[str]) -> bool:
    """Whether every word typed is close to one of the forms."""
    forms = tuple(forms)
    return all(any(close(w, f) for f in forms) for w in query)


def groupings(query: list[str]) -> Iterator[list[str]]:
    """The ways to write the words typed as runs: ['o', 'connell'] -> [o, connell], [oconnell]."""
    if len(query) > MAX_GROUPED_WORDS:
        yield list(query)
        return
    for mask in range(2 ** max(len(query) - 1, 0)):
        grouping, run = [], query[0] if query else ""
        for i, word in enumerate(query[1:]):
            if mask >> i & 1:
                run += word
            else:
                grouping.append(run)
                run = word
        if query:
            grouping.append(run)
        yield grouping


class NameIndex:
    """The candidates of a name query from one index of name words (key: a word, value: ids).

    Look-ups are remembered for the query's life. Candidates are a superset: each is checked
    against its record (`fits_by_prefix`, `fits_closely`), as every index hit is.
    """

    def __init__(self, view, index: str):
        self._view = view
        self._index = index
        self._exact: dict[str, set[str]] = {}
        self._prefix: dict[str, dict[str, list[str]]] = {}
        self._hits: dict[str, set[str]] = {}

    def exact(self, key: str) -> set[str]:
        if key not in self._exact:
            self._exact[key] = set(self._view.lookup(self._index, key))
        return self._exact[key]

    def keys(self, prefix: str) -> dict[str, list[str]]:
        if prefix not in self._prefix:
            self._prefix[prefix] = self._view.lookup_prefix(self._index, prefix)
        return self._prefix[prefix]

    def hits(self, run: str) -> set[str]:
        """Ids with a form that starts with `run`: a word does, or a word is its start and the
        rest starts a form again ("oconn": "o", then "conn")."""
        if run not in self._hits:
            found = {i for ids in self.keys(run).values() for i in ids}
            for cut in range(1, len(run)):
                head = self.exact(run[:cut])
                if head:
                    found |= head & self.hits(run[cut:])
            self._hits[run] = found
        return self._hits[run]

    def prefix_candidates(self, query: list[str]) -> set[str]:
        """Ids that may fit the query by prefix (`fits_by_prefix`)."""
        out: set[str] = set()
        for grouping in groupings(query):
            out |= set.intersection(*(self.hits(run) for run in grouping))
        return out

    def near(self, word: str) -> set[str]:
        """Ids with a form close to `word`: a word with its first letter, or a short particle
        typed before one ("oconel": "o", then a word close to "conel")."""
        found = set(self.hits(word))
        if len(word) < FUZZY_SHORTEST:
            return found
        found |= self._close_keys(word)
        for cut in range(1, min(PARTICLE_LONGEST, len(word) - FUZZY_SHORTEST) + 1):
            head = self.exact(word[:cut])
            if head:
                found |= head & self._close_keys(word[cut:])
        return found

    def _close_keys(self, word: str) -> set[str]:
        return {i for key, ids in self.keys(word[0]).items() if close(word, key) for i in ids}

    def close_candidates(self, query: list[str]) -> set[str]:
        """Ids that may fit the query closely (`fits_closely`)."""
        return set.intersection(*(self.near(w) for w in query)) if query else set()
