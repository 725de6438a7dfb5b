# SPDX-License-Identifier: GPL-2.0
"""What the suite runs: one Job per VM or host program, and the names each
will report, asked from the producers themselves (--list), never copied.

Kinds (what --only takes besides names and globs):
  host      no VM: libliveupdate, the data checksum, liveupdatectl's golden
            outputs, libFuzzer on the handover check, the module's layers,
            the frozen format-1 image, this runner's own tests, every
            registered kexec scenario stage run by some plan (lu-coverage)
  module    per kernel: every tests/module binary in one boot; for the first
            kernel also with slub_debug and 2 vCPUs, and two VMs whose range
            the module must refuse
  kexec     per kernel: tests/kexec/chain.plan, 12 boots with real kexecs
  zerocopy  per kernel: zerocopy.plan and swap.plan; for the first kernel
            also zerocopy-fallback.plan, zerocopy-fault.plan, tests/ram
  matrix    one VM booting every ordered pair of the kernels (lu-matrix)
  system    the Debian packages with systemd in a sid, a bookworm and a
            trixie image (tests/system); each suite's packages by
            autopkgtest (debian/tests) and the suite's lintian in a chroot
            of that suite (tests/package/autopkgtest)
  qemu      a QEMU VM kept running across host kexecs by liveupdate-vm in
            the sid image (two VMs, two kexecs; the fd store), and in the
            bookworm and trixie images (qemu-bookworm, qemu-trixie: one small
            VM, one kexec; the broker holds it) (tests/qemu)
  fleet     ansible/live-update.yml from Debian's ansible-core against two
            VMs of the bookworm image reachable over SSH on loopback ports:
            both live-updated with their sessions, then a stop before the
            second (tests/fleet/run)
  mutants   seeded defects (tests/mutants/*.patch), each applied to a copy
            of the tree and the job that should notice it run there; not
            in the default selection (each mutant is a tests/run)
Before the VMs of a kernel, a "prepare" job fetches it and builds the module
for it (vm/run --prepare): its result is build/module-KERNEL.
"""

import functools
import os
import subprocess
from dataclasses import dataclass, field

# The suites whose system image runs tests/system/guest/lu-hold.
SYSTEM_SUITES = ("bookworm", "trixie")

KINDS = ("host", "module", "kexec", "zerocopy", "matrix", "system", "qemu", "fleet",
         "mutants")
KERNELS = {"6.1": "6.1", "bookworm": "6.1", "6.12": "6.12", "trixie": "6.12",
           "7.2": "7.2", "sid": "7.2", "unstable": "7.2"}

# Two vCPUs on one host thread: multi-threaded TCG (QEMU 7.2) now and then
# lets a vCPU run a jump label's int3 after another vCPU finished patching it
# ("Oops: int3" early in a kexec'd boot, before the module is loaded). Such
# a VM uses one host CPU, so it counts once in the schedule.
SMP2 = ["--smp", "2", "--tcg-thread", "single"]
# Two vCPUs on two host threads, for the jobs whose code under test runs in
# parallel (the take-over's workers, the kexec's parallel copy, the broker's
# threads): vm/run runs them in bookworm-backports' QEMU 10 (vm/qemu.sh),
# which has no such race. They count twice in the schedule.
MT2 = ["--smp", "2", "--tcg-thread", "multi"]


def vm_cost(args):
    """Host CPUs a vm/run with @args keeps busy: one per vCPU thread."""
    if "--tcg-thread" in args and args[args.index("--tcg-thread") + 1] == "single":
        return 1
    return int(args[args.index("--smp") + 1]) if "--smp" in args else 1

# The hugetlb VMs (tests/kexec/hugetlb.plan): both pools on every boot's
# command line (1 GiB pages: -cpu max has pdpe1gb), a range for 1 GiB and
# 264 MiB of copies and their metadata. The range starts at 5 GiB: the
# boot allocates the 1 GiB page from the only aligned free GiB left, 4-5
# GiB (below 4 GiB the RAM ends just short of 2 GiB, and memblock fills the
# top of RAM first).
HUGETLB_VM = ["--range", "1408M@0x140000000", "--mem", "5G",
              "--append", "hugepagesz=2M hugepages=160 hugepagesz=1G hugepages=1"] + SMP2

