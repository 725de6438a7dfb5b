# SPDX-License-Identifier: GPL-2.0
"""tests/run: the project's test command (README and CI call it).

usage: tests/run [--kernel 6.1,6.12,7.2] [--only SEL[,SEL...]] [--list [--json|--describe]]
                 [-j N] [--quiet]
  --kernel  kernels to test (bookworm|6.1, trixie|6.12, sid|7.2); default all
  --only    what to run: a kind (host, module, kexec, zerocopy, matrix,
            system, qemu, fleet, mutants), a job (kexec-6.1, module-6.1-debug, host-fuzz), or a
            test name or glob ('6.1/kexec/b3/*', 'host/*' is not a name:
            use 'host'); a job runs whole, and every name it reports is
            judged. Repeatable. Default: everything but mutants (system,
            qemu and fleet only when the kernels include 7.2, their kernels
            being fixed).
  --list    print the name of every test the selection would report (each
            asked from its producer), run nothing, exit 0; with --json, the
            jobs instead (name, kind, kernel, CPUs, vCPUs, host threads,
            names, what each test asserts where its producer says) as JSON:
            tests/runner/readme-table makes tests/README.md's table of jobs
            and tests/LIST.md from it; with --describe, a tab and what the
            test asserts behind each name that has a description
  -j N      host CPUs to fill (default: all); a job counts as many CPUs as
            it keeps busy (a TCG VM: its host threads)
  --quiet   print only what did not pass, not one line per passed test
Builds the tests, installs the Debian packages the selection needs, then
runs the jobs side by side and judges every expected name: a name expected
and never reported is MISSING (a failure), a name reported and not expected
is a failure too. Writes build/tests/summary.json (every test: kernel, job,
result, duration, log excerpt on failure), build/tests/results.tap, each
job's log (build/tests/JOB.log: serial console or output, host seconds in
front of each line; JOB.out: vm/run's own output), and prints the tables.
Exit 0 only if every expected test passed or was skipped.
"""

import argparse
import datetime
import fnmatch
import json
import os
import subprocess
import sys
import time

from . import ktap, report, schedule, suite

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "build", "tests")
T0 = time.monotonic()


