# SPDX-License-Identifier: GPL-2.0
"""The run's JSON summary and the human tables made from it (only from it:
`python3 -m tests.runner.report build/tests/summary.json` prints them again).

summary.json:
  {"version": 1, "started": ISO time, "wall_seconds": S, "slots": CPUs,
   "kernels": [...], "counts": {"passed", "failed", "skipped", "missing"},
   "jobs": [{"name", "kind", "kernel", "status", "exit", "seconds", "started",
             "log", "cost", "load", "cpu_seconds",
             "boots": [{"boot", "kernel", "seconds_from_kexec"}]}],
   "tests": [{"name", "kernel", "job", "result", "duration", "reason",
              "excerpt"}],
   "problems": [strings]}
result is PASS, FAIL, SKIP or MISSING (expected, never reported: a failure).
"""

import json
import re
import sys

RESULTS = ("PASS", "FAIL", "SKIP", "MISSING")


def kshort(kver):
    """6.12.117+deb13-cloud-amd64 -> 6.12"""
    m = re.match(r"(\d+\.\d+)", kver or "")
    return m.group(1) if m else kver


def boots(events_text):
    """The boots of a vm/run --events file: kernel and, after a kexec, the
    seconds from "kexec exec" to the next kernel's /init."""
    out, t_exec = [], None
    for line in events_text.splitlines():
        t, _, ev = line.partition(" ")
        if not t.isdigit():
            continue
        t = int(t) / 1e6
        if ev == "kexec exec":
            t_exec = t
        m = re.match(r"init boot=(\d+)(?: .*kernel=(\S+))?", ev)
        if m:
            b = {"boot": int(m.group(1)), "kernel": kshort(m.group(2))}
            if t_exec is not None and b["boot"] > 1:
                b["seconds_from_kexec"] = round(t - t_exec, 3)
            out.append(b)
    return out


def counts(tests):
    c = {"passed": 0, "failed": 0, "skipped": 0, "missing": 0}
    for t in tests:
        c[{"PASS": "passed", "FAIL": "failed", "SKIP": "skipped",
           "MISSING": "missing"}[t["result"]]] += 1
    return c


def lines(summary, verbose=True):
    """The report: one line per test (failures only unless @verbose), the
    per-job table, the matrix pairs, the totals."""
    out = []
    tests = summary["tests"]
    out.append("")
    out.append("==== tests ====")
    for t in tests:
        r = t["result"]
        if r == "PASS" and not verbose:
            continue
        why = t.get("reason") or ""
        if r == "MISSING":
            why = why or "no result in the log"
        out.append(f"{r:<8}{t['name']}" + (f": {why}" if why and r != "PASS" else ""))
    by_job = {}
    for t in tests:
        by_job.setdefault(t["job"], []).append(t["result"])
    out.append("")
    out.append("==== jobs ====")
    out.append("%-26s %-8s %6s %6s %6s %7s %8s %7s %6s" % (
        "job", "kernel", "passed", "failed", "skipped", "missing", "started", "time", "load"))
    for j in sorted(summary["jobs"], key=lambda j: (j.get("started") is None,
                                                       j.get("started") or 0)):
        rs = by_job.get(j["name"], [])
        time_s = "%.0f s" % j["seconds"] if j.get("seconds") is not None else ""
        if j.get("status") not in (None, "done"):
            time_s = (time_s + " " + j["status"]).strip()
        started = "%.0f s" % j["started"] if j.get("started") is not None else "-"
        # CPUs it kept busy on average: CPU seconds / wall seconds
        load = ("%.2f" % (j["cpu_seconds"] / j["seconds"])
                if j.get("cpu_seconds") is not None and j.get("seconds") else "")
        out.append(("%-26s %-8s %6d %6d %6d %7d %8s %7s %6s" % (
            j["name"], j.get("kernel") or "-", rs.count("PASS"), rs.count("FAIL"),
            rs.count("SKIP"), rs.count("MISSING"), started, time_s, load)).rstrip())
    pairs = {}
    for t in tests:
        m = re.match(r"matrix/([\d.]+)->([\d.]+)/", t["name"])
        if m:
            pairs.setdefault(m.groups(), []).append(t["result"])
    if pairs:
        kexec = {}
        for j in summary["jobs"]:
            if j["name"] == "matrix":
                bs = j.get("boots") or []
                for a, b in zip(bs, bs[1:]):
                    if "seconds_from_kexec" in b:
                        kexec.setdefault((a["kernel"], b["kernel"]), b["seconds_from_kexec"])
        out.append("")
        out.append("==== cross-version matrix ====")
        out.append("%-16s %6s %6s %12s" % ("from->to", "passed", "failed", "kexec->/init"))
        for (a, b), rs in sorted(pairs.items(), key=lambda p: [tuple(map(int, k.split(".")))
                                                            for k in p[0]]):
            k = kexec.get((a, b))
            out.append("%-16s %6d %6d %12s" % (f"{a}->{b}", rs.count("PASS"),
                                               len(rs) - rs.count("PASS") - rs.count("SKIP"),
                                               "%.3f s" % k if k is not None else ""))
    for p in summary.get("problems", []):
        out.append(f"note: {p}")
    c = summary["counts"]
    out.append("")
    cpu = sum(j.get("cpu_seconds") or 0 for j in summary["jobs"])
    out.append(f"wall time {summary['wall_seconds']:.0f} s on {summary['slots']} CPUs "
               f"({len(summary['jobs'])} jobs, {cpu:.0f} CPU seconds); logs and {summary.get('json', 'summary.json')} "
               f"in {summary.get('out', 'build/tests')}")
    out.append(f"tests: {c['passed']} passed, {c['failed'] + c['missing']} failed"
               f"{' (%d missing)' % c['missing'] if c['missing'] else ''}, "
               f"{c['skipped']} skipped")
    return out


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "build/tests/summary.json") as f:
        print("\n".join(lines(json.load(f), verbose="-v" in sys.argv)))
