"""`config edit`, `config export`, `config import`: the configuration documents as text, on any store.

On a PostgreSQL store the configuration is rows every terminal shares, not
files in a folder, so people change it through these commands; they work the
same on a data directory. Only the storage interface is used: a document's
text (`document_text`) and `put_document` in a transaction. What is saved is
the text exactly as the person wrote it (comments and all), after the same
checks as `config check` (medsec.config.check_document): a document that
would break every command is never stored.
"""

import os
from typing import Any

from medsec import config
from medsec.cli.output import say
from medsec.errors import EnvironmentFailure, InvalidInput, Refused
from medsec.outputs import check_output, write_output
from medsec.security.approval import reseal
from medsec.text import shown
from medsec.yamlfile import ConfigFileError, Problem, read_bounded


def document_name(name: str) -> str:
    """NAME as typed (`practice`, `staff.yaml`) as a document's name; InvalidInput (exit 2) naming the valid ones."""
    full = name if name.endswith(".yaml") else f"{name}.yaml"
    if full not in config.CONFIG_FILES:
        raise InvalidInput(f"unknown configuration file {shown(name)}", hint=f"one of {', '.join(config.CONFIG_FILES)}")
    return full


def _store_version(app) -> int | None:
    """The schema_version of the store's medsec.yaml (None when it has none)."""
    version = app.config("medsec.yaml").get("schema_version")
    return version if isinstance(version, int) else None


def _refuse_errors(problems: list[Problem], outcome: str) -> None:
    """InvalidInput (exit 2) naming the first error's file and line, the others printed before it."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InvalidInput(f"{errors[0].where}: {errors[0].message}", hint=f"{len(errors)} error(s); {outcome}",
                           details=[str(p) for p in errors[1:]])


def _warn(problems: list[Problem]) -> None:
    for problem in problems:
        if problem.severity != "error":
            say(f"medsec: {problem}")


def _read_text(path: str, name: str, shown_as: str) -> str | None:
    """A YAML file a person wrote, read within `name`'s size limit (None when absent): too big,
    not a regular file or not UTF-8 is InvalidInput (exit 2), as for any file a user names."""
    try:
        raw = read_bounded(path, shown_as, config.limits_of(name).size)
    except ConfigFileError as e:
        raise InvalidInput(f"{e.problem.where}: {e.problem.message}") from None
    except OSError as e:
        raise InvalidInput(f"{shown_as}: cannot be read: {e.strerror or e}") from None
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{shown_as}: not UTF-8 text (byte {e.start})") from None


def _may_change(app, names) -> None:
    """Changing who may do what (the roster, roles.yaml, practice.yaml's sign-in) needs roles.manage."""
    from medsec.security.principal import AUTHORIZATION_DOCUMENTS, require

    for name in names:
        if name in AUTHORIZATION_DOCUMENTS:
            require(app, "roles.manage", f"changing {name}")


def settings_changed(name: str, old: Any, new: Any, depth: int = 3) -> list[str]:
    """The settings of document `name` that differ between its data `old` and `new`, as dotted
    paths ("fees.99213", "staff.S4.role"), for the audit log: which settings, never their values.
    Lists of records with ids are compared by id; a path stops `depth` levels down."""
    new = config.stored_form(new)

    def paths(a: Any, b: Any, where: str, left: int) -> list[str]:
        if a == b:
            return []
        if left and isinstance(a, list) and isinstance(b, list) and all(
                isinstance(x, dict) and "id" in x for x in a + b):
            a, b = {str(x["id"]): x for x in a}, {str(x["id"]): x for x in b}
        if not left or not isinstance(a, dict) or not isinstance(b, dict):
            return [where]
        return [p for key in sorted(set(a) | set(b), key=str)
                for p in paths(a.get(key), b.get(key), f"{where}.{key}", left - 1)]

    return [path.removeprefix(".") or name for path in paths(old or {}, new or {}, "", depth)]


def _outcome(changes: list[str]) -> str:
    """An audit outcome naming the settings changed (at most a few hundred characters)."""
    text = "; ".join(changes) or "no setting changed (comments or layout)"
    return f"ok: {text if len(text) <= 400 else text[:400] + ' ...'}"


# -- config edit ------------------------------------------------------------------------
def edit_document(app, name: str) -> dict[str, Any]:
    """Let the user edit document `name` in their editor; save it if it changed and passes the checks."""
    name = document_name(name)
    before = app.store.document_text(name)
    text = _edited(name, before or "")
    if text == (before or ""):
        return {"document": name, "saved": False}
    data, problems = config.check_document(name, text, _store_version(app))
    _refuse_errors(problems, "nothing was saved")
    _may_change(app, [name])
    changes = settings_changed(name, app.config(name), data)
    with app.store.transaction() as txn:
        # The writers' lock is held: another terminal's change made while the editor was open shows here.
        if app.store.document_text(name) != before:
            raise Refused(f"{name} was changed by someone else while you edited it: nothing was saved",
                          hint=f"run 'medsec config edit {name}' again")
        txn.put_document(name, text, data)
        reseal(app, txn, {name: data})
    app.audit("config-edit", [name], outcome=_outcome(changes))
    _warn(problems)
    return {"document": name, "saved": True}


def _edited(name: str, text: str) -> str:
    """`text` after the user's editor has run on a private copy of it (removed afterwards)."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="medsec-config-")  # 0700: only this user can see into it
    try:
        path = os.path.join(folder, name)  # the document's own name: editors highlight YAML by it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode())
        run_editor([path])
        edited = _read_text(path, name, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # with any backup or swap file the editor left
    if edited is None:
        raise InvalidInput(f"{name}: the editor removed the file: nothing was saved")
    return edited


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else vi, split as a shell would (`code --wait`)."""
    import shlex

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(editor)
    except ValueError as e:
        raise EnvironmentFailure(f"the editor command {shown(editor)} cannot be read: {e}",
                                 hint="set $VISUAL or $EDITOR to a command") from None
    return argv or ["vi"]


def _wait_for_editor(editor) -> int:
    """The editor's exit status. Ctrl-C is the editor's while it runs (vi takes it as a key; the
    terminal sends it to medsec too): medsec ignores it then, as git does, and removes its files."""
    import signal

    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not this thread's to set
        return editor.wait()
    try:
        return editor.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def run_editor(paths: list[str]) -> None:
    """Run the editor on `paths` in this terminal; EnvironmentFailure (exit 3) when it cannot
    run or exits non-zero (as vi's `:cq` does to abandon an edit): nothing is saved then."""
    import subprocess

    argv = editor_command()
    try:
        code = _wait_for_editor(subprocess.Popen([*argv, *paths]))
    except OSError as e:
        raise EnvironmentFailure(f"the editor {shown(argv[0])} cannot be run: {e.strerror or e}",
                                 hint="set $VISUAL or $EDITOR to an editor") from None
    if code != 0:
        status = f"was stopped by signal {-code}" if code < 0 else f"exited with status {code}"
        raise EnvironmentFailure(f"the editor {status}: nothing was saved")


# -- config export ----------------------------------------------------------------------
def export_documents(app, folder: str, force: bool) -> dict[str, Any]:
    """Write each document the store holds to folder/NAME, its text exactly as stored."""
    texts = {name: app.store.document_text(name) for name in config.CONFIG_FILES}
    present = {name: text for name, text in texts.items() if text is not None}
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InvalidInput(f"{folder} is not a folder", hint="name a new or an existing folder")
    targets = {name: os.path.join(folder, name) for name in present}
    existing = [path for path in targets.values() if os.path.lexists(path)]
    if existing and not force:
        raise InvalidInput(f"{existing[0]} exists" + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""),
                           hint="use --force to overwrite, or name a new folder")
    root = app.store.root
    for path in targets.values():  # every target is checked before any is written
        check_output(path, root)
    for name, path in targets.items():
        write_output(path, (present[name] or "").encode(), data_dir=root)
    app.audit("config-export", list(present))
    return {"folder": os.path.abspath(folder), "written": list(present),
            "absent": [name for name in config.CONFIG_FILES if name not in present]}