def say(msg):
    print("tests/run: [%5d s] %s" % (time.monotonic() - T0, msg), flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tests/run", add_help=False)
    p.add_argument("--kernel", default="6.1,6.12,7.2")
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--list", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--describe", action="store_true")
    p.add_argument("-j", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    a = p.parse_args(argv)
    if a.help:
        print(__doc__.split("\n", 2)[2].strip())
        sys.exit(0)
    kernels = []
    for k in a.kernel.split(","):
        if k not in suite.KERNELS:
            p.error(f"unknown kernel '{k}' (bookworm|6.1, trixie|6.12, sid|7.2)")
        if suite.KERNELS[k] not in kernels:
            kernels.append(suite.KERNELS[k])
    a.kernels = kernels
    a.only = [s for o in a.only for s in o.split(",") if s]
    if a.j < 1:
        p.error("-j wants a number of CPUs, 1 or more")
    return a


def job_doc(job):
    """What --list --json says of @job."""
    smp, threads = None, None
    if job.vm:
        a = job.argv
        smp = int(a[a.index("--smp") + 1]) if "--smp" in a else 1
        single = "--tcg-thread" in a and a[a.index("--tcg-thread") + 1] == "single"
        threads = 1 if single else smp
    return {"name": job.name, "kind": job.kind, "kernel": job.kernel, "cost": job.cost,
            "vm": job.vm, "vcpus": smp, "threads": threads, "deps": job.deps,
            "names": job.names, "descriptions": job.desc}


def select(jobs, only, kernels):
    """The jobs @only picks (all but system without 7.2 when empty), with
    the jobs they depend on; dies on a selector that picks nothing."""
    by_name = {j.name: j for j in jobs}
    if not only:
        chosen = [j for j in jobs if j.kind != "mutants" and
                  (j.kind not in ("system", "qemu", "fleet") or "7.2" in kernels)]
    else:
        chosen = []
        for sel in only:
            hit = [j for j in jobs if j.kind == sel or fnmatch.fnmatchcase(j.name, sel)
                   or any(fnmatch.fnmatchcase(n, sel) for n in j.names)]
            if not hit:
                raise SystemExit(f"tests/run: --only {sel}: no kind, job or test of that name "
                                 f"(tests/run --list shows the names)")
            chosen += [j for j in hit if j not in chosen]
    todo = list(chosen)
    while todo:
        for d in todo.pop().deps:
            if by_name[d] not in chosen:
                chosen.append(by_name[d])
                todo.append(by_name[d])
    return [j for j in jobs if j in chosen]


def setup(jobs):
    """Installs what the selected jobs need, one apt call, before any job
    runs (jobs installing side by side would fight over dpkg's lock), and
    resolves the kernels' versions once (their APT lists are shared)."""
    kinds = {j.kind for j in jobs}
    extra = []
    if any(j.name == "host-fuzz" for j in jobs):
        extra += ["clang-14", "libclang-rt-14-dev"]
    if any(j.name == "host-fleet" or j.kind == "fleet" for j in jobs):
        # the role's syntax and check-mode runs; the fleet test's hosts
        extra += ["ansible-core", "openssh-client"]
    if any(j.name == "host-package" for j in jobs):
        extra += ["debhelper", "dh-dkms", "lintian"]
    if any(j.name.startswith("package-") for j in jobs):
        extra += ["autopkgtest"]    # the host's runs debian/tests in each suite's testbed
    if kinds & {"system", "qemu", "fleet"} or any(j.kernel not in (None, "6.1") for j in jobs):
        extra.append("debootstrap")
    if kinds - {"host"}:
        subprocess.run(["bash", os.path.join(REPO, "vm", "deps.sh")], check=True)
    missing = [p for p in extra if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
        text=True).stdout != "install ok installed"]
    if missing:
        say("installing " + " ".join(missing))
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    suites = {"6.12": "trixie", "7.2": "sid"}
    need = {j.kernel for j in jobs if j.kernel in suites}
    if kinds & {"system", "qemu"}:
        need |= {"6.12", "7.2"}
    for k in sorted(need):
        subprocess.run(["bash", "-c", 'LU_REPO=$1; . "$1/vm/lib.sh"; lu_kver "$2" >/dev/null',
                        "-", REPO, suites[k]], check=True)


class Collector:
    """Turns finished jobs into results (the finish hook of the executor)."""

    def __init__(self, out=None, say=say):
        self.out = out or OUT
        self.say = say
        self.results = {}  # job name -> ktap.Parsed
        self.problems = []

    def finish(self, job, rec):
        rec["log"] = os.path.relpath(self.tap_source(job), REPO)
        try:
            with open(self.tap_source(job), errors="replace") as f:
                parsed = ktap.parse(f.read(), job.prefix)
        except FileNotFoundError:
            parsed = ktap.parse("", job.prefix)
        for argv, _ in job.post:
            check = argv[0]
            p = subprocess.run(argv + [self.tap_source(job)], capture_output=True, text=True)
            more = ktap.parse(p.stdout, job.prefix)
            for n in more.order:
                parsed.results[n] = more.results[n]
                parsed.order.append(n)
            self.problems += [f"{job.name}: {os.path.basename(check)}: {x}"
                              for x in more.problems]
            # the post-check's own exit status is a result too
            v = suite.post_verdict(job, check)
            parsed.results[v] = ktap.Result(
                v, "PASS" if p.returncode == 0 else "FAIL",
                "" if p.returncode == 0 else
                f"{os.path.basename(check)} exited {p.returncode}: {p.stderr.strip()[-200:]}")
            parsed.order.append(v)
        if job.vm:
            ev = os.path.join(self.out, job.name + ".events")
            if os.path.exists(ev):
                with open(ev) as f:
                    rec["boots"] = report.boots(f.read())
        self.problems += [f"{job.name}: {p}" for p in parsed.problems]
        self.results[job.name] = parsed
        r = parsed.results
        self.say("done %s: exit %s after %.0f s; %d passed, %d failed, %d skipped" % (
            job.name, rec["exit"], rec["seconds"],
            sum(x.status == "PASS" for x in r.values()),
            sum(x.status == "FAIL" for x in r.values()),
            sum(x.status == "SKIP" for x in r.values())))

    def tap_source(self, job):
        # a VM's serial console (vm/run --log), or a program's output
        return os.path.join(self.out, job.name + ".log")


