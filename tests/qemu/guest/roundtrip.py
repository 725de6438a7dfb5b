#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Save/restore round trip of lu-guest on the local QEMU (no kexec).

  roundtrip.py ELF [MEM [PAUSE_S]]

Boots ELF, lets it tick, stops it and migrates it to a state file through
QMP, quits, waits PAUSE_S, restores the state into a new QEMU (-incoming
defer, migrate-incoming, cont) and checks that the boot id is unchanged,
the count continues, "resumed after" is printed and bad stays 0.
Uses exec: migration so it works on QEMU 7.2 (file: needs 8.2).
"""
import json, os, re, socket, subprocess, sys, tempfile, time

elf = sys.argv[1]
mem = sys.argv[2] if len(sys.argv) > 2 else "256M"
pause = int(sys.argv[3]) if len(sys.argv) > 3 else 5
tmp = tempfile.mkdtemp(prefix="lu-guest-")
qmp_path, state, log = (os.path.join(tmp, n) for n in ("qmp", "state", "serial"))
args = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", mem,
        "-nodefaults", "-display", "none", "-kernel", elf,
        "-chardev", f"file,id=ser,path={log},append=on", "-serial", "chardev:ser",
        "-qmp", f"unix:{qmp_path},server=on,wait=off"]


class Qmp:
    def __init__(self):
        for _ in range(100):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(qmp_path)
                break
            except OSError:
                time.sleep(0.1)
        self.f = self.s.makefile("rw")
        self.f.readline()                       # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **a):
        self.f.write(json.dumps({"execute": name, "arguments": a}) + "\n")
        self.f.flush()
        while True:                             # skip events
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r

    def wait_migrated(self):
        while (st := self.cmd("query-migrate")["return"].get("status")) != "completed":
            if st == "failed":
                sys.exit("migration failed")
            time.sleep(0.1)


def lines():
    if not os.path.exists(log):
        return []
    with open(log, errors="replace") as f:
        return f.read().splitlines()


def wait_count(n, timeout=60):
    t = time.time() + timeout
    while time.time() < t:
        if sum("count" in l for l in lines()) >= n:
            return
        time.sleep(0.2)
    sys.exit("guest did not tick: " + repr(lines()[-3:]))


a = subprocess.Popen(args)
wait_count(4)
q = Qmp()
q.cmd("stop")
q.cmd("migrate", uri=f"exec:cat > {state}")
q.wait_migrated()
q.cmd("quit")
a.wait()
before = len(lines())
print(f"saved {os.path.getsize(state) >> 20} MiB of state; paused {pause} s", flush=True)
time.sleep(pause)

if os.path.exists(qmp_path):                # QEMU usually removes it
    os.unlink(qmp_path)
b = subprocess.Popen(args + ["-incoming", "defer"])
q = Qmp()
q.cmd("migrate-incoming", uri=f"exec:cat {state}")
q.wait_migrated()
q.cmd("cont")
wait_count(sum("count" in l for l in lines()) + 3)
q.cmd("quit")
b.wait()

out = lines()
print("\n".join(out[:2] + ["..."] + out[before - 2:]))
ticks = [re.match(r"lu-guest: boot (\w+) count (\d+) pass (\d+) bad (\d+)$", l)
         for l in out]
ticks = [m.groups() for m in ticks if m]
ok = (len({t[0] for t in ticks}) == 1 and all(t[3] == "0" for t in ticks)
      and [int(t[1]) for t in ticks] == list(range(1, len(ticks) + 1))
      and sum(l.startswith("lu-guest: resumed after") for l in out) == 1
      and sum(l.startswith("lu-guest: boot") and " mem " in l for l in out) == 1)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
