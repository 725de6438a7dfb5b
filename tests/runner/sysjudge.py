# SPDX-License-Identifier: GPL-2.0
"""The judge of tests/system/run: the Debian packages with systemd in a
system image (facts.py says how facts and checks flow).

usage: python3 -m runner.sysjudge --suite S --list
       python3 -m runner.sysjudge --suite S --log SERIAL.log --facts OUT.json
           --first KVER --kver KVER [--kvers K1,K2] [--qemu-rc N]
       python3 -m runner.sysjudge --suite S --from-facts FACTS.json ...
The first form lists the check names, each with a tab and what it asserts; the second
reads the serial log, writes its facts to OUT.json and judges them; the
third judges a facts file as it is (the runner's self-tests feed it broken
facts). KTAP on stdout; exit 1 if a check failed.

sid (tests/system/guest/lu-sys): systemd 262 carries lu-fdstore.service's
fd store across the kexecs, boot 1 on --first (trixie's 6.12), the others
on --kver (sid's 7.2). bookworm, trixie (tests/system/guest/lu-hold): held
by liveupdatectl hold --detach and by the broker; boot 1 on --first, the
kexec into --kver; --kvers the image's kernels (DKMS built for each)."""

import argparse
import re
import sys

from .facts import Checks, Facts, glob, oneline, serial_lines, fact_of

RANGE_SIZE, RANGE_ADDR = "128M", "0x138000000"
RESERVE = (f"memmap={RANGE_SIZE}${RANGE_ADDR} liveupdate.addr={RANGE_ADDR} "
           f"liveupdate.size={RANGE_SIZE}")
# keys whose every value counts (one line each), the others: the last one
MULTI_SID = ("klog-warn", "journal", "kmsg", "kexec-helper", "initramfs", "dkms", "check",
             "check2", "refusal")