def verdict_reason(job, rec, out=None):
    """Why a job's own verdict failed: its exit, and its last words."""
    why = rec.get("why") or f"exit {rec.get('exit')}" + (
        f" ({rec['status']})" if rec.get("status") not in (None, "done") else "")
    path = os.path.join(out or OUT, job.name + (".out" if job.vm else ".log"))
    try:
        with open(path, errors="replace") as f:
            tail = [ktap._STAMP.sub("", x).strip() for x in f.read().splitlines()[-40:]]
        said = [x for x in tail if x.startswith("FAIL") or "failed" in x or "kernels:" in x]
        if said:
            why += ": " + said[-1][:200]
    except FileNotFoundError:
        pass
    return why


SKIPS = os.path.join(REPO, "tests", "skips")


def skip_key(job):
    """Which tests/skips/ file lists @job's expected skips: its kernel, or
    its kind for the jobs of no one kernel (host, matrix, system, qemu)."""
    return job.kernel or job.kind


def load_skips(key, where=SKIPS):
    """tests/skips/KEY: one "NAME-GLOB  REASON" a line ('#' comments). A
    skip is expected when its name matches the glob and what it printed
    after SKIP contains REASON. -> [(glob, reason, "file:line")]"""
    path = os.path.join(where, key)
    out = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                glob, _, reason = line.partition(" ")
                if not reason.strip():
                    raise SystemExit(f"tests/run: {path}:{n}: no reason after {glob}")
                out.append((glob, reason.strip(), f"tests/skips/{key}:{n}"))
    except FileNotFoundError:
        pass
    return out


def expected_skip(entries, name, reason=None):
    """Where @name is listed as an expected skip (for @reason, or any)."""
    for glob, why, where in entries:
        if fnmatch.fnmatchcase(name, glob) and (reason is None or why in reason):
            return where
    return None


def judge(jobs, records, col, skips=None):
    """Every expected name of every job -> a test entry; then what was
    reported but not expected. A SKIP not in @skips (key -> entries, see
    load_skips; default: the files in tests/skips/) fails; an expected skip
    that passed is a note in col.problems."""
    tests = []
    if skips is None:
        skips = {k: load_skips(k) for k in {skip_key(j) for j in jobs}}
    for job in jobs:
        entries = skips.get(skip_key(job), [])
        rec = records.get(job.name, {"status": "not run", "why": "not run"})
        parsed = col.results.get(job.name)
        got = parsed.results if parsed else {}
        kernel = job.kernel
        if job.prefix.endswith("-debug/"):
            kernel = job.prefix[:-1]
        for name in job.names:
            t = {"name": name, "kernel": kernel, "job": job.name}
            if name == job.verdict:
                ok = rec.get("exit") == 0 and rec.get("status") == "done"
                t.update(result="PASS" if ok else "FAIL", duration=rec.get("seconds"),
                         reason="" if ok else verdict_reason(job, rec, col.out))
            elif name in got:
                r = got.pop(name)
                t.update(result=r.status, duration=r.duration, reason=r.reason)
                where = expected_skip(entries, name) if r.status == "PASS" else \
                    expected_skip(entries, name, r.reason) if r.status == "SKIP" else None
                if r.status == "SKIP" and not where:
                    t.update(result="FAIL", reason=f"unexpected skip (not in tests/skips/"
                                                   f"{skip_key(job)}): {r.reason}")
                elif r.status == "PASS" and where:
                    col.problems.append(f"{name}: passed, though {where} expects it to skip")
                if t["result"] == "FAIL":
                    t["excerpt"] = r.excerpt
            else:
                t.update(result="MISSING", duration=None,
                         reason=rec.get("why") if rec.get("status") == "not run"
                         else f"no result in {rec.get('log', job.name)}")
            tests.append(t)
        for name, r in got.items():
            tests.append({"name": name, "kernel": kernel, "job": job.name, "result": "FAIL",
                          "duration": r.duration, "excerpt": r.excerpt,
                          "reason": f"reported but not expected (not in the --list of "
                                    f"{job.name}): {r.status} {r.reason}".rstrip()})
    return tests


