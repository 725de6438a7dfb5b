# SPDX-License-Identifier: GPL-2.0
"""The judge of tests/qemu/run: a QEMU VM kept running across host kexecs
(facts.py says how facts and checks flow).

usage: python3 -m runner.qemujudge --suite S --list
       python3 -m runner.qemujudge --suite S --log SERIAL.log --facts OUT.json
           --kver KVER [--qemu-rc N]
       python3 -m runner.qemujudge --suite S --from-facts FACTS.json --kver KVER
KTAP on stdout, one result per registered check; the blackout tables are
measurements: "# " diagnostics and the facts file's "timings"; exit 1 if a
check failed.

sid: two VMs (small, big) across two kexecs; bookworm, trixie: small across
one. Boot 1 -> 2 is the kexec alone, boot 2 boots the VMs, boots 3 ..
KEXECS+2 resume them, boot KEXECS+3 is the negative control (the module
blacklisted)."""

import argparse
import re
import sys

from .facts import Checks, Facts, glob, serial_lines, fact_of

VM_MIB = {"small": 256, "big": 1024}
HUGE_PAGES = 128
MULTI = ("klog-warn", "kexec-helper", "handover", "vmlog", "start", "enable", "filesave",
         "unit", "unit-start", "kgap", "creds")
PER_VM = ("filesave", "unit", "unit-start", "creds")
# QEMU's user under liveupdate-vm@.service (the package's sysusers.d file)
VM_USER = "liveupdate-vm"
VM_EVENTS = (("pausing the guest", "pause"), ("device state saved", "saved"),
             ("resuming:", "resuming"), ("booting afresh", "fresh"),
             ("device state loaded", "loaded"), ("QEMU started", "exec"), ("QEMU up", "up"),
             ("guest running", "running"))


def shape(suite):
    """(VMs, kexecs that keep them, prefix)."""
    if suite == "sid":
        return ["small", "big"], 2, "qemu/"
    return ["small"], 1, f"qemu/{suite}/"


def registry(suite):
    vms, kexecs, prefix = shape(suite)
    c = Checks(prefix)
    a = c.add
    ctl = kexecs + 3
    klog = "boot %d's kernel log has no WARNING, BUG, Oops, call trace or liveupdate error"
    a("boot1", "boot 1 is on the suite's newest kernel, module loaded")
    a("kexec-alone", "the kexec alone (nothing running) reached the next PID 1" +
      (", KExecCount 1" if suite == "sid" else ""))
    a("klog/b1", klog % 1)
    a("vms/boot", "boot 2: each VM's guest booted with its RAM size and filled its pattern; "
      ">= 120 huge pages of the pool in use")
    a("vms/filesave", "boot 2: each VM saved to a file with its RAM ('saved to ... ms=') "
      "and the guest counted on after")
    a("klog/b2", klog % 2)
    a("vms/user", f"boots 2 to {ctl}: each VM's QEMU (liveupdate-vm's one child) runs as "
      f"{VM_USER}, a uid other than 0; liveupdate-vm itself as uid 0")
    for k in range(1, kexecs + 1):
        bb = k + 2
        for vm in vms:
            a(f"kexec{k}/{vm}/unit", f"boot {bb}: liveupdate-vm@{vm} active with 3 fds in its "
              "store, resumed ('resuming:', 'guest running (resumed)')")
            a(f"kexec{k}/{vm}/same-guest", f"boot {bb}: {vm}'s guest has the boot id it had "
              "before the kexec and booted 0 times since")
            a(f"kexec{k}/{vm}/count", f"boot {bb}: {vm}'s first count after the resume is the "
              "last before it plus 1, and it said 'resumed after'")
            a(f"kexec{k}/{vm}/ram", f"boot {bb}: {vm}'s guest finished a whole pattern pass "
              "after the resume with 0 bad words")
        a(f"kexec{k}/small/hugetlb", f"boot {bb}: the pool is {HUGE_PAGES} pages, >= 120 in "
          "use, restore_pages_copied >= 61440 (small's RAM on huge pages again)")
        if k == 1:
            a("kexec1/handover", "first kexec: pages_copied >= every guest page above 17 MiB "
              "(guest RAM copied into the range)")
        else:
            a(f"kexec{k}/handover", f"kexec {k}: big's RAM in place (pages_inplace >= 257792), "
              "pages_copied in [61440, 69632)")
        a(f"klog/b{bb}", klog % bb)
    a("blacklist/boot", f"boot {ctl} (module blacklisted) is on the kernel, module absent, "
      "driver done")
    for vm in vms:
        a(f"blacklist/{vm}", f"boot {ctl}: {vm} booted afresh (not resumed): a new boot id, "
          "counting from 1 again (< 60)")
    a(f"klog/b{ctl}", klog % ctl)
    return c


