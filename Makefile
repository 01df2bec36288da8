# galsmime: one Makefile. `make`, `make check`, `make install PREFIX=DIR`
# (and DESTDIR=), `make uninstall`, `make check SANITIZE=1`, `make demo`,
# `make bench`, `make fuzz`, `make valgrind`, `make check-corpus`,
# `make deps` (install the Debian packages the build and tests need).

PREFIX ?= /usr/local
CC ?= cc
# pkg-config modules the build needs; libnotmuch and libcsv have no .pc
# file on Debian and are checked by scripts/sonames and the link
PKGS = gmime-3.0 glib-2.0 libcrypto sqlite3 yajl ldap libcurl
# and the ones whose headers only it needs (never linked): Cyrus SASL's,
# for libldap's GSSAPI bind (lib/import/ldap.c)
PKGS_HDR = libsasl2
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

ifeq ($(SANITIZE),1)
# override: a CFLAGS given on the command line keeps the sanitizers
override CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
BUILD = build-san
else
BUILD = build
endif

# Evaluated when first used, after `make deps` may have installed what
# was missing; a module pkg-config does not know stops the build naming it.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg,--cflags,$(PKGS) $(PKGS_HDR)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkg,--libs,$(PKGS)) -lcsv -ldl)$(PKG_LIBS)
pkg = $(foreach m,$(2),$(if $(shell pkg-config --exists $(m) && echo y),,$(error pkg-config knows no module '$(m)': run `make deps` (or install its -dev package))))$(shell pkg-config $(1) $(2))

# libldap, libcurl and libnotmuch are loaded with dlopen by the commands
# that need them (lib/dl.c): compiled against, loaded by the SONAME the
# build finds, never linked, so that a filter run does not pay for them.
CPPFLAGS += -D_GNU_SOURCE -Ilib -I$(BUILD)
# -fPIC: the engine is a shared object the front loads (plugin/front.c)
ALL_CFLAGS = $(CFLAGS) $(WARN) $(PKG_CFLAGS) -std=gnu11 -fPIC
# header dependencies, tracked
DEPFLAGS = -MMD -MP

