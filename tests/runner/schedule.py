# SPDX-License-Identifier: GPL-2.0
"""Runs jobs side by side, as many as the machine has CPUs.

Each job has a cost (the host CPUs it may keep busy: a TCG VM's host
threads), a load (the CPUs it kept busy on average in an earlier run: its
CPU time over its wall time; a VM of two vCPU threads idles one of them most
of the time) and dependencies. The schedule fills the CPUs by load, so a
job that waits (a download, a guest asleep) leaves room for another. Whenever CPUs are free, the ready job on the longest
remaining chain (its estimate plus the longest chain of what waits for it)
starts first, so that long VMs do not end up last and alone. A job whose
cost exceeds the machine's runs alone. A job whose dependency failed is
not run. Every job runs in its own session, so interrupting the runner
(SIGINT, SIGTERM) or a job's timeout kills the job's whole process group:
vm/run, timeout, QEMU and the serial reader go together.
"""

import os
import signal
import subprocess
import threading
import time

# The least a job counts for, however idle it was: a job's load is measured
# on one run, and a few waiting jobs must not crowd the CPUs when they wake.
MIN_LOAD = 0.25


def wait_job(p, block=False):
    """Reap @p (a Popen) if it ended: (exit status, CPU seconds it and the
    children it waited for used), or (None, None) if it still runs."""
    if p.returncode is not None:
        return p.returncode, None
    try:
        pid, status, ru = os.wait4(p.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return p.wait(), None
    if pid == 0:
        return None, None
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, round(ru.ru_utime + ru.ru_stime, 3)


def critical_paths(jobs):
    """name -> the job's estimate plus the longest chain of its dependents."""
    by_name = {j.name: j for j in jobs}
    dependents = {j.name: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            if d in dependents:
                dependents[d].append(j.name)
    memo = {}

    def length(n):
        if n not in memo:
            memo[n] = by_name[n].estimate + max((length(m) for m in dependents[n]), default=0)
        return memo[n]
    return {j.name: length(j.name) for j in jobs}


class Scheduler:
    """The pure part: which jobs to start now. No processes here."""

    def __init__(self, jobs, slots):
        self.jobs = {j.name: j for j in jobs}
        self.slots = max(1, slots)
        self.prio = critical_paths(jobs)
        self.waiting = [j.name for j in sorted(jobs, key=lambda j: -self.prio[j.name])]
        self.running = set()
        self.ok = set()  # finished, exit 0
        self.failed = set()  # finished otherwise, or not run
        self.skipped = {}  # name -> why it was not run

    def cost(self, name):
        job = self.jobs[name]
        load = job.load if job.load is not None else job.cost
        return min(max(load, MIN_LOAD), job.cost, self.slots)

    def used(self):
        return sum(self.cost(n) for n in self.running)

    def next(self):
        """Names to start now (marked running); also moves jobs whose
        dependency failed to skipped."""
        start = []
        for n in list(self.waiting):
            bad = [d for d in self.jobs[n].deps if d in self.failed]
            if bad:
                self.waiting.remove(n)
                self.failed.add(n)
                self.skipped[n] = f"not run: {bad[0]} failed"
        for n in list(self.waiting):
            deps = self.jobs[n].deps
            if any(d not in self.ok for d in deps if d in self.jobs):
                continue
            if self.used() + self.cost(n) > self.slots:
                continue
            self.waiting.remove(n)
            self.running.add(n)
            start.append(n)
        return start

    def finished(self, name, ok):
        self.running.discard(name)
        (self.ok if ok else self.failed).add(name)

    def done(self):
        return not self.waiting and not self.running


class Executor:
    """Starts jobs as the scheduler says, captures their output into logs
    with the host time in front of each line, enforces timeouts."""

    def __init__(self, jobs, slots, out, say, prepare=None, finish=None):
        self.sched = Scheduler(jobs, slots)
        self.out = out
        self.say = say
        self.prepare = prepare  # job -> None, before it starts
        self.finish = finish  # job, record -> None, after it ended
        self.procs = {}  # name -> (Popen, t0, thread)
        self.records = {}  # name -> dict(exit, seconds, started, status, ...)
        self.t0 = time.monotonic()
        self.stop = None  # the signal that interrupted us

    def log_path(self, job):
        return os.path.join(self.out, job.name + (".out" if job.vm else ".log"))

    def _pump(self, pipe, path, t0):
        with open(path, "w", errors="replace") as f:
            for line in iter(pipe.readline, ""):
                f.write("[%8.3f] %s" % (time.monotonic() - t0, line))
                f.flush()
        pipe.close()

    def _start(self, name):
        job = self.sched.jobs[name]
        if self.prepare:
            self.prepare(job)
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(job.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace",
                                 start_new_session=True, env={**os.environ, **job.env})
        except OSError as e:
            self.records[name] = {"exit": None, "seconds": 0, "status": "error",
                                  "error": str(e), "started": round(t0 - self.t0, 3)}
            self.sched.finished(name, False)
            self.say(f"{name}: cannot start: {e}")
            return
        th = threading.Thread(target=self._pump, args=(p.stdout, self.log_path(job), t0),
                              daemon=True)
        th.start()
        self.procs[name] = (p, t0, th)
        load = self.sched.cost(name)
        self.say(f"start {name} ({job.cost} CPU{'s' if job.cost > 1 else ''}"
                 + (f", load {load:g})" if load != job.cost else ")"))

    def _kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name][0]
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass

    def _reap(self):
        for name, (p, t0, th) in list(self.procs.items()):
            job = self.sched.jobs[name]
            rc, cpu = wait_job(p)
            status = "done"
            if rc is None and time.monotonic() - t0 > job.timeout:
                self.say(f"{name}: timeout after {job.timeout} s, killing it")
                self._kill(name)
                rc, cpu = wait_job(p, block=True)
                status = "timeout"
            if rc is None:
                continue
            # a job's own children may linger in its session: end them too
            self._kill(name)
            th.join(timeout=10)
            del self.procs[name]
            rec = {"exit": rc, "seconds": round(time.monotonic() - t0, 3),
                   "started": round(t0 - self.t0, 3), "status": status}
            if cpu is not None:
                rec["cpu_seconds"] = cpu
            self.records[name] = rec
            self.sched.finished(name, rc == 0)
            if self.finish:
                self.finish(job, rec)

    def _interrupted(self, name):
        p, t0, th = self.procs.pop(name)
        th.join(timeout=10)
        self.records[name] = {"exit": p.returncode, "status": "interrupted",
                              "seconds": round(time.monotonic() - t0, 3),
                              "started": round(t0 - self.t0, 3)}

    def _on_signal(self, signum, _frame):
        self.stop = signum

    def run(self):
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self.sched.done() and self.stop is None:
                for n in self.sched.next():
                    self._start(n)
                for n, why in list(self.sched.skipped.items()):
                    if n not in self.records:
                        self.records[n] = {"exit": None, "seconds": 0, "status": "not run",
                                           "why": why}
                        self.say(f"{n}: {why}")
                self._reap()
                if self.procs or not self.sched.done():
                    time.sleep(0.2)
            if self.stop is not None:
                self.say(f"interrupted (signal {self.stop}): stopping "
                         f"{', '.join(sorted(self.procs)) or 'nothing'}")
                for n in list(self.procs):
                    self._kill(n, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while self.procs and time.monotonic() < deadline:
                    for n, (p, _, _) in list(self.procs.items()):
                        if p.poll() is not None:
                            self._kill(n)
                            self._interrupted(n)
                    time.sleep(0.1)
                for n, (p, _, _) in list(self.procs.items()):
                    self._kill(n)
                    p.wait()
                    self._interrupted(n)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        return self.records