def read_serial(text):
    """The facts of a tests/qemu serial log. A boot begins where the
    kernel's clock starts again (tests/qemu/run says why by the two
    clocks); liveupdate-vm's own lines -> B.vm.NAME.WHAT (the first)."""
    f = Facts()
    b, last, last_t = 1, -1, 0
    for t, rest in serial_lines(text):
        m = re.match(r"\[ *([0-9]+)\.([0-9]{6})\]", rest)
        if m:
            up = int(m.group(1)) * 1000000 + int(m.group(2))
            if last >= 0 and (up < last - 5000000 or (t - last_t) - (up - last) > 10000000):
                b += 1
            last, last_t = up, t
        m = re.search(r"liveupdate-vm: (small|big): (.*)$", rest)
        if m and "@@S " not in rest:
            vm, msg = m.groups()
            w = next((w for p, w in VM_EVENTS if msg.startswith(p)), None)
            if w and f.t(b, f"vm.{vm}.{w}") is None:
                f.add(b, f"vm.{vm}.{w}", msg, t)
            continue
        kv = fact_of(rest)
        if kv is None:
            continue
        key, val = kv
        if key.startswith("guest-") or key in PER_VM:
            vm, _, val = val.partition(" ")
            key = f"{key}.{vm}"
        f.add(b, key, val, t)
    return f


def V(f, b, key):
    if not f.has(b, key):
        return None
    base = key.split(".")[0]
    if base in MULTI or base.startswith("guest-"):
        return f.many(b, key)
    return f.one(b, key)


def sv(f, b, key, dflt=""):
    x = V(f, b, key)
    return dflt if x in (None, "") else x


def first(s):
    return (s or "").split("\n")[0]


def field(w, s):
    """The field after @w in the first line of @s that has it ("" if none)."""
    for line in (s or "").split("\n"):
        x = line.split()
        for i in range(len(x) - 1):
            if x[i] == w:
                return x[i + 1]
    return ""


def num(s):
    """bash arithmetic of a field: empty is 0; not a number: None."""
    try:
        return int(s) if s != "" else 0
    except (TypeError, ValueError):
        return None


def ge(a, b):
    a, b = num(a), num(b)
    return a is not None and b is not None and a >= b


