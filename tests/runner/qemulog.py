# SPDX-License-Identifier: GPL-2.0
"""A hand-made serial log of a passing tests/qemu run (for the judge's
self-tests): every fact lu-qemu and liveupdate-vm report, boot by boot, on
the host's clock (us) and each kernel's own. mutate(boot, key, value)
before render() breaks one fact the way a broken product would."""

K = "6.1.0-57-cloud-amd64"


class QemuLog:
    def __init__(self, suite="bookworm", kver=K):
        self.suite, self.kver = suite, kver
        self.vms = ["small", "big"] if suite == "sid" else ["small"]
        self.kexecs = 2 if suite == "sid" else 1
        self.boots = {}
        ctl = self.kexecs + 3
        gid = {"small": "a1b2c3d4", "big": "e5f6a7b8"}
        mib = {"small": 256, "big": 1024}
        for b in range(1, ctl + 1):
            L = self.boots[b] = []
            d = lambda k, v: L.append(("@@S", f"{k} {v}"))
            vmline = lambda vm, msg: L.append(("vm", f"liveupdate-vm: {vm}: {msg}"))
            d("boot", f"{b} kernel {kver} uptime 20.50 init 3.25")
            d("kexeccount", str(b - 1 if b < ctl else 0))
            d("module", "absent" if b == ctl else "loaded")
            if 3 <= b < ctl:
                for vm in self.vms:
                    vmline(vm, "resuming: device state from the fd store")
                    vmline(vm, "QEMU up ms=812.5")
                    vmline(vm, "device state loaded ms=95.2")
                    vmline(vm, "guest running (resumed) ms=1402.7")
                    c = 60 * b
                    d(f"guest-paused {vm}", f"lu-guest: boot {gid[vm]} count {c} pass {b} bad 0")
                    d(f"guest-resumed {vm}", "lu-guest: resumed after 31 s")
                    d(f"guest-first {vm}", f"lu-guest: boot {gid[vm]} count {c + 1} pass {b} bad 0")
                    d(f"guest-pass {vm}", f"lu-guest: boot {gid[vm]} count {c + 40} pass {b + 2} bad 0")
                    d(f"guest-boots {vm}", "0")
            if b == 2:
                for vm in self.vms:
                    d(f"guest-boot {vm}", f"lu-guest: boot {gid[vm]} mem {mib[vm]} MiB")
                    d(f"guest-filled {vm}", f"lu-guest: boot {gid[vm]} filled {mib[vm] - 17} MiB")
                for vm in self.vms:
                    d(f"filesave {vm}", f"liveupdate-vm: {vm}: saved to /var/lib/liveupdate-vm/{vm}.full "
                      f"({mib[vm]} MiB) ms=2345.6")
                for vm in self.vms:
                    d(f"guest-after-filesave {vm}", f"lu-guest: boot {gid[vm]} count 50 pass 2 bad 0")
            if b == ctl:
                for vm in self.vms:
                    vmline(vm, "booting afresh: no device state")
                    vmline(vm, "guest running (fresh) ms=900.1")
                    d(f"guest-boot {vm}", f"lu-guest: boot 9{gid[vm][1:]} mem {mib[vm]} MiB")
                    d(f"guest-first {vm}", f"lu-guest: boot 9{gid[vm][1:]} count 5 pass 0 bad 0")
                    d(f"guest-resumed {vm}", "")
            if b >= 2:
                for vm in self.vms:
                    d(f"unit {vm}", "active fdstore 3")
                    d(f"creds {vm}", "main uid 0 user root child qemu-system-x86 uid 995 "
                      "user liveupdate-vm")
            d("mono", "initrd 1000000 root 4000000 local-fs 5000000 sysinit 5500000 basic 6000000 "
              "multi-user 9000000 remount 4500000 coldplug 5200000")
            for vm in self.vms:
                d(f"unit-start {vm}", "7000000")
            d("hugepages", "total 128 free %d" % (128 if b in (1, ctl) else 6))
            if b > 1:
                d("prev-shutdown", "vmstop 50.000000 basic 52.000000 shutdown 53.000000 "
                  "umount 54.000000 final 55.000000 last 56.000000")
            if 3 <= b < ctl:
                cp = 320000 if b == 3 else 66000
                for k_, v_ in (("pages_copied", cp), ("pages_inplace", 0 if b == 3 else 258000),
                               ("copy_us", 123456), ("restore_pages_copied", 61500)):
                    d("handover", f"{k_} {v_}")
            d("klog-warn", "[    0.020000] tsc: Unable to calibrate against PIT")
            d("klog-bad", "0")
            if b < ctl:
                d("kexec-helper", f"liveupdate-kexec: {kver} -> {kver}")
                for vm in self.vms:
                    d(f"guest-before {vm}", f"lu-guest: boot {gid[vm]} count {60 * (b + 1)} pass 3 bad 0")
                d("kexec-go", "56.00")
                if b >= 2:
                    for vm in self.vms:
                        vmline(vm, "pausing the guest")
                        vmline(vm, "device state saved ms=45.6")
            else:
                d("done", "")

    def mutate(self, boot, key, value):
        """Sets every @key fact of @boot to @value (None: removes them)."""
        L = self.boots[boot]
        hit = [i for i, (k, v) in enumerate(L) if k == "@@S" and (v + " ").startswith(key + " ")]
        assert hit, (boot, key)
        for i in reversed(hit):
            if value is None:
                del L[i]
            else:
                L[i] = ("@@S", f"{key} {value}")

    def render(self):
        """The log: each boot's kernel clock from 0, its lines 0.2 s apart
        on both clocks, a kexec taking the host 40 s."""
        out, t = [], 1000000
        for b in sorted(self.boots):
            up = 0
            out.append(f"{t} [    0.000000] Linux version {self.kver}")
            for kind, text in self.boots[b]:
                t += 200000
                up += 200000
                stamp = "[%5d.%06d]" % (up // 1000000, up % 1000000)
                if kind == "@@S":
                    out.append(f"{t} {stamp} driver[200]: @@S {text}")
                else:
                    out.append(f"{t} {stamp} {text}")
            t += 40000000
        return "\n".join(out) + "\n"