# Seconds each job took on this 2-core machine with two VMs side by side
# (a clean clone, 2026-12-05): the schedule starts the longest chains first.
# A run's own times, kept in build/tests/durations.json, replace these.
ESTIMATES = {"prepare": 80, "host": 5, "docs": 20, "fuzz": 65, "module": 25, "debug": 27,
             "range": 13, "kexec": 250, "zerocopy": 160, "swap": 37,
             "hugetlb": 85, "hugetlb-upgrade": 90,
             "zc-fallback": 22, "zc-fault": 45, "ram": 35, "matrix": 135,
             "system": 900, "system-bookworm": 1000, "system-trixie": 1000,
             "package": 120, "prepare-first": 25, "qemu": 850, "image": 600,
             "qemu-bookworm": 1100, "qemu-trixie": 1100, "package-suite": 200,
             "fleet-bookworm": 600,
             "mutants": 2400}

# CPUs each job keeps busy on average (its CPU seconds over its wall
# seconds): the schedule packs jobs by these, not by their vCPU count. A
# run's own, kept in build/tests/loads.json, replace these. Measured in the
# clean-clone run of 2026-12-08 (4224 s, quiet host), the highest of each
# kind's kernels: the MT2 VMs (zerocopy-K, swap-K) keep one vCPU idle most of
# the time; the fleet's playbook updates one host at a time. A kind not
# listed (kexec, system, qemu, matrix: 0.97-1.00) counts its cost.
LOADS = {"zerocopy": 1.13, "swap": 0.62, "fleet-bookworm": 1.0, "image": 0.86,
         "prepare": 0.95, "package-suite": 0.74, "hugetlb": 0.75, "hugetlb-upgrade": 0.74,
         "fuzz": 0.65, "zc-fault": 0.64, "ram": 0.66, "module": 0.49, "debug": 0.5}


@dataclass
class Job:
    name: str  # unique: module-6.1, kexec-7.2, host-lib, prepare-6.12
    kind: str  # one of KINDS, or "prepare"
    argv: list
    kernel: str | None = None
    prefix: str = ""  # put in front of the names the job's TAP reports
    names: list = field(default_factory=list)  # expected, prefixed
    deps: list = field(default_factory=list)  # job names
    cost: int = 1  # host CPUs it may keep busy at once
    load: float | None = None  # CPUs it kept busy on average (LOADS, loads.json)
    timeout: int = 600  # seconds, after which the runner kills it
    vm: bool = False  # a vm/run boot: the serial log is the TAP source
    verdict: str | None = None  # a test name that passes iff the job exits 0
    estimate: float = 30
    # [(argv, names)]: run on the log after (its path appended to argv);
    # each also has a verdict, exit/JOB/PROGRAM, that passes iff it exits 0
    post: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    desc: dict = field(default_factory=dict)  # name -> what it asserts (one line)


def post_verdict(job, check):
    """The name that passes iff @job's post-check @check exits 0."""
    name = "exit/%s/%s" % (job.name, os.path.basename(check))
    DESCRIPTIONS.setdefault(name, "the post-check %s exited 0 on the job's log"
                            % os.path.basename(check))
    return name


class ListError(Exception):
    pass


@functools.lru_cache(maxsize=None)
def _ask(argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120)


# What each test asserts, one line, as its producer registered it: a --list
# line may be "NAME<TAB>DESCRIPTION" (tests/README.md, "Registering a test").
# Keyed by the name as the producer says it (before a job's prefix); a name
# two producers describe differently is described by neither.
DESCRIPTIONS = {}


def ask(argv):
    """The names a producer says it will report (its --list answer); the
    descriptions after a tab go to DESCRIPTIONS."""
    try:
        p = _ask(tuple(argv))
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ListError(f"{' '.join(argv)}: {e}") from e
    if p.returncode != 0:
        raise ListError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    names = []
    for line in p.stdout.split("\n"):
        name, _, desc = line.partition("\t")
        if not name:
            continue
        names.append(name)
        desc = desc.strip()
        if desc:
            old = DESCRIPTIONS.get(name)
            DESCRIPTIONS[name] = desc if old in (None, desc) else ""
    if not names:
        raise ListError(f"{' '.join(argv)}: no names")
    return names


def matrix_order(kernels):
    """Boots in which every ordered pair of the kernels (same version too)
    follows each other once: an Euler circuit of the complete digraph with
    loops. For three it starts with the upgrade chain 6.1 -> 6.12 -> 7.2."""
    n = len(kernels)
    order = {1: [0, 0], 2: [0, 1, 1, 0, 0], 3: [0, 1, 2, 0, 0, 2, 2, 1, 1, 0]}[n]
    return [kernels[i] for i in order]