def fmt_s(us):
    return "%d.%03d" % (us // 1000000, us % 1000000 // 1000)


class Ctx:
    def __init__(self, f, ctx):
        self.f, self.kver, self.qrc, self.suite = f, ctx["kver"], ctx["qemu_rc"], ctx["suite"]
        self.vms, self.kexecs, _ = shape(self.suite)

    def pid1(self, b):
        """Host us PID 1 of boot @b started: its driver's first line's time
        minus the kernel's uptime between PID 1 and that line."""
        v = sv(self.f, b, "boot")
        up, init, t = field("uptime", v), field("init", v), self.f.t(b, "boot")
        if t is None or not up or not init:
            return None
        return int(t - (float(up) - float(init)) * 1e6)

    def hp_used(self, b):
        h = sv(self.f, b, "hugepages")
        if field("free", h):
            return (num(field("total", h)) or 0) - (num(field("free", h)) or 0)
        return -1

    def kstart(self, b):
        p, init = self.pid1(b), field("init", sv(self.f, b, "boot"))
        return None if p is None or not init else int(p - float(init) * 1e6)

    def mono_at(self, b, m):
        k = self.kstart(b)
        return None if k is None or not m or m == "0" else int(k + float(m))

    def journal_at(self, a, j):
        t, u = self.f.t(a, "kexec-go"), sv(self.f, a, "kexec-go")
        if t is None or not u or not j or j == "0.000000":
            return None
        return int(t + (float(j) - float(u)) * 1e6)


def handover_field(h, key):
    return "\n".join(x.split()[1] for x in h.split("\n") if len(x.split()) > 1 and
                     x.split()[0] == key)


def judge_checks(f, x, c):
    v = lambda b, k, d="": sv(f, b, k, d)
    vms, kexecs, ctl = x.vms, x.kexecs, x.kexecs + 3
    guest_pages = sum((VM_MIB[vm] - 17) * 256 for vm in vms)

    def klog(b):
        c.check(f"klog/b{b}", v(b, "klog-bad", "x") == "0", f"{v(b, 'klog-bad', '?')} bad line(s)")

    c.check("boot1", glob(V(f, 1, "boot"), f"1 kernel {x.kver} *") and V(f, 1, "module") == "loaded",
            f"{v(1, 'boot', f'no boot 1 (qemu rc={x.qrc})')}, module {v(1, 'module', '?')}")
    p2, go = x.pid1(2), f.t(1, "kexec-go")
    c.check("kexec-alone", go is not None and p2 is not None and
            (x.suite != "sid" or V(f, 2, "kexeccount") == "1"),
            f"systemctl kexec -> PID 1: {fmt_s(p2 - go) if p2 is not None and go is not None else '?'}"
            f" s, KExecCount {v(2, 'kexeccount', '?')}")
    klog(1)
    ok, detail = True, ""
    for vm in vms:
        g, fl = first(V(f, 2, f"guest-boot.{vm}")), first(V(f, 2, f"guest-filled.{vm}"))
        if not (f"mem {VM_MIB[vm]}" in g and "filled" in fl):
            ok = False
        detail += f"{vm}: {g} / {fl} / {first(V(f, 2, f'guest-after-filesave.{vm}'))}; "
    # small's guest RAM is the pool's: the huge pages it wrote (120 from 16 MiB up)
    if not x.hp_used(2) >= 120:
        ok = False
    c.check("vms/boot", ok, f"{detail}huge pages in use: {x.hp_used(2)} "
            f"({v(2, 'hugepages', 'no meminfo')})")
    ok, detail = True, ""
    for vm in vms:
        s = first(V(f, 2, f"filesave.{vm}"))
        if not (glob(s, f"*saved to /var/lib/liveupdate-vm/{vm}.full (* ms=*") and
                first(V(f, 2, f"guest-after-filesave.{vm}"))):
            ok = False
        detail += f"{vm}: {s}; "
    c.check("vms/filesave", ok, detail)
    klog(2)
    ok, detail = True, ""
    for b in range(2, ctl + 1):
        for vm in vms:
            cr = first(V(f, b, f"creds.{vm}"))
            w = cr.split()
            # "main uid 0 user root child NAME uid U user USER", one child
            good = (len(w) == 11 and w[:3] == ["main", "uid", "0"] and w[5] == "child" and
                    w[7] == "uid" and w[8] not in ("0", "?") and w[10] == VM_USER)
            ok = ok and good
            if not good or b == 2:
                detail += f"boot {b} {vm}: {cr or 'no creds line'}; "
    c.check("vms/user", ok, detail)
    for k in range(1, kexecs + 1):
        bb = k + 2
        for vm in vms:
            u = first(V(f, bb, f"unit.{vm}"))
            c.check(f"kexec{k}/{vm}/unit", u == "active fdstore 3" and
                    f.t(bb, f"vm.{vm}.resuming") is not None and
                    glob(V(f, bb, f"vm.{vm}.running"), "guest running (resumed)*"),
                    f"{u}; {v(bb, f'vm.{vm}.resuming', 'not resumed')}; "
                    f"{v(bb, f'vm.{vm}.running') or v(bb, f'vm.{vm}.fresh', 'not running')}")
            p, r = first(V(f, bb, f"guest-paused.{vm}")), first(V(f, bb, f"guest-first.{vm}"))
            pas = first(V(f, bb, f"guest-pass.{vm}"))
            boots = first(V(f, bb, f"guest-boots.{vm}"))
            c.check(f"kexec{k}/{vm}/same-guest", p != "" and field("boot", p) == field("boot", r)
                    and boots == "0",
                    f"boot id {field('boot', p)} -> {field('boot', r)}, guest boots since the "
                    f"kexec: {boots or '?'}")
            rl = first(V(f, bb, f"guest-resumed.{vm}"))
            pc = num(field("count", p))
            c.check(f"kexec{k}/{vm}/count", p != "" and r != "" and pc is not None and
                    field("count", r) == str(pc + 1) and rl != "",
                    f"before: {p} | {rl or 'no resume line'} | after: {r}")
            rp = num(field("pass", r))
            c.check(f"kexec{k}/{vm}/ram", pas != "" and field("bad", pas) == "0" and
                    rp is not None and ge(field("pass", pas), str(rp + 2)),
                    f"a whole pass after the resume: {pas}")
        h = v(bb, "handover")
        cp, ip = handover_field(h, "pages_copied"), handover_field(h, "pages_inplace")
        rcp = handover_field(h, "restore_pages_copied")
        # small's RAM came back onto huge pages of the pool, copied out of the range
        hu = x.hp_used(bb)
        c.check(f"kexec{k}/small/hugetlb", field("total", v(bb, "hugepages")) == str(HUGE_PAGES)
                and hu >= 120 and rcp != "" and ge(rcp, "61440"),
                f"guest RAM on huge pages again: {v(bb, 'hugepages', 'no meminfo')} ({hu} in use), "
                f"restore_pages_copied {rcp or '?'}")
        if k == 1:
            c.check("kexec1/handover", cp != "" and ge(cp, str(guest_pages)),
                    f"first kexec: guest RAM copied into the range: pages_copied {cp or '?'}, "
                    f"pages_inplace {ip or '?'}")
        else:
            c.check(f"kexec{k}/handover", cp != "" and ip != "" and ge(ip, "257792") and
                    ge(cp, "61440") and num(cp) is not None and num(cp) < 69632,
                    f"second kexec: big's RAM in place: pages_inplace {ip or '?'}; small's huge "
                    f"pages and the device states copied: pages_copied {cp or '?'}")
        klog(bb)
    c.check("blacklist/boot", glob(V(f, ctl, "boot"), f"{ctl} kernel {x.kver} *") and
            V(f, ctl, "module") == "absent" and f.has(ctl, "done"),
            f"{v(ctl, 'boot', f'no boot {ctl}')}, module {v(ctl, 'module', '?')}")
    for vm in vms:
        g, before = first(V(f, ctl, f"guest-boot.{vm}")), first(V(f, ctl - 1, f"guest-first.{vm}"))
        fl = first(V(f, ctl, f"guest-first.{vm}"))
        cnt = num(field("count", fl))
        c.check(f"blacklist/{vm}", v(ctl, f"vm.{vm}.fresh") != "" and
                v(ctl, f"vm.{vm}.resuming") == "" and g != "" and
                field("boot", g) != field("boot", before) and field("boot", fl) == field("boot", g)
                and cnt is not None and cnt < 60,
                f"not resumed, as expected: {v(ctl, f'vm.{vm}.fresh', 'no fresh boot')}; guest "
                f"{field('boot', before)} -> {field('boot', g)}, counting from 1 again: {fl}")
    klog(ctl)


# ---- the blackout: measurements, printed and kept, never judged ----------------

def s3(a, b):
    return "-" if a is None or b is None else "%.2f" % ((b - a) / 1e6)


def f2(a):
    return "-" if not a else "%.2f" % float(a)


def ms_of(s):
    return "\n".join(m.group(1) for m in (re.search(r" ms=([0-9.]*)$", x)
                                          for x in (s or "").split("\n")) if m)


def ratio(a, b):
    return "-" if a == "-" or b == "-" or float(b) == 0 else "%.2f" % (float(a) / float(b))


def blackout(f, x):
    """The blackout tables' lines (diagnostics) and their numbers."""
    v = lambda b, k, d="": sv(f, b, k, d)
    vms, kexecs = x.vms, x.kexecs
    out, nums = [], {"kexecs": {}, "timeline": {}}
    out.append(f"==== blackout, {x.suite}: a VM across a host kexec (s unless ms; host clock; "
               "QEMU TCG nested in TCG) ====")
    fmt = ("| %-14s | %-5s | %-8s | %8s | %6s | %5s | %7s | %8s | %6s | %6s | %6s | %7s | %9s | %7s "
           "| %10s | %6s |")
    cols = ("kexec", "VM", "RAM", "blackout", "ratio", "guest", "save ms", "shutdown", "kexec",
            "->PID1", "->unit", "exec ms", "->QEMU ms", "load ms", "->run ms", "file s")
    out.append(fmt % cols)
    out.append("|----------------|-------|----------|----------|--------|-------|---------|----------"
               "|--------|--------|--------|---------|-----------|---------|------------|--------|")
    missing = False
    go = f.t(1, "kexec-go")
    alone = s3(go, x.pid1(2))
    # the old boot's last journal line (host us) before boot B
    jlast = lambda b: x.journal_at(b - 1, field("last", v(b, "prev-shutdown")))
    j2 = jlast(2)
    row = ("0: kexec alone", "-", "-", alone, "1.00", "-", "-", s3(go, j2), s3(j2, x.kstart(2)),
           f2(field("init", v(2, "boot"))), "-", "-", "-", "-", "-", "-")
    out.append(fmt % row)
    nums["alone"] = dict(zip(cols, row))
    ratios = {}
    for k in range(1, kexecs + 1):
        a, bb = k + 1, k + 2
        p, ks, j = x.pid1(bb), x.kstart(bb), jlast(bb)
        for vm in vms:
            bo = s3(f.t(a, f"vm.{vm}.pause"), f.t(bb, f"vm.{vm}.running"))
            if bo == "-":
                missing = True
            ratios[(k, vm)] = ratio(bo, alone)
            fs = ms_of(first(V(f, 2, f"filesave.{vm}")))
            mem = f"{VM_MIB[vm]}M" + (" 2M" if vm == "small" else "")
            row = (f"{k}: {'copy' if k == 1 else 'in place'}", vm, mem, bo, ratios[(k, vm)],
                   field("after", first(V(f, bb, f"guest-resumed.{vm}"))),
                   ms_of(v(a, f"vm.{vm}.saved")), s3(f.t(a, f"vm.{vm}.saved"), j), s3(j, ks),
                   f2(field("init", v(bb, "boot"))), s3(p, f.t(bb, f"vm.{vm}.resuming")),
                   ms_of(v(bb, f"vm.{vm}.exec")), ms_of(v(bb, f"vm.{vm}.up")), ms_of(v(bb, f"vm.{vm}.loaded")),
                   ms_of(v(bb, f"vm.{vm}.running")),
                   "%.2f" % (float(fs) / 1000) if fs else "-")
            out.append(fmt % row)
            nums["kexecs"][f"{k}/{vm}"] = dict(zip(cols, row))
    out += ['blackout: guest paused -> running again; ratio: to the kexec alone (systemctl kexec -> the next',
            "PID 1, same image, same run); guest: the pause as the guest's clock saw it; save: the device",
            'state into its memfd (cpr-reboot, x-ignore-shared); shutdown: saved (alone: systemctl kexec) ->',
            "the old boot's last journal line (the rest of the shutdown); kexec: -> the next kernel starts",
            "(systemd-shutdown, the handover, purgatory, the jump); ->PID1: that kernel's boot; ->unit: PID 1 ->",
            "liveupdate-vm decided to resume (its line 'resuming:'); exec: the unit's start -> QEMU executed",
            "(the version asked, the broker's hand-back, the checks); ->QEMU: -> QEMU answers; load: the",
            "device state loaded; ->run: the unit's",
            'start -> the guest runs. file: the same VM saved with its RAM to a file in boot 2, what a reboot',
            'without preserved RAM must write (and read back) instead. RAM 2M: on 2 MiB huge pages.']
    # the floor of this ordering: the kexec alone up to local-fs.target, after
    # which the unit can start at the earliest
    lf = s3(go, x.mono_at(2, field("local-fs", v(2, "mono"))))
    nums["alone_to_local_fs"] = lf
    out.append("kexec alone -> local-fs.target (the earliest this unit can start): %s s; blackout / that:%s"
               % (lf, "".join(" %d.%s %s" % (k, vm, ratio(s3(f.t(k + 1, f"vm.{vm}.pause"),
                                                             f.t(k + 2, f"vm.{vm}.running")), lf))
                              for k in range(1, kexecs + 1) for vm in vms)))
    # the same floor for the ordering after the root's remount and the VM's
    # own mounts (liveupdate-vm-generator; the test's files are all on /):
    # what a host without a VM reaches before the unit could start, so the
    # blackout / that is the VM's own cost (save, QEMU's start, the load)
    rm = s3(go, x.mono_at(2, field("remount", v(2, "mono"))))
    nums["alone_to_remount"] = rm
    out.append("kexec alone -> the root remounted (systemd-remount-fs; this unit's earliest start, its files "
               "on /): %s s; blackout / that:%s"
               % (rm, "".join(" %d.%s %s" % (k, vm, ratio(s3(f.t(k + 1, f"vm.{vm}.pause"),
                                                             f.t(k + 2, f"vm.{vm}.running")), rm))
                              for k in range(1, kexecs + 1) for vm in vms)))
    for b in range(1, kexecs + 3):
        gaps = "".join(' %s s between "%s";' % (g.split(" ", 1)[0], g.split(" ", 1)[1] if " " in g else "")
                       for g in v(b, "kgap").split("\n") if g)
        out.append("boot %d kernel (to PID 1 %s s): clocksource %s; largest gaps:%s"
                   % (b, f2(field("init", v(b, "boot"))), v(b, "kclock") or "?", gaps))
    keys = ("pages_copied", "pages_inplace", "copy_us", "copy_threads", "write_us",
            "restore_pages_given", "restore_pages_copied", "restore_us", "restore_threads",
            "restore_alloc_us")
    for k in range(1, kexecs + 1):
        h = v(k + 2, "handover")
        hv = [(y[0], y[1]) for y in (z.split() for z in h.split("\n")) if len(y) > 1 and y[0] in keys]
        out.append(f"kexec {k} handover: " + "".join(f"{a_} {b_} " for a_, b_ in hv))
        nums[f"handover{k}"] = dict(hv)
    tgt = "".join(f" kexec {k}:" + "".join(f" {vm} {ratios[(k, vm)]}" for vm in vms)
                  for k in range(1, kexecs + 1))
    out.append(f"target (issue 28, printed, not judged): blackout <= 1.1 x the kexec alone "
               f"({alone} s):{tgt}")
    out.append("")
    out.append("==== the host's timeline per kexec (s from systemctl kexec; the next boot's "
               "targets and units) ====")
    tfmt = ("| %-9s | %6s | %6s | %6s | %6s | %6s | %6s | %6s | %6s | %7s | %7s | %8s | %7s | %6s "
            "| %6s | %6s | %6s |")
    tcols = ("kexec", "paused", "saved", "basic-", "shutd", "journ", "kernel", "PID 1", "root",
             "remount", "localfs", "coldplug", "sysinit", "basic", "multiu", "small", "big")
    out.append(tfmt % tcols)
    out.append("|-----------|--------|--------|--------|--------|--------|--------|--------|------"
               "--|---------|---------|----------|---------|--------|--------|--------|--------|")
    for k in range(0, kexecs + 1):
        a, bb = k + 1, k + 2
        go = f.t(k + 1, "kexec-go")
        ps, mo = v(bb, "prev-shutdown"), v(bb, "mono")
        at = lambda t: s3(go, t)
        fp = ls = rs = rb = None
        if k > 0:
            pauses = [t for t in (f.t(a, "vm.small.pause"), f.t(a, "vm.big.pause")) if t is not None]
            saves = [t for t in (f.t(a, "vm.small.saved"), f.t(a, "vm.big.saved")) if t is not None]
            fp = min(pauses) if pauses else None
            ls = max(saves) if saves else None
            rs, rb = f.t(bb, "vm.small.running"), f.t(bb, "vm.big.running")
        row = (f"{k}" + (": alone" if k == 0 else ""), at(fp), at(ls),
               at(x.journal_at(a, field("basic", ps))), at(x.journal_at(a, field("shutdown", ps))),
               at(x.journal_at(a, field("last", ps))), at(x.kstart(bb)), at(x.pid1(bb)),
               at(x.mono_at(bb, field("root", mo))), at(x.mono_at(bb, field("remount", mo))),
               at(x.mono_at(bb, field("local-fs", mo))), at(x.mono_at(bb, field("coldplug", mo))),
               at(x.mono_at(bb, field("sysinit", mo))), at(x.mono_at(bb, field("basic", mo))),
               at(x.mono_at(bb, field("multi-user", mo))), at(rs), at(rb))
        out.append(tfmt % row)
        nums["timeline"][str(k)] = dict(zip(tcols, row))
    out += ['paused, saved: the first VM paused, the last one saved; basic-: basic.target stopped (every',
            "ordinary service stopped); shutd: shutdown.target reached; journ: the old boot's last journal",
            "line; kernel: the next kernel starts; PID 1: its initramfs's /init; root: the switch to the real",
            "root; remount: the root remounted (systemd-remount-fs); coldplug: udev's coldplug done (what loads",
            'kvm_intel); localfs, sysinit, basic, multiu: those targets reached; small, big: each guest runs again.']
    if missing:
        out.append("blackout: some measurements are missing (-) in the table")
    return out, nums


def judge(f, ctx):
    """(KTAP text, failed count) of facts @f; ctx: suite, kver, qemu_rc.
    The blackout numbers land in f.extra["timings"]."""
    x = Ctx(f, ctx)
    c = registry(ctx["suite"])
    judge_checks(f, x, c)
    out = c.ktap()
    for b in range(1, x.kexecs + 4):
        w = V(f, b, "klog-warn")
        if w:
            out += f"# boot {b} kernel warnings (informational): " + \
                ";".join(y for y in w.split("\n") if y) + ";\n"
    lines, f.extra["timings"] = blackout(f, x)
    out += "".join("# " + y + "\n" if y else "#\n" for y in lines)
    return out, c.failed()


def main(argv):
    p = argparse.ArgumentParser(prog="qemujudge")
    p.add_argument("--suite", default="sid", choices=("sid", "bookworm", "trixie"))
    p.add_argument("--list", action="store_true")
    p.add_argument("--log")
    p.add_argument("--facts")
    p.add_argument("--from-facts")
    p.add_argument("--kver", default="")
    p.add_argument("--qemu-rc", default="?")
    a = p.parse_args(argv)
    if a.list:
        sys.stdout.write(registry(a.suite).listing(True))
        return 0
    if a.from_facts:
        f = Facts.load(a.from_facts)
    else:
        with open(a.log, errors="replace") as fh:
            f = read_serial(fh.read())
    ctx = {"suite": a.suite, "kver": a.kver, "qemu_rc": a.qemu_rc}
    f.extra["context"] = ctx
    out, failed = judge(f, ctx)
    if a.facts:
        f.save(a.facts)
    sys.stdout.write(out)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
