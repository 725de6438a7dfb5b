# SPDX-License-Identifier: GPL-2.0
"""The one TAP parser of the test runner.

Every producer (the test binaries, lu-chain, lu-matrix, lu-modtests, the
host scripts, tests/system/run, tests/ram/run) prints TAP 13 or KTAP:
a version line, a plan line ("1..N"), then one line per test:

    ok 3 - kexec/b2/one/stage2
    not ok 4 - kexec/b2/multi/stage2: basic.c:210: size (got 4096, want 8192)
    ok 5 - module/memfd/hugetlb # SKIP no hugetlbfs

The logs they end up in are not clean: a VM's serial console carries the
kernel's messages between (and sometimes inside) our lines, several TAP
streams follow each other in one log (one per stage or per binary), a
killed VM leaves a log that ends mid-line, and the runner's own logs
prefix each line with the host time ("[   12.345] ", three decimals; the
kernel's own times have six). The parser is strict, so that nothing a
producer did not say reads as a pass:
- a result is a line that starts with "ok N - " or "not ok N - " (after
  the host time); anywhere else in a line it is not a result;
- a diagnostic ("# ...", e.g. a tool's output echoed by lu-chain) is never
  a result, whatever it contains;
- a line a kernel message split ("not [ 12.3] liveupdate: foo" then
  "ok 5 - x: boom", or a message glued in front of "ok 3 - y") cannot be
  read for sure: the result is a FAIL ("split by a kernel message") and a
  problem, never a pass;
- a stream that delivered fewer results than it planned and a last line
  cut off are problems. Results are keyed by name (numbers are recorded,
  not trusted).
"""

import re
from dataclasses import dataclass, field

# "[   12.345] " as written by vm/run and by the runner for host jobs
_STAMP = re.compile(r"^\[\s*(\d+\.\d{3})\] ?")
# a kernel message's time ("[    1.234567] "; printk.time is on in Debian's kernels)
# (with its level in front under console_msg_format=syslog: "<3>[ ...")
_KMSG = re.compile(r"(?:<\d+>)?\[\s*\d+\.\d+\]")
_VERSION = re.compile(r"^(?:K?TAP version \d+)\s*$")
_PLAN = re.compile(r"^1\.\.(\d+)\b")
# a result: at the start of the line only
_RESULT = re.compile(r"^(not ok|ok) (\d+) - ([^\s:#]+)(.*)$")
# the same anywhere in a line (a split line, a kernel message glued in front)
_RESULT_IN = re.compile(r"(not ok|ok) (\d+) - ([^\s:#\[]+)(.*)$")
SPLIT = "split by a kernel message"
_ESC = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[^\[])")

EXCERPT_LINES = 20


@dataclass
class Result:
    """One test's outcome as read from a log."""

    name: str
    status: str  # PASS, FAIL or SKIP
    reason: str = ""
    number: int = 0
    line: int = 0  # 1-based line of the result in the log
    time: float | None = None  # log time of the result, seconds
    duration: float | None = None  # since the previous result of its stream
    excerpt: list = field(default_factory=list)  # the lines that led to it


@dataclass
class Stream:
    """One TAP stream: from a version line (or the log's start) on."""

    line: int
    planned: int | None = None
    seen: int = 0


@dataclass
class Parsed:
    results: dict  # name -> Result (the first; FAIL wins over PASS/SKIP)
    order: list  # names in the order first seen
    streams: list
    problems: list  # strings: truncated streams, a cut last line, repeats


def _classify(kind, rest):
    """(status, reason) of a result line's kind and what follows the name."""
    rest = rest.strip()
    if kind == "not ok":
        return "FAIL", rest[1:].strip() if rest.startswith(":") else rest
    m = re.search(r"#\s*SKIP\b\s*(.*)$", rest, flags=re.I)
    if m:
        return "SKIP", m.group(1).strip()
    return "PASS", ""


