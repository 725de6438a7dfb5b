# SPDX-License-Identifier: GPL-2.0
# liveupdate: the library, the CLI, the broker and the kernel module.
#   make                  lib/, cli/, agent/, vmm/ into build/, and module/ for the
#                         running kernel (skipped, with a note, when its
#                         headers are not installed; KDIR=... to choose)
#   make module           the module alone; an error without headers
#   make check            the tests that need no VM (tests/run --only host)
#   make test             the whole suite: VMs of every kernel (tests/run)
#   make install          lib, cli, agent, vmm into DESTDIR/PREFIX (default
#                         /usr/local); the module is installed by DKMS
#                         (debian/, the liveupdate-dkms package)
#   make clean
# CC, CPPFLAGS, CFLAGS and LDFLAGS are passed down to every component;
# LINK=shared links liveupdatectl and liveupdated with libliveupdate.so.1
# instead of the static archive (the Debian packages do).
KDIR ?= /lib/modules/$(shell uname -r)/build

all: lib cli agent vmm module-if-headers

lib:
	$(MAKE) -C lib

cli agent vmm: lib
	$(MAKE) -C $@

module:
	@test -f $(KDIR)/Makefile || { echo "module: no kernel headers at $(KDIR)" \
		"(install linux-headers-$$(uname -r), or make module KDIR=...)" >&2; exit 1; }
	$(MAKE) -C module KDIR=$(KDIR)

module-if-headers:
	@if test -f $(KDIR)/Makefile; then $(MAKE) -C module KDIR=$(KDIR); else \
		echo "module: skipped, no kernel headers at $(KDIR) (make module KDIR=...)"; fi

check:
	tests/run --only host

test:
	tests/run

install: lib cli agent vmm
	$(MAKE) -C lib install
	$(MAKE) -C cli install
	$(MAKE) -C agent install
	$(MAKE) -C vmm install

clean:
	$(MAKE) -C lib clean
	$(MAKE) -C cli clean
	$(MAKE) -C agent clean
	$(MAKE) -C vmm clean
	$(MAKE) -C tests clean
	@if test -f $(KDIR)/Makefile; then $(MAKE) -C module KDIR=$(KDIR) clean; fi

.PHONY: all lib cli agent vmm module module-if-headers check test install clean
