# Sluice — one Makefile, all output under $(BUILD). Quiet unless V=1.
#
#   make            build sluiced, sluicectl, the XDP object and test tools
#   make test       unit (cmocka, ASan+UBSan) + BPF (BPF_PROG_TEST_RUN) +
#                   fuzz smoke (libFuzzer) + integration (pytest, netns)
#   make demo       run the gateway on config/sluice.yaml with demo backends
#   make bench      benchmarks (HTTP: Sluice vs NGINX vs HAProxy), not in test
#   make bench-policy  instructions per request of auth+limit and routing
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make install    PREFIX=/usr/local DESTDIR=
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

BUILD   ?= build
V       ?= 0
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
PYTEST  ?= /usr/bin/python3 -m pytest
PREFIX  ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 10

ARCH_TRIPLET := $(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
PKGS := libbpf libxdp liburing yaml-0.1 openssl libnghttp2 hiredis libcares

# Recursive (=) on purpose: evaluated when a recipe runs, i.e. after
# scripts/deps.sh has installed whatever was missing.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lelf -lz -lpthread

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS := -D_GNU_SOURCE -Iinclude -Idaemon -I$(BUILD)/bpf -MD -MP
CFLAGS  ?= -O2 -g
# Link-time optimization of sluiced and sluicectl (the request path spans
# several files): +2-3 % requests per proxy core on small keep-alive
# responses in paired runs (docs/BENCHMARKS.md). `make LTO=` builds without.
LTO     ?= -flto=auto
LIB_AR  := $(if $(LTO),gcc-ar,ar)
BASE_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(PKG_CFLAGS)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
ASAN_CFLAGS = -std=gnu11 $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS)

BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
              -I/usr/include/$(ARCH_TRIPLET) -Iinclude -Ibpf -MD -MP

DEPS_OK := $(BUILD)/.deps-ok

# ---- sources ---------------------------------------------------------------
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))