def registry(suite):
    """Every check of @suite, in order, with what it asserts."""
    c = Checks("system/" if suite == "sid" else f"system/{suite}/")
    a = c.add
    klog = "boot %d's kernel log has no WARNING, BUG, Oops, call trace or liveupdate error " \
           "(klog-bad 0)"
    if suite == "sid":
        a("package", "DKMS built liveupdate.ko under updates/dkms for both kernels (2 modules)")
        a("range", "liveupdate-reserve --dry-run 128M proposes exactly " + RESERVE)
        a("boot1", "boot 1 is on trixie's kernel, module loaded, lu-fdstore holds 1 fd, "
          "KExecCount 0, a nonce was made")
        a("klog/b1", klog % 1)
        for n, b, k in (("upgrade", 2, 1), ("same", 3, 2)):
            a(f"{n}/boot", f"boot {b} is on sid's kernel, module loaded, handover_status loaded")
            a(f"{n}/memfd", f"boot {b}: the memfd in lu-fdstore's fd store holds boot 1's nonce")
            a(f"{n}/fdnames", f"boot {b}: LISTEN_FDNAMES is exactly 'nonce'")
            a(f"{n}/kexeccount", f"boot {b}: systemd's KExecCount is {k}")
            a(f"{n}/journal", f"boot {b}: PID 1 logged \"Found LUO session 'systemd'\" and "
              "\"Restored N fd(s)\"")
            a(f"klog/b{b}", klog % b)
        a("blacklist/boot", "boot 4 (modprobe.blacklist=liveupdate) is on sid's kernel, "
          "module absent, driver done")
        a("blacklist/refused", "without the module liveupdate-kexec --dry-run exits 1 "
          "ending '--dry-run: N ... would refuse'")
        a("blacklist/memfd", "boot 4: no memfd restored ('-')")
        a("blacklist/fdnames", "boot 4: the guest reported LISTEN_FDNAMES, and it is empty")
        a("blacklist/kexeccount", "boot 4: KExecCount is 0")
        a("blacklist/journal", "boot 4: PID 1 found no LUO session")
        a("klog/b4", klog % 4)
        a("broker/hold", "boot 1: a DynamicUser (uid != 0) service held 70001 bytes via "
          "liveupdated (rc 0), broker fd store 1")
        a("broker/group", "boot 1: /run/liveupdated.sock is root:liveupdate 660; uid 65534 "
          "without the group gets EACCES on connect, in group liveupdate 'OK liveupdated 1'")
        a("broker/restart", "boot 1: liveupdated restarted (rc 0) kept its fd store (1) and "
          "logged 'got s<12>.lu-client back (outgoing, 70036 bytes)'")
        a("broker/kexec", "boot 2: the broker got the session back (incoming) from its fd "
          "store; store 0 after the client's get")
        a("broker/bytes", "boot 2: the same uid got exactly the 70001 bytes back "
          "(get rc 0, same sha256 and size, cmp rc 0)")
        a("check/initramfs", "liveupdatectl check: ok, the next kernel's initramfs loads "
          "the module")
        a("check/space", "liveupdatectl check: ok, outgoing sessions fit the range "
          "(N of 134217728 bytes)")
        a("check/exit", "liveupdatectl check exits 0: no kexec kernel loaded yet, the "
          "broker's session held by PID 1 (systemd 262)")
        return c
    sd = {"bookworm": 252, "trixie": 257}[suite]
    a("package", "DKMS built liveupdate.ko for every kernel of the image; liveupdate-dkms, "
      "-tools, liveupdated, libliveupdate1 installed")
    a("range", "liveupdate-reserve --dry-run 128M proposes exactly " + RESERVE)
    a("boot1", f"boot 1 is on the oldest kernel, systemd {sd}, module loaded, a nonce made")
    a("hold/detach", "liveupdatectl hold --detach (no broker) exits 0: session lu-detach "
      "held by a pid")
    a("hold/broker", "a DynamicUser (uid != 0) service held its bytes via liveupdated (rc 0)")
    a("broker/group", "boot 1: /run/liveupdated.sock is root:liveupdate 660; uid 65534 "
      "without the group gets EACCES on connect, in group liveupdate 'OK liveupdated 1'")
    a("check/lost", f"check --sessions exits 6: FAIL for lu-fdonly (PID 1's fd store, "
      f"systemd {sd} closes it), ok for lu-detach and the broker's session")
    a("check/refused", "liveupdate-kexec --dry-run exits 1 naming lu-fdonly "
      "('--force to kexec anyway')")
    a("check/stopped", "lu-fdonly stopped: check --sessions exits 0 and no longer names it")
    a("klog/b1", klog % 1)
    a("kexec/boot", "boot 2 is on the newest kernel, module loaded, handover pending or loaded")
    a("kexec/record", "boot 2: liveupdate-kexec's journal record of boot 1's kexec is "
      "exactly 'kexec FROM -> TO, range ..., 2 session(s) held;'")
    a("kexec/nonce", "boot 2: liveupdatectl get (rc 0) returns boot 1's nonce")
    a("kexec/broker", "boot 2: the same uid got its 70001 bytes back through the broker "
      "(rc 0, same sha256)")
    a("klog/b2", klog % 2)
    a("blacklist/boot", "boot 3 (module blacklisted) is on the newest kernel, module absent, "
      "driver done")
    a("blacklist/nonce", "boot 3: the nonce is lost: got '-', liveupdatectl get exits 3")
    a("blacklist/broker", "boot 3: the client's get fails (rc != 0) and gets 0 bytes")
    a("klog/b3", klog % 3)
    a("reboot/cold", "boot 3's systemctl reboot resets the machine ('reboot: Restarting "
      "system'), no kexec after it, no boot 4")
    return c