def parse(text, prefix=""):
    """Parses a log's text; names get @prefix (e.g. "6.1/") in front."""
    results, order, streams, problems = {}, [], [], []
    lines = text.split("\n")
    cut = None
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        # no newline at the end: the writer was stopped mid-line, so the
        # last line may be a partial result; do not read a name from it
        cut = lines.pop()
        if _RESULT_IN.search(cut) or _PLAN.match(_STAMP.sub("", cut)):
            problems.append(f"line {len(lines) + 1}: the log ends mid-line: {cut[-80:]!r}")
    stream = Stream(line=0)
    streams.append(stream)
    since = []  # lines since the previous result (for excerpts)
    fragment = None  # the start of a line of ours a kernel message cut
    t_prev = None  # log time of the previous result / plan / version line
    for i, raw in enumerate(lines, 1):
        line = _ESC.sub("", raw.replace("\r", ""))
        t = None
        m = _STAMP.match(line)
        if m:
            t = float(m.group(1))
            line = line[m.end():]
        if _VERSION.match(line):
            _close(stream, problems)
            stream = Stream(line=i)
            streams.append(stream)
            t_prev, since = t, []
            continue
        m = _PLAN.match(line)
        if m and stream.planned is None:
            stream.planned = int(m.group(1))
            t_prev = t if t is not None else t_prev
            continue
        split = None
        m = None
        kmsg = _KMSG.match(line)  # a kernel message's line
        if not kmsg:
            m = _RESULT.match(line)
            if fragment is not None:
                # the rest of a line a kernel message cut: read them together
                m, split = _RESULT.match(fragment + line), fragment + line
                fragment = None
        k = None if line.startswith("#") else _KMSG.search(line, 1)
        head = line[:k.start()] if k else ""
        if k and not kmsg and (_RESULT.match(head) or (
                head and ("not ok ".startswith(head) or "ok ".startswith(head)))):
            # "ok 3 - x[  1.2] msg", "not [  1.2] msg": the result is read
            # with the next line of ours
            fragment, m = head, None
        elif m is None and split is None and not line.startswith("#"):
            m = _RESULT_IN.search(line)  # glued behind something else
            if m:
                split = line
        if not m:
            since.append(line)
            if len(since) > EXCERPT_LINES:
                since.pop(0)
            continue
        kind, num, name, rest = m.groups()
        status, reason = _classify(kind, rest)
        if split is not None:
            problems.append(f"line {i}: a result line {SPLIT}: {split[-120:]!r}")
            status, reason = "FAIL", f"its result line was {SPLIT} ({kind}): {split[-120:]!r}"
        stream.seen += 1
        r = Result(prefix + name, status, reason, int(num), i, t,
                   None if t is None or t_prev is None else round(t - t_prev, 3),
                   since + ([line] if status == "FAIL" else []))
        since = []
        t_prev = t if t is not None else t_prev
        old = results.get(r.name)
        if old is None:
            results[r.name] = r
            order.append(r.name)
        else:
            problems.append(f"line {i}: {r.name} reported again (first at line {old.line})")
            if r.status == "FAIL" and old.status != "FAIL":
                results[r.name] = r
    if fragment is not None:
        problems.append(f"the log ends with a line a kernel message cut: {fragment[-80:]!r}")
    _close(stream, problems)
    # a failure's diagnostics follow it ("#   also: ..."): add them
    for r in results.values():
        if r.status == "FAIL":
            for extra in lines[r.line:r.line + EXCERPT_LINES]:
                extra = _STAMP.sub("", extra.replace("\r", ""))
                if not extra.lstrip().startswith("#"):
                    break
                r.excerpt.append(extra)
    return Parsed(results, order, [s for s in streams if s.line or s.seen or s.planned],
                  problems)


def _close(stream, problems):
    if stream.planned is not None and stream.seen < stream.planned:
        where = f"line {stream.line}" if stream.line else "the log's start"
        problems.append(f"the TAP stream from {where} planned {stream.planned} "
                        f"results and gave {stream.seen}")


def emit(results):
    """TAP 13 of @results (Result list, in order): the runner's own output."""
    out = ["TAP version 13", f"1..{len(results)}"]
    for n, r in enumerate(results, 1):
        if r.status == "PASS":
            out.append(f"ok {n} - {r.name}")
        elif r.status == "SKIP":
            out.append(f"ok {n} - {r.name} # SKIP {r.reason}".rstrip())
        else:
            out.append(f"not ok {n} - {r.name}: {r.reason}".rstrip(": "))
    return "\n".join(out) + "\n"
