# SPDX-License-Identifier: GPL-2.0
# What cli/, agent/ and vmm/ share: install directories, the compiler and
# its flags, libliveupdate (static archive; LINK=shared: libliveupdate.so.1,
# as the Debian packages link), json-c and libsystemd, the package version
# for --version, the common sources, and the install and clean rules of a
# program. A Makefile sets REPO, OUT and PROG (the program: $(OUT)/$(PROG),
# its man page $(PROG).8 next to the Makefile), defines "all", includes this
# and lists what else it installs under install-extra.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= /lib/systemd/system
PROG_DIR := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))

ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I$(REPO)/include/uapi \
	-I$(REPO)/lib -I$(REPO)/common

LINK ?= static
ifeq ($(LINK),shared)
LIBDEP := $(REPO)/build/lib/libliveupdate.so
LIBS := -L$(REPO)/build/lib -lliveupdate
else
LIBDEP := $(REPO)/build/lib/libliveupdate.a
LIBS := $(LIBDEP)
endif

$(LIBDEP): FORCE
	$(MAKE) -C $(REPO)/lib OUT=$(REPO)/build/lib $(LIBDEP)

# json-c (libjson-c-dev): JSON written and read (liveupdatectl --json,
# liveupdate-vm's QMP); libsystemd (libsystemd-dev): sd_notify and passed
# fds (common/sd-notify.c)
JSON_LIBS ?= -ljson-c
SYSTEMD_LIBS ?= -lsystemd

# the package version (debian/changelog: the one source), for --version
LU_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' $(REPO)/debian/changelog)
override CFLAGS += -DLU_VERSION='"$(LU_VERSION)"'

# sd-notify.c: systemd's protocol through libsystemd; crash-point.c: the
# named steps a crash sweep kills at (docs/crash.md); args.c: sizes and
# counts, the same rules in every program; conf.c: the one configuration
# file reader (KEY = VALUE lines).
COMMON_SRC := $(REPO)/common/sd-notify.c $(REPO)/common/crash-point.c $(REPO)/common/args.c \
	$(REPO)/common/conf.c
COMMON_DEPS := $(COMMON_SRC) $(REPO)/common/sd-notify.h $(REPO)/common/crash-point.h \
	$(REPO)/common/args.h $(REPO)/common/conf.h $(REPO)/common/fnv1a.h $(REPO)/lib/libliveupdate.h \
	$(REPO)/debian/changelog $(LIBDEP)

install: all install-extra
	install -D -m 755 $(OUT)/$(PROG) $(DESTDIR)$(SBINDIR)/$(PROG)
	install -D -m 644 $(PROG_DIR)/$(PROG).8 $(DESTDIR)$(MANDIR)/man8/$(PROG).8

# $(call install_unit,FILE): a systemd unit (or drop-in, PATH under the Makefile's directory)
install_unit = install -D -m 644 $(PROG_DIR)/$(1) $(DESTDIR)$(UNITDIR)/$(1)

clean:
	rm -rf $(OUT)

FORCE:
.PHONY: all install install-extra clean FORCE