# -- config import ----------------------------------------------------------------------
def import_documents(app, folder: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Read folder/NAME for each name (or each configuration file there), check them all, then
    store the changed ones in one transaction: all of them or, on any error, none."""
    wanted = list(dict.fromkeys(document_name(n) for n in names))
    if not os.path.isdir(folder):
        raise InvalidInput(f"{folder} is not a folder", hint="name the folder 'config export' wrote")
    texts = _read_folder(folder, wanted)
    version = _store_version(app)
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, text in texts.items():
        data[name], found = config.check_document(name, text, version)
        problems += [p._replace(file=os.path.join(folder, name)) for p in found]
    _refuse_errors(problems, "nothing was imported")
    changed = [name for name, text in texts.items() if app.store.document_text(name) != text]
    _may_change(app, changed)
    if changed:
        changes = [f"{name} {c}" for name in changed for c in settings_changed(name, app.config(name), data[name])]
        with app.store.transaction() as txn:
            for name in changed:
                txn.put_document(name, texts[name], data[name])
            reseal(app, txn, {name: data[name] for name in changed})
        app.audit("config-import", changed, outcome=_outcome(changes))
    _warn(problems)
    return {"folder": os.path.abspath(folder), "imported": changed,
            "unchanged": [name for name in texts if name not in changed]}


def _read_folder(folder: str, wanted: list[str]) -> dict[str, str]:
    """The texts of the named files (each must be there), or of every configuration file there."""
    texts: dict[str, str] = {}
    for name in wanted or config.CONFIG_FILES:
        path = os.path.join(folder, name)
        text = _read_text(path, name, path)
        if text is not None:
            texts[name] = text
        elif wanted:
            raise InvalidInput(f"{path} does not exist")
    if not texts:
        raise InvalidInput(f"{folder} holds no configuration file", hint=f"one of {', '.join(config.CONFIG_FILES)}")
    return texts