def read_serial(text, suite):
    """The facts of a tests/system serial log: "@@S KEY VALUE" per boot
    (the boot key's number starts a boot), lu-fdstore's "restored fd" time,
    and the two reboot/cold greps."""
    f = Facts()
    b = 0
    done_seen = False
    for t, rest in serial_lines(text):
        if "@@S done" in rest:
            done_seen = True
        if done_seen:
            if re.search(r"Starting new kernel|Rebooting with kexec", rest):
                f.extra["kexec_after_done"] = True
        if "reboot: Restarting system" in rest:
            f.extra["restarted"] = True
        if "lu-fdstore: restored fd" in rest:
            f.mark(b, "restored-fd", t)
            continue
        kv = fact_of(rest)
        if kv is None:
            continue
        key, val = kv
        if key == "boot":
            m = re.match(r"\d+", val)
            b = int(m.group(0)) if m else 0
        f.add(b, key, val, t)
    f.extra.setdefault("restarted", False)
    f.extra.setdefault("kexec_after_done", False)
    return f


def V(f, b, key):
    """bash's ${V[B.KEY]}: every value of a repeated key (one line each),
    the last of any other; None when never said."""
    if not f.has(b, key):
        return None
    if key in MULTI_SID or key.startswith("broker-b"):
        return f.many(b, key)
    return f.one(b, key)


def s(v, dflt=""):
    return dflt if v in (None, "") else v


def broker_group(c, v):
    """broker/group, the same in both drivers: the socket root:liveupdate 0660
    with a real group, EACCES outside the group, a member answered (boot 1)."""
    sock = s(v(1, "broker-socket"))
    c.check("broker/group", glob(sock, "root:liveupdate 660 gid *") and
            sock != "root:liveupdate 660 gid -" and
            v(1, "broker-outside") == "connect: EACCES" and
            v(1, "broker-member") == "OK liveupdated 1",
            f"socket {sock or '?'}; outside the group: "
            f"{s(v(1, 'broker-outside'), '?')}; member: {s(v(1, 'broker-member'), '?')}")