# One folder per layer (docs/ARCHITECTURE.md); includes point down only,
# which scripts/check-layers.sh checks on every build.
DAEMON_SRCS := $(wildcard daemon/*/*.c)
MAIN_SRCS   := daemon/cmd/main.c daemon/cmd/sluicectl.c
LIB_SRCS    := $(filter-out $(MAIN_SRCS),$(DAEMON_SRCS))
# The pure layers (no I/O): what unit tests and fuzzers link. The metrics
# registry and catalog are pure too, though they live with the rest of
# observability.
PURE_DIRS   := lib http config policy
PURE_SRCS   := $(filter $(foreach d,$(PURE_DIRS),daemon/$(d)/%.c) \
               daemon/obs/metrics%.c,$(DAEMON_SRCS))

LIB_OBJS    := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
ASAN_OBJS   := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIB_SRCS))
PURE_ASAN   := $(patsubst %.c,$(BUILD)/asan/%.o,$(PURE_SRCS))
FUZZ_OBJS   := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(PURE_SRCS))

TOOL_SRCS   := $(wildcard tests/tools/*.c)
TOOLS       := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPF_TESTS   := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS     := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

BINS := $(BUILD)/sluiced $(BUILD)/sluicectl $(BUILD)/asan/sluiced

.PHONY: all layers deps test unit-test bpf-test fuzz-smoke integration-test demo \
        fuzz install clean format
# xdpbench: the flood smoke test (tests/integration) runs bench-flood's
# harness, which needs it
all: layers $(BINS) $(BPF_OBJS) $(TOOLS) $(UNIT_TESTS) $(BPF_TESTS) \
     $(BUILD)/sluicectl.bash $(BUILD)/bench/xdpbench

# include direction between the daemon's layers (folders)
layers:
	$(Q)bash scripts/check-layers.sh

# ---- configure: install missing packages, then check tool versions --------
deps: $(DEPS_OK)
$(DEPS_OK): scripts/deps.sh scripts/configure.sh
	$(call msg,DEPS,scripts/deps.sh)
	$(Q)bash scripts/deps.sh
	$(Q)bash scripts/configure.sh
	$(Q)mkdir -p $(@D) && touch $@

# ---- BPF: .bpf.c -> .bpf.o -> .skel.h -------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c | $(DEPS_OK)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# ---- daemon ----------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(SKELS) | $(DEPS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(LTO) -c $< -o $@

$(BUILD)/asan/%.o: %.c $(SKELS) | $(DEPS_OK)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(LIB_AR) rcs $@ $^

$(BUILD)/asan/libsluice.a: $(ASAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/libpure.a: $(PURE_ASAN)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sluiced: $(BUILD)/obj/daemon/cmd/main.o $(BUILD)/libsluice.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/sluicectl: $(BUILD)/obj/daemon/cmd/sluicectl.o $(BUILD)/libsluice.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/asan/sluiced: $(BUILD)/asan/daemon/cmd/main.o $(BUILD)/asan/libsluice.a
	$(call msg,LD,$@)
	$(Q)$(CC) -g $(SAN) -o $@ $^ $(PKG_LIBS)

# The git revision that --version prints: rewritten only when it changes,
# so a new commit rebuilds one object. SLUICE_GIT_REV=... overrides it
# (a source tree without .git, the Debian package).
GITREV_H := $(BUILD)/gen/gitrev.h
$(GITREV_H): FORCE
	$(Q)mkdir -p $(@D)
	$(Q)r='$(SLUICE_GIT_REV)'; [ -n "$$r" ] || \
		r=$$(git describe --always --dirty --abbrev=12 2>/dev/null) || r=; \
	printf '#define SLUICE_GIT_REV "%s"\n' "$$r" > $@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
BUILDINFO_OBJS := $(BUILD)/obj/daemon/control/buildinfo.o \
		  $(BUILD)/asan/daemon/control/buildinfo.o
$(BUILDINFO_OBJS): $(GITREV_H)
$(BUILDINFO_OBJS): CPPFLAGS += -I$(BUILD)/gen
.PHONY: FORCE
FORCE:

# The status page (GET / on the admin listener), embedded as a C array.
STATUSPAGE_H := $(BUILD)/gen/status_page_html.h
$(STATUSPAGE_H): daemon/control/status_page.html | $(DEPS_OK)
	$(call msg,XXD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)xxd -i -n status_page_html $< > $@
STATUSPAGE_OBJS := $(BUILD)/obj/daemon/control/statuspage.o \
		   $(BUILD)/asan/daemon/control/statuspage.o
$(STATUSPAGE_OBJS): $(STATUSPAGE_H)
$(STATUSPAGE_OBJS): CPPFLAGS += -I$(BUILD)/gen

# bash completion, generated from sluicectl's command table
$(BUILD)/sluicectl.bash: $(BUILD)/sluicectl
	$(call msg,GEN,$@)
	$(Q)$< completion bash > $@

# ---- test tools (backends, packet builders) --------------------------------
$(BUILD)/tools/tlsku: TOOL_LIBS := -lssl -lcrypto

$(BUILD)/tools/%: tests/tools/%.c | $(DEPS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -o $@ $< -lpthread $(TOOL_LIBS)

# ---- unit tests: one cmocka executable per pure module, ASan+UBSan ---------
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(BUILD)/asan/libpure.a -lcmocka $(PKG_LIBS)

# The gate keeps process-wide counters and a ban sink: its unit test links it.
$(BUILD)/tests/unit/test_gate: tests/unit/test_gate.c $(BUILD)/asan/daemon/proxy/gate.o \
		$(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(BUILD)/asan/daemon/proxy/gate.o $(BUILD)/asan/libpure.a \
		-lcmocka $(PKG_LIBS)

# The admin server is not pure (sockets, a thread): its unit test links it.
$(BUILD)/tests/unit/test_admin: tests/unit/test_admin.c $(BUILD)/asan/daemon/control/admin.o \
		$(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(BUILD)/asan/daemon/control/admin.o $(BUILD)/asan/libpure.a \
		-lcmocka $(PKG_LIBS)

# The loop's provided-buffer rings, on a real io_uring loop.
$(BUILD)/tests/unit/test_loop: tests/unit/test_loop.c $(BUILD)/asan/daemon/io/loop.o \
		$(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(BUILD)/asan/daemon/io/loop.o $(BUILD)/asan/libpure.a \
		-lcmocka $(PKG_LIBS)

# The in-process transport pair runs on a real io_uring loop: its unit
# test links both.
$(BUILD)/tests/unit/test_pair: tests/unit/test_pair.c $(BUILD)/asan/daemon/io/pair.o \
		$(BUILD)/asan/daemon/io/loop.o $(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(BUILD)/asan/daemon/io/pair.o $(BUILD)/asan/daemon/io/loop.o \
		$(BUILD)/asan/libpure.a -lcmocka $(PKG_LIBS)

# ---- BPF tests: skeleton + BPF_PROG_TEST_RUN --------------------------------
XDPCTL_ASAN := $(filter $(BUILD)/asan/daemon/xdp/xdpctl%,$(ASAN_OBJS))
$(BUILD)/tests/bpf/%: tests/bpf/%.c $(SKELS) $(XDPCTL_ASAN) \
		$(BUILD)/asan/libpure.a
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(ASAN_CFLAGS) -o $@ $< \
		$(XDPCTL_ASAN) $(BUILD)/asan/libpure.a \
		-lcmocka $(PKG_LIBS)

# ---- fuzzers (clang libFuzzer + ASan/UBSan over the pure modules) -----------
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=undefined $(PKG_CFLAGS)
$(BUILD)/fuzzobj/%.o: %.c | $(DEPS_OK)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(call msg,LD-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) -std=gnu11 -g -O1 \
		-fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
		-o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

# ---- bench (not part of `make test`) ----------------------------------------
$(BUILD)/bench/%: bench/%.c $(SKELS) | $(DEPS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -o $@ $< $(PKG_LIBS)

# the flood generator's BPF program (bench-flood), a skeleton for xdpbench
$(BUILD)/bench/floodgen.bpf.o: bench/floodgen.bpf.c | $(DEPS_OK)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bench/floodgen.skel.h: $(BUILD)/bench/floodgen.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floodgen > $@
$(BUILD)/bench/xdpbench: bench/xdpbench.c $(SKELS) \
		$(BUILD)/bench/floodgen.skel.h | $(DEPS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -I$(BUILD)/bench $(BASE_CFLAGS) -o $@ $< \
		$(PKG_LIBS)

.PHONY: bench bench-xdp bench-router
bench: bench-xdp bench-router
# Router micro-benchmark: ns per lookup at 10, 1,000 and 10,000 routes
$(BUILD)/bench/routerbench: bench/routerbench.c $(BUILD)/libsluice.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(LTO) -o $@ $< $(BUILD)/libsluice.a $(PKG_LIBS)
bench-router: $(BUILD)/bench/routerbench
	$(Q)$(BUILD)/bench/routerbench

bench-xdp: $(BUILD)/bench/xdpbench $(BPF_OBJS)
	$(Q)BUILD=$(BUILD) bash scripts/bench-xdp.sh

# large allow/deny lists: per-packet cost, memory, load and sync times
$(BUILD)/bench/rulesbench: bench/rulesbench.c $(SKELS) $(BUILD)/libsluice.a \
		| $(DEPS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -o $@ $< $(BUILD)/libsluice.a \
		$(PKG_LIBS)

.PHONY: bench-rules
bench-rules: $(BUILD)/bench/rulesbench
	$(Q)BUILD=$(BUILD) bash scripts/bench-rules.sh

# end-to-end flood: legitimate wrk traffic kept under attack mixes, no
# filter vs nftables ingress vs Sluice's XDP (docs/BENCHMARKS.md); JSON in
# $(BUILD)/bench/flood-results.json, plots in docs/bench-flood.png
.PHONY: bench-flood
bench-flood: $(BUILD)/sluiced $(BUILD)/sluicectl $(BUILD)/bench/xdpbench
	$(Q)BUILD=$(BUILD) /usr/bin/python3 scripts/bench_flood.py

# ---- test ------------------------------------------------------------------
test: all $(FUZZERS)
	$(Q)BUILD=$(BUILD) PYTEST="$(PYTEST)" bash scripts/test.sh all

unit-test: $(UNIT_TESTS)
	$(Q)BUILD=$(BUILD) bash scripts/test.sh unit
bpf-test: $(BPF_TESTS)
	$(Q)BUILD=$(BUILD) bash scripts/test.sh bpf
fuzz-smoke: $(FUZZERS)
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/test.sh fuzz
integration-test: all
	$(Q)BUILD=$(BUILD) PYTEST="$(PYTEST)" bash scripts/test.sh integration

fuzz: $(FUZZERS)
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/test.sh fuzz

# Soak (docs/TESTING.md): mixed traffic, reloads, flaps and bans against
# the ASan build for DURATION seconds; fails if a resource keeps growing.
DURATION ?= 120
.PHONY: soak
soak: all $(BUILD)/asan/sluiced
	$(Q)SLUICED=$(BUILD)/asan/sluiced SLUICE_SOAK_SECONDS=$(DURATION) \
		$(PYTEST) -q -s -p no:cacheprovider tests/integration/test_soak.py

# ---- bench (not part of `make test`): each area adds its target to `bench`
.PHONY: bench bench-http bench-tls
bench: bench-http bench-tls
# HTTP proxy: Sluice vs NGINX vs HAProxy (docs/BENCHMARKS.md)
bench-http: $(BUILD)/sluiced
	$(Q)BUILD=$(BUILD) bash scripts/bench-http.sh
# TLS termination: the same three, ECDSA/RSA, resumption, keep-alive,
# idle connections, 1 vs 2 workers; JSON in $(BUILD)/bench/tls-results.json
bench-tls: $(BUILD)/sluiced
	$(Q)BUILD=$(BUILD) bash scripts/bench-tls.sh
# Instructions per request under callgrind (independent of the host's
# load): bearer auth + a consumer limit against no policy, then rich routes
# + least_request against prefix routes + round robin (bench/conf/;
# docs/BENCHMARKS.md, "Per-request policy and routing"). Not in `bench`.
.PHONY: bench-policy
bench-policy: $(BUILD)/sluiced
	$(Q)scripts/bench_callgrind.py bench/conf/plain.yaml \
		bench/conf/bearer-limit.yaml --binary $(BUILD)/sluiced \
		--out $(BUILD)/callgrind/policy --header-b \
		"Authorization: Bearer $$(sed -n 's/^# token: //p' bench/conf/bearer-limit.yaml)"
	$(Q)scripts/bench_callgrind.py bench/conf/routes-prefix.yaml \
		bench/conf/routes-rich.yaml --binary $(BUILD)/sluiced \
		--out $(BUILD)/callgrind/routing --header-a 'X-Env: prod' \
		--header-b 'X-Env: prod'

demo: all
	$(Q)BUILD=$(BUILD) bash scripts/demo.sh

# Binaries, systemd unit (paths rewritten to $(PREFIX)), default config
# (never overwriting an existing one), man pages.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: $(BUILD)/sluiced $(BUILD)/sluicectl $(BUILD)/sluicectl.bash
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/sluice $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/sluiced $(BUILD)/sluicectl $(DESTDIR)$(PREFIX)/sbin/
	sed -e 's|/usr/local/sbin|$(PREFIX)/sbin|g' \
		-e 's|/etc/sluice|$(SYSCONFDIR)/sluice|g' config/sluice.service \
		> $(DESTDIR)$(UNITDIR)/sluice.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sluice.service
	for f in sluice.yaml allowlist.txt; do \
		test -e $(DESTDIR)$(SYSCONFDIR)/sluice/$$f || \
		install -m 0644 config/$$f $(DESTDIR)$(SYSCONFDIR)/sluice/$$f; \
	done
	install -m 0644 docs/man/sluice.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/sluiced.8 docs/man/sluicectl.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 $(BUILD)/sluicectl.bash $(DESTDIR)$(BASHCOMPDIR)/sluicectl

# Debian package: dpkg-buildpackage (debian/, binary only) on a copy of the
# tracked files in $(BUILD)/deb/src, so its output stays under $(BUILD)/deb;
# then lintian, which must report no errors. Incremental: the copy keeps
# its own debian/build between runs.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_FILE = $(BUILD)/deb/sluice_$(DEB_VERSION)_amd64.deb
.PHONY: deb
deb:
	$(Q)mkdir -p $(BUILD)/deb/src
	$(Q)git ls-files -co --exclude-standard | grep -v '^build/' | \
		tar -cf - -T - | tar -xf - -C $(BUILD)/deb/src
	$(call msg,DEB,$(DEB_FILE))
	$(Q)cd $(BUILD)/deb/src && SLUICE_GIT_REV="$$(git -C $(CURDIR) describe \
		--always --dirty --abbrev=12 2>/dev/null)" \
		dpkg-buildpackage -b -nc -us -uc > ../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	$(call msg,LINTIAN,$(DEB_FILE))
	$(Q)lintian --fail-on error $(BUILD)/deb/sluice_$(DEB_VERSION)_amd64.changes

format:
	clang-format -i $(wildcard daemon/*/*.[ch] bpf/*.c bpf/lib/*.h \
		tests/*/*.c include/sluice/*.h)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
