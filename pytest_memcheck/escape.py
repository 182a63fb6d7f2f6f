"""Names, messages and file contents made inert for the medium that shows them.

A model name, an error message or a field of a hand-edited file reaches a CI log,
a markdown job summary and XML. In a GitHub Actions log, the runner acts on any
line that starts with ``::`` after its leading spaces, and on ``##[`` anywhere
in a line (the older command syntax); in the step summary, markdown and HTML are
rendered. The functions below keep such text literal.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def oneline(text: Any) -> str:
    """``text`` on one line: control characters (newlines included) shown as escapes, never acted on."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


def log_line(text: Any) -> str:
    """One line for a log read by a CI runner: :func:`oneline`, and no workflow command in it."""
    line = oneline(text).replace("##[", "##\\[")
    stripped = line.lstrip()
    return line if not stripped.startswith("::") else line[: len(line) - len(stripped)] + "\\" + stripped


def log_text(text: Any) -> str:
    """Several lines for a CI log (a failure message): each one a :func:`log_line`."""
    return "\n".join(log_line(line) for line in str(text).split("\n"))


def markdown(text: Any) -> str:
    """``text`` as literal markdown/HTML: everything but letters, digits and plain punctuation as an entity."""
    return "".join(c if c.isalnum() or c in " .,:;=/+-%()'" else f"&#{ord(c)};" for c in oneline(text))


def workflow_data(text: Any) -> str:
    """The message part of a GitHub workflow command, encoded as GitHub documents (``%``, CR, LF); other
    control characters are shown as escapes, and the older command syntax ``##[`` is broken up."""
    return oneline(str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")).replace("##[", "##\\[")


def workflow_property(text: Any) -> str:
    """A property value of a workflow command (``title=...``): also ``:`` and ``,``."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")