def judge_sid(f, ctx, c):
    tk, sk, qrc = ctx["first"], ctx["kver"], ctx["qemu_rc"]
    v = lambda b, k: V(f, b, k)
    nonce = s(v(1, "nonce"))
    dkms = s(v(1, "dkms"))
    c.check("package", dkms.count("/updates/dkms/liveupdate.ko") == 2,
            f"DKMS: {oneline(s(v(1, 'dkms'), 'none'))}")
    c.check("range", s(v(1, "reserve")) == RESERVE,
            f"liveupdate-reserve --dry-run 128M: {s(v(1, 'reserve'), '?')}")
    c.check("boot1", v(1, "boot") == f"1 kernel {tk}" and v(1, "module") == "loaded" and
            v(1, "fdstore") == "1" and v(1, "kexeccount") == "0" and nonce != "",
            f"{s(v(1, 'boot'), f'no boot 1 (qemu rc={qrc})')}, module {s(v(1, 'module'), '?')}, "
            f"NFileDescriptorStore {s(v(1, 'fdstore'), '?')}, KExecCount "
            f"{s(v(1, 'kexeccount'), '?')}, nonce {nonce or '?'}")
    c.check("klog/b1", s(v(1, "klog-bad"), "x") == "0", f"{s(v(1, 'klog-bad'), '?')} bad line(s)")
    for n, b, kc in (("upgrade", 2, "1"), ("same", 3, "2")):
        j = s(v(b, "journal"))
        c.check(f"{n}/boot", v(b, "boot") == f"{b} kernel {sk}" and v(b, "module") == "loaded"
                and v(b, "handover_status") == "loaded",
                f"{s(v(b, 'boot'), f'no boot {b}')}, module {s(v(b, 'module'), '?')}, "
                f"handover {s(v(b, 'handover_status'), '?')}")
        c.check(f"{n}/memfd", nonce != "" and s(v(b, "restored")) == nonce,
                f"restored '{s(v(b, 'restored'), '?')}', nonce '{nonce}'")
        c.check(f"{n}/fdnames", s(v(b, "fdnames")) == "nonce",
                f"LISTEN_FDNAMES '{s(v(b, 'fdnames'))}'")
        c.check(f"{n}/kexeccount", s(v(b, "kexeccount")) == kc,
                f"KExecCount {s(v(b - 1, 'kexeccount'), '?')} -> {s(v(b, 'kexeccount'), '?')}")
        c.check(f"{n}/journal", "Found LUO session 'systemd'" in j and
                re.search(r"Restored [0-9]+ fd\(s\)", j) is not None, oneline(j))
        c.check(f"klog/b{b}", s(v(b, "klog-bad"), "x") == "0",
                f"{s(v(b, 'klog-bad'), '?')} bad line(s)")
    # the negative control: the module blacklisted, nothing may come back
    j = s(v(4, "journal"))
    c.check("blacklist/boot", v(4, "boot") == f"4 kernel {sk}" and v(4, "module") == "absent"
            and f.has(4, "done"),
            f"{s(v(4, 'boot'), 'no boot 4')}, module {s(v(4, 'module'), '?')}")
    # liveupdate-kexec(8): it refuses with exit 1 (not 127, not a crash)
    c.check("blacklist/refused",
            glob(v(4, "kexec-refused-rc"), "1 liveupdate-kexec: --dry-run: * would refuse"),
            f"liveupdate-kexec without the module: rc {s(v(4, 'kexec-refused-rc'), '?')}")
    c.check("blacklist/memfd", nonce != "" and v(4, "restored") == "-",
            f"lost as expected: restored '{s(v(4, 'restored'), '?')}', nonce '{nonce}'")
    # the guest said it (an empty value), not a log without the line
    c.check("blacklist/fdnames", v(4, "fdnames") == "",
            f"LISTEN_FDNAMES '{v(4, 'fdnames') if v(4, 'fdnames') is not None else '(not reported)'}'")
    c.check("blacklist/kexeccount", s(v(4, "kexeccount")) == "0",
            f"KExecCount {s(v(3, 'kexeccount'), '?')} -> {s(v(4, 'kexeccount'), '?')}")
    c.check("blacklist/journal", f.has(4, "done") and "Found LUO session" not in j,
            "no LUO session found")
    c.check("klog/b4", s(v(4, "klog-bad"), "x") == "0", f"{s(v(4, 'klog-bad'), '?')} bad line(s)")
    # the broker under systemd (boots 1 and 2)
    uid, sha = s(v(1, "client-uid")), s(v(1, "client-sha"))
    c.check("broker/hold", glob(v(1, "client-hold-rc"), "0 *1 client.bin /var/lib/lu-sys/client.bin*")
            and uid not in ("", "0") and v(1, "broker-fdstore") == "1",
            f"uid {uid or '?'}: {s(v(1, 'client-hold-rc'), '?')}; broker NFileDescriptorStore "
            f"{s(v(1, 'broker-fdstore'), '?')}")
    broker_group(c, v)
    c.check("broker/restart", v(1, "broker-restart-rc") == "0" and
            v(1, "broker-fdstore-restarted") == "1" and
            glob(s(v(1, "broker-b1")), "*got s????????????.lu-client back (outgoing, 70036 bytes)*"),
            f"restart rc {s(v(1, 'broker-restart-rc'), '?')}, NFileDescriptorStore "
            f"{s(v(1, 'broker-fdstore-restarted'), '?')}; {oneline(s(v(1, 'broker-b1'), 'no broker log'))}")
    c.check("broker/kexec", glob(s(v(2, "broker-b2")), "*got s????????????.lu-client back (incoming)*")
            and v(2, "broker-fdstore") == "0",
            f"{oneline(s(v(2, 'broker-b2'), 'no broker log'))} NFileDescriptorStore after get "
            f"{s(v(2, 'broker-fdstore'), '?')}")
    c.check("broker/bytes", sha != "" and glob(s(v(2, "client-get-rc")), "0*") and
            v(2, "client-got-sha") == f"{sha} 70001" and v(2, "client-cmp") == "rc 0" and
            s(v(2, "client-uid")) == uid,
            f"get rc {s(v(2, 'client-get-rc'), '?')}, uid {s(v(2, 'client-uid'), '?')} (boot 1: "
            f"{uid or '?'}), got {s(v(2, 'client-got-sha'), '?')}, held {sha} 70001, cmp "
            f"{s(v(2, 'client-cmp'), '?')}")
    chk = s(v(1, "check"))
    c.check("check/initramfs", "ok      the next kernel's initramfs loads the module "
            f"(/boot/initrd.img-{sk})" in chk,
            ";".join(x for x in chk.split("\n") if "initramfs" in x))
    c.check("check/space", re.search(r"ok +the outgoing sessions fit the range \([0-9]+ of "
                                     r"134217728 bytes used\)", chk) is not None,
            ";".join(x for x in chk.split("\n") if "outgoing sessions" in x))
    c.check("check/exit", v(1, "check-rc") == "0" and
            "ok      no kexec kernel loaded yet (liveupdate-kexec loads one)" in chk and
            glob(chk, "*ok      session s????????????.lu-client is held until the kexec (pid 1, "
                 "PID 1 (a service's fd store): systemd 262 carries it)*"),
            f"exit {s(v(1, 'check-rc'), '?')}: {oneline(chk)}")
    # timings on the host's clock: measurements, not tests
    T = lambda b, k: f.t(b, k)
    tm = {"QEMU start -> boot 1 (6.12) driver": T(1, "boot")}
    for a_, bb, label in ((1, 2, "upgrade (6.12 -> 7.2)"), (2, 3, "same (7.2 -> 7.2)"),
                          (3, 4, "blacklist (7.2 -> 7.2)")):
        tm[f"{label}: liveupdate-kexec -> driver"] = d(T(a_, "kexec-start"), T(bb, "boot"))
        if a_ != 3:
            tm[f"{label}: liveupdate-kexec -> fd back in service"] = d(
                T(a_, "kexec-start"), T(bb, "restored-fd"))
    tm["QEMU start -> boot 4 done"] = T(4, "done")
    return tm, 4


