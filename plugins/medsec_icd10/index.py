"""The ICD-10-CM index: built once from simple-icd-10-cm, then read in small pieces.

Loading simple-icd-10-cm parses an 11 MB XML file (about two seconds), too
slow for every command. At first use the codes are written once as a folder
of small files; later commands read one of them:

    <data_dir>/index/codes/icd10cm-<package version>/
        manifest.json   {"format": 1, "version": "1.5.0", "codes": ..., "billable": ...}
                        written last: a folder without it is unfinished and ignored
        E1.json ...     one shard per first two characters of the code without its dot
                        {"E119": ["E11.9", "Type 2 diabetes mellitus without complications", 1]}
                        (the largest, S6.json, is under 0.8 MB; a lookup parses one)
        search.txt      one line per code, "E11.9<TAB>1<TAB>description", plus
                        "<TAB>folded words" where the description has accents

The folder is derived data: deleting it costs one rebuild, and a new package
version builds its own folder (older ones are removed). Each file is written
atomically, so concurrent builders and readers never see a torn file. When
the index is built it is also written beside this package (``_index/``,
readable by every user, best effort), where the next data directory finds it
without a rebuild; when neither place can be written, it is kept in memory
for the process.
"""

import importlib.util
import os
import re
import shutil
import warnings

import orjson

from medsec.plugin_api import PluginError, words, write_private_file, write_private_files

FORMAT = 1
PACKAGE = "simple_icd_10_cm"
MANIFEST = "manifest.json"
SEARCH = "search.txt"
HERE = os.path.dirname(os.path.abspath(__file__))

_CODE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")
_CODE_PREFIX = re.compile(r"[A-Z][0-9][0-9A-Z]?(\.[0-9A-Z]{0,4}|[0-9A-Z]{0,4})")
_NOT_WORD = rb"(?<![a-z0-9])"

_opened: dict[str, "Index"] = {}  # folder -> index read (or built) by this process
_built: dict[str, tuple] = {}  # package version -> layout built by this process
_version: list[str] = []  # the installed package's version, found once per process


class Index:
    """One built index: shards by two-character prefix and the search text."""

    def __init__(self, folder: str | None = None, shards: dict | None = None, text: bytes | None = None):
        self.folder = folder
        self._shards = shards if shards is not None else {}
        self._text = text
        self._lower: bytes | None = None

    def shard(self, prefix: str) -> dict:
        """{code without dot: [code, description, billable]} for codes starting with `prefix`."""
        if prefix not in self._shards and self.folder:
            raw = _read(os.path.join(self.folder, f"{prefix}.json"))
            self._shards[prefix] = orjson.loads(raw) if raw else {}
        return self._shards.get(prefix, {})

    def text(self) -> bytes:
        """The search text (one line per code)."""
        if self._text is None:
            with open(os.path.join(self.folder, SEARCH), "rb") as f:
                self._text = f.read()
        return self._text

    def lower(self) -> bytes:
        """The search text in lower case (ASCII letters only, as the folded query is)."""
        if self._lower is None:
            self._lower = self.text().lower()
        return self._lower


# -- finding ----------------------------------------------------------------
def normalize(code: str) -> str | None:
    """'e11.9' or 'E119' -> 'E119'; None for what cannot be an ICD-10-CM code.

    A dot is accepted only where ICD-10-CM puts it, after the third character.
    """
    text = str(code).strip().upper()
    if "." in text and (text.count(".") > 1 or text.index(".") != 3):
        return None
    key = text.replace(".", "")
    return key if _CODE.fullmatch(key) else None


def find(data_dir: str, code: str) -> tuple[str, str, bool] | None:
    """(code with dot, description, billable) of one code, or None."""
    key = normalize(code)
    if key is None:
        return None
    row = open_index(data_dir).shard(key[:2]).get(key)
    return (row[0], row[1], bool(row[2])) if row else None