LIB_SRC = $(wildcard lib/*.c) $(wildcard lib/import/*.c)
# plugin/front.c is the `galsmime` command (libc only, front.c says
# why); everything else in plugin/ and lib/ is galsmime-engine.so, which
# it loads
PLUGIN_SRC = $(filter-out plugin/front.c,$(wildcard plugin/*.c))
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
PLUGIN_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(PLUGIN_SRC))
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SONAMES = $(BUILD)/gs-sonames.h

LIBA = $(BUILD)/libgalsmime.a
BIN = $(BUILD)/galsmime
ENGINE = $(BUILD)/galsmime-engine.so
FRONT_OBJ = $(BUILD)/plugin/front.o

.PHONY: all deps check unit e2e install uninstall demo bench bench-ldap bench-live fuzz clean check-corpus valgrind
all: $(BIN) $(ENGINE)

deps:
	@scripts/install-deps

%/gs-sonames.h: scripts/sonames
	@mkdir -p $(dir $@)
	@CC="$(CC)" scripts/sonames $@

# the Makefile too: a change of flags (-fPIC) rebuilds what it compiled
$(BUILD)/%.o: %.c Makefile | $(SONAMES)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

-include $(LIB_OBJ:.o=.d) $(PLUGIN_OBJ:.o=.d) $(FRONT_OBJ:.o=.d) $(UNIT_BIN:=.d)

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# exporting cli_main alone, every other reference bound inside: no
# symbol lookups at load or first call for the engine's own functions
$(ENGINE): $(PLUGIN_OBJ) $(LIB_OBJ) plugin/engine.map
	$(CC) -shared -Wl,-Bsymbolic -Wl,--version-script=plugin/engine.map $(LDFLAGS) -o $@ \
		$(PLUGIN_OBJ) $(LIB_OBJ) $(PKG_LIBS)

# the front links libc alone: that is its point
$(BIN): $(FRONT_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(FRONT_OBJ) -ldl

$(BUILD)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(PKG_LIBS) -lpthread

# The tests install their own dependencies (only what is missing: when
# everything is there, scripts/install-deps asks dpkg once and changes
# nothing), build, then run every suite against the installed binary in
# a throw-away prefix and HOME. Each run installs into a prefix of its
# own, so that runs side by side never see each other's files.
# The build under `make check` runs one compiler per CPU, unless make
# was given a -j of its own.
NPROC = $(shell nproc 2>/dev/null || echo 1)
check: deps
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC)) all $(UNIT_BIN) \
		$(BUILD)/gen-gal $(BUILD)/tests/failwrite.so $(BUILD)/tests/p11-remove.so
	@prefix=$$(mktemp -d $(CURDIR)/$(BUILD)/inst.XXXXXX) && \
	$(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null && \
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) GALSMIME_PREFIX=$$prefix tests/run; \
	rc=$$?; rm -rf $$prefix; exit $$rc

INTEGRATION = mutt notmuch procmail ldap

install: $(BIN) $(ENGINE)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/galsmime $(DESTDIR)$(PREFIX)/lib/galsmime
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/galsmime
	install -m 0644 $(ENGINE) $(DESTDIR)$(PREFIX)/lib/galsmime/galsmime-engine.so
	install -m 0644 plugin/galsmime.1 $(DESTDIR)$(PREFIX)/share/man/man1/galsmime.1
	@for d in $(INTEGRATION); do \
		install -d $(DESTDIR)$(PREFIX)/share/galsmime/$$d; \
		for f in plugin/$$d/*; do \
			mode=0644; [ -x "$$f" ] && mode=0755; \
			install -m $$mode $$f $(DESTDIR)$(PREFIX)/share/galsmime/$$d/; \
		done; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/galsmime $(DESTDIR)$(PREFIX)/share/man/man1/galsmime.1 \
		$(DESTDIR)$(PREFIX)/lib/galsmime/galsmime-engine.so
	-rmdir $(DESTDIR)$(PREFIX)/lib/galsmime 2>/dev/null
	@for d in $(INTEGRATION); do \
		for f in plugin/$$d/*; do rm -f $(DESTDIR)$(PREFIX)/share/galsmime/$$d/$$(basename $$f); done; \
		rmdir $(DESTDIR)$(PREFIX)/share/galsmime/$$d 2>/dev/null || true; \
	done
	-rmdir $(DESTDIR)$(PREFIX)/share/galsmime 2>/dev/null

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo $(BIN)

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/gen-gal
	@GALSMIME_GEN_GAL=$(BUILD)/gen-gal scripts/bench $(BIN)

# gal sync of 100,000 entries from a real slapd against gal import of
# the same LDIF (scripts/bench-ldap: BENCH_LDAP_N, BENCH_LDAP_CERTS,
# BENCH_LDAP_RUNS); needs root, as the slapd suites do
bench-ldap: deps
	@$(MAKE) --no-print-directory all $(BUILD)/gen-gal
	@GALSMIME_GEN_GAL=$(BUILD)/gen-gal scripts/bench-ldap $(BIN)

# encrypt to 10 recipients a loopback slapd holds: not yet cached, cached,
# and from a snapshot without directories (scripts/bench-live: BENCH_RUNS);
# needs root, as the slapd suites do
bench-live: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench-live

# the commands and filters under valgrind's leak checker (a few minutes)
valgrind: deps
	@$(MAKE) --no-print-directory all
	@scripts/valgrind-check $(BIN)

# the synthetic GAL export of scripts/bench's scale benchmark
$(BUILD)/gen-gal: scripts/gen-gal.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -std=gnu11 -o $@ $< $(shell pkg-config --libs libcrypto)

# the full disk of tests/t92-faults.sh, an LD_PRELOAD shim: never built
# with the sanitizers, so that it loads into any process
$(BUILD)/tests/failwrite.so: tests/faults/failwrite.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(WARN) -std=gnu11 -fPIC -shared -o $@ $< -ldl

# a PKCS#11 module whose token is pulled out between login and the key
# operation (tests/t17-pkcs11.sh); like failwrite.so, never sanitized
$(BUILD)/tests/p11-remove.so: tests/faults/p11-remove.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(WARN) -std=gnu11 $(shell pkg-config --cflags p11-kit-1) -fPIC -shared -o $@ $< -ldl

# interoperability with other projects' S/MIME material (optional; skipped
# when the folder is missing): scripts/check-corpus
CORPUS ?= ../shared/corpus
check-corpus: all
	@scripts/check-corpus $(BIN) $(CORPUS)

# libFuzzer targets (clang): fuzz/fuzz-NAME.c, each linked with the
# library built for fuzzing. `make fuzz` runs each for FUZZ_SECONDS with
# its corpus in build-fuzz/corpus/NAME, seeded from fuzz/seeds/NAME.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_SRC = $(wildcard fuzz/fuzz-*.c)
FUZZ_BIN = $(patsubst fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_LIB_OBJ = $(patsubst %.c,build-fuzz/%.o,$(LIB_SRC))
FUZZ_SONAMES = build-fuzz/gs-sonames.h

build-fuzz/%.o: %.c | $(FUZZ_SONAMES)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -D_GNU_SOURCE -Ilib -Ibuild-fuzz $(FUZZ_FLAGS) $(PKG_CFLAGS) $(DEPFLAGS) -std=gnu11 -c -o $@ $<

-include $(FUZZ_LIB_OBJ:.o=.d)

build-fuzz/fuzz-%: fuzz/fuzz-%.c $(FUZZ_LIB_OBJ) fuzz/fuzz.h
	$(FUZZ_CC) -D_GNU_SOURCE -Ilib -Ibuild-fuzz -Ifuzz $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -std=gnu11 \
		-o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# the re-entrancy test (two sessions on two threads) under
# ThreadSanitizer: `make tsan` builds it, tests/t98-threads.sh runs it
TSAN_FLAGS = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
TSAN_LIB_OBJ = $(patsubst %.c,build-tsan/%.o,$(LIB_SRC))

build-tsan/%.o: %.c | build-tsan/gs-sonames.h
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Ilib -Ibuild-tsan $(TSAN_FLAGS) $(WARN) $(PKG_CFLAGS) $(DEPFLAGS) -std=gnu11 -c -o $@ $<

-include $(TSAN_LIB_OBJ:.o=.d)

build-tsan/test-threads: tests/unit/test-threads.c tests/unit/unit.h $(TSAN_LIB_OBJ)
	$(CC) -D_GNU_SOURCE -Ilib -Ibuild-tsan $(TSAN_FLAGS) $(WARN) $(PKG_CFLAGS) -std=gnu11 \
		-o $@ $< $(TSAN_LIB_OBJ) $(PKG_LIBS) -lpthread

.PHONY: tsan
tsan: build-tsan/test-threads

clean:
	rm -rf build build-san build-fuzz build-tsan