def d(a, b):
    return None if a is None or b is None else b - a


def judge_hold(f, ctx, c):
    suite, first, kver, kvers, qrc = (ctx["suite"], ctx["first"], ctx["kver"], ctx["kvers"],
                                      ctx["qemu_rc"])
    v = lambda b, k: V(f, b, k)
    want_sd = "252" if suite == "bookworm" else "257"
    nonce1, nonce2 = s(v(1, "nonce")), s(v(2, "nonce"))
    uid, sha1 = s(v(1, "client-uid")), s(v(1, "client-sha"))
    built = 0
    for line in (s(v(1, "dkms")) + "\n").split("\n"):
        for k in kvers:
            if glob(line, f"{k} */lib/modules/{k}/updates/dkms/liveupdate.ko*"):
                built += 1
    pk = s(v(1, "packages"))
    c.check("package", built == len(kvers) and
            glob(pk, "*liveupdate-dkms *liveupdate-tools *liveupdated *") and
            glob(pk, "*libliveupdate1 *"),
            f"DKMS for {len(kvers)} kernel(s): {oneline(s(v(1, 'dkms'), 'none'))}; installed: "
            f"{s(v(1, 'packages'), '?')}")
    c.check("range", s(v(1, "reserve")) == RESERVE,
            f"liveupdate-reserve --dry-run 128M: {s(v(1, 'reserve'), '?')}")
    c.check("boot1", v(1, "boot") == f"1 kernel {first}" and v(1, "module") == "loaded" and
            v(1, "systemd") == want_sd and nonce1 != "",
            f"{s(v(1, 'boot'), f'no boot 1 (qemu rc={qrc})')}, systemd {s(v(1, 'systemd'), '?')}, "
            f"module {s(v(1, 'module'), '?')}, nonce {nonce1 or '?'}")
    c.check("hold/detach", glob(v(1, "detach-rc"), '0 1*nonce*session "lu-detach" held by pid*'),
            f"liveupdatectl hold --detach: rc {s(v(1, 'detach-rc'), '?')}")
    c.check("hold/broker", glob(v(1, "client-hold-rc"), "0 *held by liveupdated*") and
            uid not in ("", "0"), f"uid {uid or '?'}: {s(v(1, 'client-hold-rc'), '?')}")
    broker_group(c, v)
    chk = s(v(1, "check"))
    c.check("check/lost", v(1, "check-rc") == "6" and
            ("FAIL    session lu-fdonly is held until the kexec: pid 1, PID 1 (a service's fd "
             f"store): systemd {want_sd} closes it") in chk and
            glob(chk, "*ok      session lu-detach is held until the kexec (pid *, "
                 "@liveupdatectl-hold in liveupdate-hold-*.scope, which stays)*") and
            glob(chk, "*ok      session s????????????.lu-client is held until the kexec (pid *, "
                 "@liveupdated in liveupdated.service, which stays)*"),
            f"fd store {s(v(1, 'fdonly-store'), '?')}; exit {s(v(1, 'check-rc'), '?')}: {oneline(chk)}")
    ref = s(v(1, "refusal"))
    c.check("check/refused", v(1, "refused-rc") == "1" and
            "liveupdate-kexec: session lu-fdonly is held until the kexec: pid 1" in ref and
            "would be closed before the kexec (--force to kexec anyway)" in ref,
            f"liveupdate-kexec --dry-run: exit {s(v(1, 'refused-rc'), '?')}: {oneline(ref)}")
    c.check("check/stopped", v(1, "check2-rc") == "0" and "lu-fdonly" not in s(v(1, "check2")),
            f"after stopping lu-fdonly: exit {s(v(1, 'check2-rc'), '?')}: {oneline(s(v(1, 'check2')))}")
    c.check("klog/b1", s(v(1, "klog-bad"), "x") == "0", f"{s(v(1, 'klog-bad'), '?')} bad line(s)")
    # "pending": found, checked at the first open of the device
    c.check("kexec/boot", v(2, "boot") == f"2 kernel {kver}" and v(2, "module") == "loaded" and
            re.fullmatch(r"pending|loaded", s(v(2, "handover_status"))) is not None,
            f"{s(v(2, 'boot'), 'no boot 2')}, module {s(v(2, 'module'), '?')}, handover "
            f"{s(v(2, 'handover_status'), '?')}; liveupdate-kexec: {oneline(s(v(1, 'kexec-helper')))}")
    c.check("kexec/record", v(2, "kexec-record") ==
            f"kexec {first} -> {kver}, range memmap={RANGE_SIZE}${RANGE_ADDR}, 2 session(s) held;",
            f"journalctl -b -1 MESSAGE_ID=08498ece...: {s(v(2, 'kexec-record'), 'none')}")
    c.check("kexec/nonce", nonce1 != "" and v(2, "got") == nonce1 and
            glob(s(v(2, "get-rc")), "0*"),
            f"held {nonce1}, got '{s(v(2, 'got'), '?')}' (liveupdatectl get: rc {s(v(2, 'get-rc'), '?')})")
    c.check("kexec/broker", sha1 != "" and glob(s(v(2, "client-get-rc")), "0*") and
            v(2, "client-got-sha") == f"{sha1} 70001" and s(v(2, "client-uid")) == uid,
            f"held {sha1} 70001 as uid {uid or '?'}, got {s(v(2, 'client-got-sha'), '?')} as uid "
            f"{s(v(2, 'client-uid'), '?')} (rc {s(v(2, 'client-get-rc'), '?')})")
    c.check("klog/b2", s(v(2, "klog-bad"), "x") == "0", f"{s(v(2, 'klog-bad'), '?')} bad line(s)")
    c.check("blacklist/boot", v(3, "boot") == f"3 kernel {kver}" and v(3, "module") == "absent"
            and f.has(3, "done"), f"{s(v(3, 'boot'), 'no boot 3')}, module {s(v(3, 'module'), '?')}")
    c.check("blacklist/nonce", nonce2 != "" and v(3, "got") == "-" and
            glob(s(v(3, "get-rc")), "3*"),
            f"held {nonce2}, lost as expected: got '{s(v(3, 'got'), '?')}', liveupdatectl get: rc "
            f"{s(v(3, 'get-rc'), '?')}")
    c.check("blacklist/broker", s(v(3, "client-get-rc")) != "" and
            not glob(v(3, "client-get-rc"), "0*") and glob(s(v(3, "client-got-sha")), "* 0"),
            f"lost as expected: rc {s(v(3, 'client-get-rc'), '?')}, got {s(v(3, 'client-got-sha'), '?')}")
    c.check("klog/b3", s(v(3, "klog-bad"), "x") == "0", f"{s(v(3, 'klog-bad'), '?')} bad line(s)")
    # Installing the packages (kexec-tools pulled in) must not turn a reboot
    # into a kexec: boot 3's reboot resets the machine (QEMU -no-reboot exits
    # after "reboot: Restarting system"), no boot 4, no new kernel.
    restarted, kexeced = f.extra.get("restarted"), f.extra.get("kexec_after_done")
    c.check("reboot/cold", f.has(3, "done") and s(v(4, "boot")) == "" and restarted and
            not kexeced,
            f"boot 3 ({oneline(s(v(3, 'kexec-config'), '?'))}): systemctl reboot "
            f"{'restarted the machine' if restarted else 'did not restart'}"
            f"{', but kexec' + chr(39) + 'd' if kexeced else ''}"
            f"{', and a boot 4 came' if s(v(4, 'boot')) else ''}")
    T = lambda b, k: f.t(b, k)
    tm = {"QEMU start -> boot 1 driver": T(1, "boot"),
          f"kexec 1 ({first.split('-')[0]} -> {kver.split('-')[0]}): -> boot 2 driver":
              d(T(1, "kexec-start"), T(2, "boot")),
          "kexec 1: -> the nonce back (liveupdatectl get)": d(T(1, "kexec-start"), T(2, "get-rc")),
          "kexec 1: -> the client's bytes back (broker)": d(T(1, "kexec-start"),
                                                           T(2, "client-get-rc")),
          "kexec 2 (blacklist): -> boot 3 driver": d(T(2, "kexec-start"), T(3, "boot"))}
    return tm, 3