class Suite:
    """Builds the jobs for a list of kernels from the repository at @repo."""

    def __init__(self, repo, kernels, out):
        self.repo = repo
        self.tests = os.path.join(repo, "tests")
        self.bin = os.path.join(self.tests, "bin")
        self.kernels = kernels
        self.out = out
        self.jobs = []

    def b(self, name):
        return os.path.join(self.bin, name)

    def t(self, *path):
        return os.path.join(self.tests, *path)

    def add(self, job, est):
        job.estimate = ESTIMATES.get(est, 30)
        job.load = LOADS.get(est)
        if job.vm or job.kind == "prepare":
            job.verdict = ("build/module-" if job.kind == "prepare" else "vm/") + \
                (job.kernel if job.kind == "prepare" else job.name)
        # every job is judged by its exit status too, not only by the
        # results it printed: a host program exiting 1 after "ok 1" fails
        job.verdict = job.verdict or "exit/" + job.name
        job.names.append(job.verdict)
        self.jobs.append(job)
        self.describe(job)

    @staticmethod
    def describe(job):
        """@job.desc: what each of its names asserts, where it was said."""
        if job.verdict:
            DESCRIPTIONS.setdefault(job.verdict, "the job's own program (%s) ran to its end "
                                    "and exited 0" % os.path.basename(job.argv[0]))
        for n in job.names:
            bare = n[len(job.prefix):] if job.prefix and n.startswith(job.prefix) else n
            if DESCRIPTIONS.get(bare):
                job.desc[n] = DESCRIPTIONS[bare]

    def vm(self, name, kind, kernel, prefix, names, args, est, timeout, deps=None,
           stem="kexec"):
        """A vm/run job: its serial log is parsed, vm/NAME its verdict, and
        every boot's kernel log, shutdown included, is checked on the host
        (lu-serial-klog: PREFIX + STEM/bK/klog)."""
        log = os.path.join(self.out, name + ".log")
        ev = os.path.join(self.out, name + ".events")
        argv = [os.path.join(self.repo, "vm", "run"), "--quiet", "--log", log,
                "--events", ev, "--timeout", str(timeout)] + args
        job = Job(name, kind, argv, kernel, prefix, [prefix + n for n in names],
                  deps if deps is not None else ["prepare-" + kernel],
                  timeout=timeout + 300, vm=True, cost=vm_cost(args))
        klog = self.t("tools", "lu-serial-klog")
        nboots = str(args.count("--stage"))
        job.post.append(([klog, "--job", name, "--allow", self.t("tools", "klog.allow"),
                          stem, nboots], ask([klog, "--list", stem, nboots])))
        job.names += [prefix + n for n in job.post[-1][1]] + [post_verdict(job, klog)]
        self.add(job, est)

    def build(self):
        first = self.kernels[0]
        files = lambda *bins: sum((["--file", self.b(x)] for x in bins), [])
        # host: one job per program
        host = [("host-lib", [self.b("lut-lib-host")], "host"),
                ("host-data-sum", [self.b("lut-data-sum-host")], "host"),
                ("host-common", [self.b("lut-sd-notify-host")], "host"),
                ("host-conf", [self.b("lut-conf-host")], "host"),
                ("host-cli", [self.b("lu-cli-host"), self.b("liveupdatectl-host")], "host"),
                ("host-tools", [self.t("tools", "lu-kexec-host"), self.b("liveupdatectl-host")],
                 "host"),
                ("host-fleet", [self.t("fleet", "lu-fleet-host"),
                                self.b("liveupdatectl-host")], "host"),
                ("host-agent", [self.t("agent", "lu-agent-host"), self.b("liveupdated")], "host"),
                ("host-vmm", [self.t("vmm", "lu-vm-host"), self.b("liveupdate-vm")], "host"),
                ("host-package", [self.t("package", "lintian")], "package"),
                ("host-fuzz", [self.b("lu-handover-fuzz"), "60"], "fuzz"),
                ("host-layers", [self.t("tools", "lu-layers")], "host"),
                ("host-golden", [self.t("golden", "check-format1")], "host"),
                ("host-runner", [self.t("runner", "selftest")], "host"),
                ("host-docs", [self.t("runner", "readme-table")], "docs"),
                ("host-coverage", [self.b("lu-coverage")], "host")]
        for name, argv, est in host:
            self.add(Job(name, "host", argv, names=ask([argv[0], "--list"]),
                         timeout=900), est)
        # prepare: one after the other (they share the APT state and the
        # build chroot)
        prev = []
        for k in self.kernels:
            self.add(Job("prepare-" + k, "prepare",
                         [os.path.join(self.repo, "vm", "run"), "--prepare", "--kmods",
                          "--kernel", k], k, deps=prev, timeout=3600),
                     "prepare-first" if k == first else "prepare")
            prev = ["prepare-" + k]

        mod_bins = ask(["make", "-s", "-C", self.tests, "list-module-tests"])[0].split()
        mod_names = ask([self.b("lu-modtests"), "--list"] + mod_bins)
        mod_files = files(*mod_bins, "lu-modtests", "lu-klog-check")
        stage_mod = ["--stage", "lu-modtests " + " ".join(mod_bins)]
        chain_bins = ["lu-kexec", "lu-poke", "lu-fuzz", "lu-ioctl-fuzz", "lu-chain", "chain.plan",
                      "lu-klog-check", "lu-cli-test", "liveupdatectl", "liveupdated"]
        plan = lambda p: self.t("kexec", p + ".plan")
        plan_names = lambda p: ask([self.b("lu-chain"), "--list", plan(p)])
        nboots = lambda p: max(int(n.split("/")[1][1:]) for n in plan_names(p))
        zc_files = files("lu-kexec", "lu-chain", "lu-klog-check")

        def chain_vm(name, kind, k, prefix, p, args, est, timeout):
            stages = []
            for _ in range(nboots(p)):
                stages += ["--stage", "lu-chain /opt/lu/%s.plan" % p]
            self.vm(name, kind, k, prefix, plan_names(p),
                    ["--kernel", k, "--no-autoload"] + args + zc_files +
                    ["--file", plan(p)] + stages, est, timeout)

        for k in self.kernels:
            self.vm("module-" + k, "module", k, k + "/", mod_names,
                    ["--kernel", k] + mod_files + stage_mod, "module", 1800, stem="module")
            if k == first:
                self.vm("module-%s-debug" % k, "module", k, k + "-debug/", mod_names,
                        ["--kernel", k] + SMP2 + ["--append", "slub_debug=FZPU"] +
                        mod_files + stage_mod, "debug", 1800, stem="module")
                # ranges the module must refuse: past RAM, two memmap=
                chain_vm("range-past-ram-" + k, "module", k, k + "/range-past-ram/",
                         "range-past-ram", ["--mem", "1G"], "range", 600)
                chain_vm("range-two-memmap-" + k, "module", k, k + "/range-two-memmap/",
                         "range-two-memmap", ["--append", "memmap=16M$0x50000000"],
                         "range", 600)
            # the kexec chain; `liveupdatectl status --json` of boot 1 checked after
            stages = []
            for _ in range(nboots("chain")):
                stages += ["--stage", "lu-chain"]
            self.vm("kexec-" + k, "kexec", k, k + "/", plan_names("chain"),
                    ["--kernel", k, "--mem", "3G", "--range", "512M", "--no-autoload"] +
                    files(*chain_bins) + ["--file", self.t("golden", "format1.img")] + stages,
                    "kexec", 2400)
            job = self.jobs[-1]
            check = self.t("cli", "check-status-json")
            job.post.append(([check], ask([check, "--list"])))
            job.names[-1:-1] = [job.prefix + n for n in job.post[-1][1]] + \
                [post_verdict(job, check)]
            self.describe(job)  # the post-check's names too
            # zero-copy: a 1 GiB memfd and more taken over in place
            chain_vm("zerocopy-" + k, "zerocopy", k, k + "/zerocopy/", "zerocopy",
                     ["--range", "1280M@0x100000000", "--mem", "5G", "--kmods"] + MT2,
                     "zerocopy", 1800)
            # hugetlb memfds, 2 MiB pages (and 1 GiB where the VM has room)
            chain_vm("hugetlb-" + k, "zerocopy", k, k + "/hugetlb/", "hugetlb",
                     HUGETLB_VM + files("lu-poke"), "hugetlb", 900)
            # zram swap while write-sealed memfds are copied at PRESERVE_FD
            chain_vm("swap-" + k, "zerocopy", k, k + "/swap/", "swap",
                     ["--kmods", "--range", "512M", "--mem", "2G"] + MT2, "swap", 600)
            if k == first:
                chain_vm("zc-fallback-" + k, "zerocopy", k, k + "/zc-fallback/",
                         "zerocopy-fallback", ["--range", "192M"], "zc-fallback", 600)
                chain_vm("zc-fault-" + k, "zerocopy", k, k + "/zc-fault/", "zerocopy-fault",
                         ["--range", "256M@0x100000000", "--mem", "3G"], "zc-fault", 600)
                # module/ram.c alone, with test modules of its own
                ram = self.t("ram", "run")
                self.add(Job("ram-" + k, "zerocopy", [ram, "--kernel", k], k, k + "/",
                             [k + "/" + n for n in ask([ram, "--list"])],
                             ["prepare-" + k], timeout=1500), "ram")
        # hugetlb memfds handed from the oldest kernel to the newest
        if len(self.kernels) > 1:
            old, new = self.kernels[0], self.kernels[-1]
            stages = []
            for _ in range(nboots("hugetlb")):
                stages += ["--stage", "lu-chain /opt/lu/hugetlb.plan"]
            self.vm("hugetlb-upgrade", "zerocopy", new, "upgrade/hugetlb/",
                    plan_names("hugetlb"),
                    ["--kernel", old + "," + new, "--no-autoload"] + HUGETLB_VM +
                    zc_files + files("lu-poke") + ["--file", plan("hugetlb")] + stages,
                    "hugetlb-upgrade", 900, deps=["prepare-" + old, "prepare-" + new])
        # the matrix: every ordered pair of kernels, one VM
        seq = matrix_order(self.kernels)
        stages = []
        for _ in seq:
            stages += ["--stage", "lu-matrix"]
        self.vm("matrix", "matrix", None, "", ask([self.b("lu-matrix"), "--list"] + seq),
                ["--kernel", ",".join(seq), "--range", "128M"] +
                files("lu-kexec", "lu-matrix", "lu-klog-check") + stages, "matrix", 2400,
                deps=["prepare-" + k for k in self.kernels], stem="matrix")
        self.jobs[-1].kernel = None
        # the Debian packages with systemd, one image per suite, each with
        # its own kernels whatever --kernel says: sid (systemd 262: the fd
        # store; trixie's 6.12 -> sid's 7.2), bookworm (252) and trixie
        # (257): liveupdatectl hold --detach and the broker
        sysrun = self.t("system", "run")
        # each suite's image (its packages built in its package chroot,
        # installed by apt), which its system test, its qemu test and its
        # package checks share: built once before any of them starts
        for suite in ("sid",) + SYSTEM_SUITES:
            self.add(Job("image-" + suite, "system", [sysrun, "--suite", suite, "--image"],
                         None, "", [], [], timeout=3000, verdict="build/image-" + suite),
                     "image")
        self.add(Job("system", "system", [sysrun, "--quiet"], None, "",
                     ask([sysrun, "--list"]), ["image-sid"], timeout=3000,
                     verdict="vm/system"), "system")
        for suite in SYSTEM_SUITES:
            argv = [sysrun, "--suite", suite]
            self.add(Job("system-" + suite, "system", argv + ["--quiet"], None, "",
                         ask(argv + ["--list"]), ["image-" + suite], timeout=3000,
                         verdict="vm/system-" + suite), "system-" + suite)
        # that image build's packages in a throwaway overlay of the suite's
        # package chroot: debian/tests by autopkgtest, the suite's lintian
        # (no VM; apt needs the suite's mirror)
        pkg = self.t("package", "autopkgtest")
        for suite in ("bookworm", "trixie", "sid"):
            argv = [pkg, "--suite", suite]
            self.add(Job("package-" + suite, "system", argv, None, "",
                         ask(argv + ["--list"]), ["image-" + suite], timeout=1800),
                     "package-suite")
        # a VM kept across host kexecs (in the sid image)
        qrun = self.t("qemu", "run")
        self.add(Job("qemu", "qemu", [qrun, "--quiet"], None, "",
                     ask([qrun, "--list"]), ["image-sid"], timeout=3000,
                     verdict="vm/qemu"), "qemu")
        # ... and in the stable suites' images: systemd 252 and 257 carry no
        # fd store across kexec, the broker holds the guest
        for suite in SYSTEM_SUITES:
            argv = [qrun, "--suite", suite]
            self.add(Job("qemu-" + suite, "qemu", argv + ["--quiet"], None, "",
                         ask(argv + ["--list"]), ["image-" + suite], timeout=3000,
                         verdict="vm/qemu-" + suite), "qemu-" + suite)
        # the Ansible role against two VMs of the bookworm image over SSH (its
        # own image, made from that suite's system image): two TCG VMs
        frun = self.t("fleet", "run")
        argv = [frun, "--suite", "bookworm"]
        self.add(Job("fleet-bookworm", "fleet", argv + ["--quiet"], None, "",
                     ask(argv + ["--list"]), ["image-bookworm"], cost=2, timeout=3000,
                     verdict="vm/fleet-bookworm"), "fleet-bookworm")
        # seeded defects: only when asked for (tests/run --only mutants)
        mut = self.t("mutants", "run")
        self.add(Job("mutants", "mutants", [mut], None, "", ask([mut, "--list"]), [],
                     timeout=4 * 3600), "mutants")
        return self.jobs
