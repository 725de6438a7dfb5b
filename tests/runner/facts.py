# SPDX-License-Identifier: GPL-2.0
"""Facts and checks of the system-image jobs (tests/system/run, tests/qemu/run).

Their guests can only observe: a driver (tests/system/guest/lu-sys, lu-hold,
tests/qemu/image/lu-qemu) prints what it saw as "@@S KEY VALUE" lines on the
serial console, boot after boot, and the verdict needs facts of several
boots at once (the nonce of boot 1 against what boot 2 got). So the host
side is in two steps, both Python:
  1. facts: the serial log (host microseconds in front of each line) ->
     a JSON side file, build/tests/JOB-TAG.facts.json: per boot, every value
     of every key (in order) and the host time of its first line;
  2. the judge (tests/runner/sysjudge.py, qemujudge.py) reads only those
     facts and prints KTAP: one result per registered check, measurements
     (timings) as "# " diagnostics and in the facts file's "timings".
A check is registered once, with its name and a one-line description of
what it asserts (Checks.add); --list prints each name with a tab and its description
(the runner reads them: tests/runner/suite.py, DESCRIPTIONS)."""

import json
import re

# a kernel time quoted in a detail would read as a line split by a kernel
# message (ktap.py): dropped from details
_KTIME = re.compile(r"(<[0-9]+>)?\[ *[0-9]+\.[0-9]+\] ?")


def glob(s, pattern):
    """bash's [[ S == PATTERN ]] with PATTERN's unquoted * and ? the only
    wildcards (everything else literal); False for None."""
    if s is None:
        return False
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, s, flags=re.S) is not None


def serial_lines(text):
    """(host us, rest) of each line of a log written by tests/system/run
    (bash's `read -r t rest`: blanks around rest stripped)."""
    for line in text.split("\n"):
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        try:
            t = int(parts[0])
        except ValueError:
            continue
        yield t, parts[1].strip() if len(parts) > 1 else ""


def fact_of(rest):
    """(key, value) of a line with "@@S KEY VALUE" in it, else None."""
    i = rest.find("@@S ")
    if i < 0:
        return None
    rest = rest[i + 4:]
    key, _, val = rest.partition(" ")
    return key, val


class Facts:
    """Per boot (a string, "1".."N"): values[b][key] = [values in order],
    times[b][key] = host us of its first line; plus anything else the
    parser found (extra)."""

    def __init__(self, values=None, times=None, extra=None):
        self.values = values or {}
        self.times = times or {}
        self.extra = extra or {}

    def add(self, b, key, val, t):
        b = str(b)
        self.values.setdefault(b, {}).setdefault(key, []).append(val)
        self.times.setdefault(b, {}).setdefault(key, t)

    def mark(self, b, key, t):
        self.times.setdefault(str(b), {}).setdefault(key, t)

    def has(self, b, key):
        return key in self.values.get(str(b), {})

    def one(self, b, key):
        """The last value of @key in boot @b (None: never said)."""
        v = self.values.get(str(b), {}).get(key)
        return v[-1] if v else None

    def many(self, b, key):
        """Every value of @key in boot @b, each with a newline ("": none)."""
        return "".join(v + "\n" for v in self.values.get(str(b), {}).get(key, []))

    def first(self, b, key):
        v = self.values.get(str(b), {}).get(key)
        return v[0] if v else None

    def t(self, b, key):
        return self.times.get(str(b), {}).get(key)

    def to_json(self):
        return {"values": self.values, "times": self.times, **self.extra}

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        return cls(d.pop("values", {}), d.pop("times", {}), d)

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_json(json.load(f))


def oneline(s):
    return (s or "").replace("\n", ";")


class Checks:
    """The registered checks of a judge: add(name, description) in the
    order they report; check(name, ok, detail) gives one its result. The
    results print as KTAP, every registered name exactly once (a check the
    judge never reached fails: "not judged")."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.names = []
        self.desc = {}
        self.got = {}

    def add(self, name, description):
        assert name not in self.desc, name
        self.names.append(name)
        self.desc[name] = description

    def check(self, name, ok, detail=""):
        if name not in self.desc:
            raise KeyError(f"check {name} is not registered")
        if name in self.got:
            raise KeyError(f"check {name} judged twice")
        self.got[name] = (bool(ok), _KTIME.sub("", detail or "").replace("\n", ";"))

    def listing(self, describe=False):
        return "".join(self.prefix + n + ("\t" + self.desc[n] if describe else "") + "\n"
                       for n in self.names)

    def ktap(self):
        out = ["TAP version 13", f"1..{len(self.names)}"]
        for i, n in enumerate(self.names, 1):
            ok, detail = self.got.get(n, (False, "not judged"))
            if ok:
                out.append(f"ok {i} - {self.prefix}{n}" + (f": {detail}" if detail else ""))
            else:
                out.append(f"not ok {i} - {self.prefix}{n}: {detail or 'failed'}")
        return "\n".join(out) + "\n"

    def failed(self):
        return sum(1 for n in self.names if not self.got.get(n, (False,))[0])