def judge(f, ctx):
    """(KTAP text, failed count) of facts @f; ctx: suite, first, kver,
    kvers, qemu_rc. Timings land in f.extra["timings"] (seconds)."""
    c = registry(ctx["suite"])
    tm, nboots = (judge_sid if ctx["suite"] == "sid" else judge_hold)(f, ctx, c)
    out = c.ktap()
    for b in range(1, nboots + 1):
        w = V(f, b, "klog-warn")
        if w:
            out += f"# boot {b} kernel warnings (informational): " + \
                "|".join(x for x in w.split("\n") if x) + "|\n"
    f.extra["timings"] = {k: None if x is None else round(x / 1e6, 3) for k, x in tm.items()}
    out += f"# timings ({ctx['suite']}, s, host clock, QEMU TCG; measurements, not tests):\n"
    for k, x in f.extra["timings"].items():
        out += f"#   {k}: {'-' if x is None else '%.3f' % x}\n"
    return out, c.failed()


def main(argv):
    p = argparse.ArgumentParser(prog="sysjudge")
    p.add_argument("--suite", default="sid", choices=("sid", "bookworm", "trixie"))
    p.add_argument("--list", action="store_true")
    p.add_argument("--log")
    p.add_argument("--facts")
    p.add_argument("--from-facts")
    p.add_argument("--first", default="")
    p.add_argument("--kver", default="")
    p.add_argument("--kvers", default="")
    p.add_argument("--qemu-rc", default="?")
    a = p.parse_args(argv)
    if a.list:
        sys.stdout.write(registry(a.suite).listing(True))
        return 0
    if a.from_facts:
        f = Facts.load(a.from_facts)
    else:
        with open(a.log, errors="replace") as fh:
            f = read_serial(fh.read(), a.suite)
    ctx = {"suite": a.suite, "first": a.first, "kver": a.kver,
           "kvers": [k for k in a.kvers.split(",") if k], "qemu_rc": a.qemu_rc}
    f.extra["context"] = ctx
    out, failed = judge(f, ctx)
    if a.facts:
        f.save(a.facts)
    sys.stdout.write(out)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