def code_prefix(text: str) -> str | None:
    """The dotted start of a code that `text` spells ('e116' -> 'E11.6'), or None."""
    text = text.strip().upper()
    if not _CODE_PREFIX.fullmatch(text):
        return None
    key = text.replace(".", "")
    return key if len(key) <= 3 else f"{key[:3]}.{key[3:]}"


def search(data_dir: str, text: str, limit: int) -> list[tuple[str, str, bool]]:
    """Codes starting with `text`, or whose description words start with each of its words.

    Billable codes first, then in code order; at most `limit`.
    """
    prefix = code_prefix(text)
    query = words(text)
    if not prefix and not query:
        return []
    index = open_index(data_dir)
    starts = set()
    if prefix:
        starts.update(_code_hits(index.lower(), prefix))
    if query:
        starts.update(_word_hits(index.lower(), query))
    return _rows(index.text(), starts, limit)


def _code_hits(lower: bytes, prefix: str) -> list[int]:
    """Line starts of the codes that begin with `prefix`."""
    needle = prefix.lower().encode()
    hits = [0] if lower.startswith(needle) else []
    return hits + [at + 1 for at in _finds(lower, b"\n" + needle)]


def _word_hits(lower: bytes, query: list[str]) -> set[int]:
    """Line starts of descriptions with a word starting with each query word.

    The rarest word finds the candidates, the others check them.
    """
    first = min(query, key=lambda w: lower.count(w.encode()))
    others = [re.compile(_NOT_WORD + re.escape(w.encode())) for w in query if w != first]
    found: set[int] = set()
    for at in _finds(lower, first.encode()):
        if at and lower[at - 1:at].isalnum():
            continue  # inside a word, not at its start
        start = lower.rfind(b"\n", 0, at) + 1
        if start in found:
            continue
        description = lower.find(b"\t", lower.find(b"\t", start) + 1) + 1
        if at < description:
            continue  # the code itself, not a description word
        end = lower.find(b"\n", at)
        line = lower[description:end if end >= 0 else len(lower)]
        if all(p.search(line) for p in others):
            found.add(start)
    return found


def _finds(haystack: bytes, needle: bytes):
    """Every offset of `needle` in `haystack` (bytes.find: much faster than a regex here)."""
    at = haystack.find(needle)
    while at >= 0:
        yield at
        at = haystack.find(needle, at + 1)


def _rows(text: bytes, starts, limit: int) -> list[tuple[str, str, bool]]:
    """The search lines at `starts`, billable first, then in file (code) order."""
    parsed = []
    for start in starts:
        end = text.find(b"\n", start)
        code, flag, description = text[start:end if end >= 0 else len(text)].split(b"\t")[:3]
        parsed.append((flag != b"1", start, code, description, flag == b"1"))
    parsed.sort()
    return [(code.decode(), description.decode("utf-8"), billable)
            for _, _, code, description, billable in parsed[:limit]]


# -- locating and building ----------------------------------------------------
def package_version() -> str:
    """The installed simple-icd-10-cm version, read from its dist-info folder's name.

    Not importlib.metadata (tens of ms) and not the package itself (seconds).
    Raises PluginError when the package is not installed.
    """
    if _version:
        return _version[0]
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        raise PluginError("the ICD-10-CM table needs the simple-icd-10-cm package",
                          hint="pip install simple-icd-10-cm, or MEDSEC_DISABLE_PLUGINS=icd10")
    site = os.path.dirname(os.path.dirname(spec.origin))
    stem = f"{PACKAGE}-"
    found = [name[len(stem):-len(".dist-info")] for name in os.listdir(site)
             if name.startswith(stem) and name.endswith(".dist-info")]
    if not found:
        data = os.path.join(os.path.dirname(spec.origin), "data")
        found = [f"data{sum(os.path.getsize(os.path.join(data, n)) for n in os.listdir(data))}"]
    _version.append(found[0])
    return found[0]


def locations(data_dir: str, version: str) -> list[str]:
    """Where the index may live, in order: the data directory, then beside this package."""
    name = f"icd10cm-{version}"
    out = []
    if os.path.isdir(data_dir):
        out.append(os.path.join(data_dir, "index", "codes", name))
    out.append(os.path.join(HERE, "_index", name))
    return out


