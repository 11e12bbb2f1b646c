"""pyx12, the external X12 validator, as the tests' judge of the files medsec writes."""

import io
import logging


def pyx12_judge(data: bytes, tmp_path, name: str = "judged.x12") -> tuple[bool, list[str]]:
    """pyx12's verdict on the bytes and its error lines ("Line:12 ...").

    Its log records are caught on the 'pyx12' logger and not propagated, so
    they never reach the test output (JUDGES.md: read the boolean, not
    x12valid's exit code).
    """
    import pyx12.params
    import pyx12.x12n_document

    path = tmp_path / name
    path.write_bytes(data)
    messages: list[str] = []
    catcher = logging.Handler()
    catcher.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("pyx12")
    logger.addHandler(catcher)
    propagate, logger.propagate = logger.propagate, False
    try:
        ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=str(path),
                                               fd_997=None, fd_html=None, fd_json=io.StringIO())
    finally:
        logger.removeHandler(catcher)
        logger.propagate = propagate
    return ok, [m for m in messages if m.startswith("Line:")]