def read_json(name):
    try:
        with open(os.path.join(OUT, name)) as f:
            known = json.load(f)
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def load_estimates(jobs):
    """A run's own durations and loads (CPU seconds / wall seconds) replace
    suite.py's ESTIMATES and LOADS."""
    durations, loads = read_json("durations.json"), read_json("loads.json")
    for j in jobs:
        if isinstance(durations.get(j.name), (int, float)):
            j.estimate = durations[j.name]
        if isinstance(loads.get(j.name), (int, float)) and loads[j.name] > 0:
            j.load = loads[j.name]


def save_estimates(records):
    durations, loads = read_json("durations.json"), read_json("loads.json")
    for n, r in records.items():
        if r.get("status") == "done" and r.get("seconds"):
            durations[n] = r["seconds"]
            if r.get("cpu_seconds") is not None:
                loads[n] = round(r["cpu_seconds"] / r["seconds"], 2)
    for name, known in (("durations.json", durations), ("loads.json", loads)):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(known, f, indent=1, sort_keys=True)


def main(argv):
    a = parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    if not a.list:
        say("building the tests")
    if subprocess.run(["make", "-s", "-C", os.path.join(REPO, "tests"),
                       f"-j{os.cpu_count() or 1}"], stdout=sys.stderr).returncode:
        say("building the tests failed")
        return 1
    try:
        jobs = select(suite.Suite(REPO, a.kernels, OUT).build(), a.only, a.kernels)
    except suite.ListError as e:
        say(f"asking a test for its names failed: {e}")
        return 1
    if a.list and a.json:
        json.dump([job_doc(j) for j in jobs], sys.stdout, indent=1)
        print()
        return 0
    if a.list:
        for j in jobs:
            for n in j.names:
                print(n + ("\t" + j.desc[n] if a.describe and n in j.desc else ""))
        return 0
    setup(jobs)
    load_estimates(jobs)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    say("%d jobs, %d tests expected, on %d CPUs: %s" % (
        len(jobs), sum(len(j.names) for j in jobs), a.j, " ".join(j.name for j in jobs)))
    for j in jobs:  # a stale log must not be judged
        for ext in (".log", ".out", ".events"):
            try:
                os.unlink(os.path.join(OUT, j.name + ext))
            except FileNotFoundError:
                pass
    col = Collector()
    ex = schedule.Executor(jobs, a.j, OUT, say, finish=col.finish)
    records = ex.run()
    wall = time.monotonic() - ex.t0
    tests = judge(jobs, records, col)
    summary = {
        "version": 1, "started": started, "wall_seconds": round(wall, 3), "slots": a.j,
        "kernels": a.kernels, "only": a.only, "counts": report.counts(tests),
        "jobs": [{"name": j.name, "kind": j.kind, "kernel": j.kernel, "cost": j.cost,
                  "load": j.load, **records.get(j.name, {"status": "not run"})} for j in jobs],
        "tests": tests, "problems": col.problems,
        "json": "summary.json", "out": os.path.relpath(OUT, REPO),
    }
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(OUT, "results.tap"), "w") as f:
        f.write(ktap.emit([ktap.Result(t["name"], "FAIL" if t["result"] == "MISSING"
                                       else t["result"], t.get("reason") or "")
                           for t in tests]))
    save_estimates(records)
    print("\n".join(report.lines(summary, verbose=not a.quiet)))
    if ex.stop is not None:
        return 128 + ex.stop
    c = summary["counts"]
    return 1 if c["failed"] or c["missing"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # before the jobs started (while building)
        sys.exit(130)