def _read(path: str) -> bytes | None:
    """The bytes of an index file, or None when it is not there."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def complete(folder: str) -> bool:
    """Whether `folder` holds a finished index of this format."""
    raw = _read(os.path.join(folder, MANIFEST))
    try:
        return bool(raw) and orjson.loads(raw).get("format") == FORMAT
    except (orjson.JSONDecodeError, AttributeError):
        return False


def open_index(data_dir: str) -> Index:
    """The index for `data_dir`: an existing one, else built now (the slow path)."""
    version = package_version()
    folders = locations(data_dir, version)
    for folder in folders:
        if folder in _opened:
            return _opened[folder]
        if complete(folder):
            _opened[folder] = Index(folder)
            return _opened[folder]
    return _build(folders, version)


def _build(folders: list[str], version: str) -> Index:
    """Build the index and write it to every location that can take it.

    The data directory gets its copy; the one beside the package (best
    effort) spares every other data directory the rebuild. With neither
    writable, the index lives in this process's memory.
    """
    if version not in _built:
        _built[version] = layout(load_codes(), version)
    shards, text, manifest = _built[version]
    found = None
    for folder in folders:
        try:
            write(folder, shards, text, manifest, shared=folder.startswith(HERE + os.sep))
        except OSError:
            continue
        found = found or folder
    index = Index(found, shards, text)
    if found:
        _opened[found] = index
    return index


def load_codes() -> list[tuple[str, str, bool]]:
    """Every category and subcategory code as (code, description, billable).

    The slow step: imports simple_icd_10_cm. Chapters and blocks are left out.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as cm  # seconds to import: only an index build pays for it

        found: dict[str, tuple[str, bool]] = {}
        for code in cm.get_all_codes(with_dots=True):
            if code in found or not cm.is_category_or_subcategory(code):
                continue
            found[code] = (cm.get_description(code), cm.is_valid_item(code) and cm.is_leaf(code))
    return [(code, description, billable) for code, (description, billable) in found.items()]


def layout(rows, version: str) -> tuple[dict, bytes, dict]:
    """(shards, search text, manifest) of the index for `rows`."""
    shards: dict[str, dict] = {}
    lines = []
    for code, description, billable in rows:
        description = " ".join(str(description).split())  # no tabs or newlines
        key = code.replace(".", "")
        shards.setdefault(key[:2], {})[key] = [code, description, int(billable)]
        line = f"{code}\t{int(billable)}\t{description}"
        if not description.isascii():
            line += "\t" + " ".join(words(description))
        lines.append(line)
    manifest = {"format": FORMAT, "package": "simple-icd-10-cm", "version": version,
                "codes": len(rows), "billable": sum(1 for r in rows if r[2])}
    return shards, ("\n".join(lines) + "\n").encode("utf-8"), manifest


def write(folder: str, shards: dict, text: bytes, manifest: dict, shared: bool = False) -> None:
    """Write the index into `folder`, the manifest last; remove other versions' folders.

    `shared` (beside the package) makes the files readable by every user.
    """
    files = {f"{prefix}.json": orjson.dumps(table) for prefix, table in shards.items()}
    write_private_files(folder, {**files, SEARCH: text})
    write_private_file(os.path.join(folder, MANIFEST), orjson.dumps(manifest))
    if shared:
        _share(folder)
    _remove_other_versions(folder)


def _share(folder: str) -> None:
    """Let every user read an index built beside the package (it holds no patient data)."""
    parent = os.path.dirname(folder)
    ignore = os.path.join(parent, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w", encoding="utf-8") as f:
            f.write("# built by medsec_icd10 at first use\n*\n")
    os.chmod(ignore, 0o644)
    for path in (parent, folder):
        os.chmod(path, 0o755)
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o644)


def _remove_other_versions(folder: str) -> None:
    parent, name = os.path.split(folder)
    for other in os.listdir(parent):
        if other.startswith("icd10cm-") and other != name:
            shutil.rmtree(os.path.join(parent, other), ignore_errors=True)
