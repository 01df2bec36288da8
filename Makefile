# galsmime: one Makefile. `make`, `make check`, `make install PREFIX=DIR`,
# `make check SANITIZE=1`, `make demo`, `make bench`, `make fuzz`,
# `make valgrind`, `make check-corpus`.

PREFIX ?= /usr/local
CC ?= cc
PKGS = gmime-3.0 glib-2.0 libcrypto sqlite3 yajl
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE -Ilib
# libldap and libnotmuch are loaded with dlopen by the commands that need
# them (LDIF import, notmuch harvest): compiled against, never linked, so
# that a filter run, once per message, does not pay for loading them
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) ldap 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -ldl

ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD = build-san
else
BUILD = build
endif

ALL_CFLAGS = $(CFLAGS) $(WARN) $(PKG_CFLAGS) -std=gnu11

LIB_SRC = $(wildcard lib/*.c) $(wildcard lib/import/*.c)
PLUGIN_SRC = $(wildcard plugin/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
PLUGIN_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(PLUGIN_SRC))
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

LIBA = $(BUILD)/libgalsmime.a
BIN = $(BUILD)/galsmime

.PHONY: all deps check unit e2e install demo bench fuzz clean check-corpus valgrind
all: $(BIN)

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c lib/galsmime.h lib/gs-private.h $(wildcard lib/import/*.h) $(wildcard plugin/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(PLUGIN_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(PLUGIN_OBJ) $(LIBA) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(PKG_LIBS)

# The tests install their own dependencies, build, then run every suite
# against the installed binary in a throw-away prefix and HOME.
# Each run installs into a prefix of its own, so that runs side by side
# never see each other's half-installed files.
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(BUILD)/gen-gal $(BUILD)/tests/failwrite.so
	@prefix=$$(mktemp -d $(CURDIR)/$(BUILD)/inst.XXXXXX) && \
	$(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null && \
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) GALSMIME_PREFIX=$$prefix tests/run; \
	rc=$$?; rm -rf $$prefix; exit $$rc

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/galsmime
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/galsmime
	install -m 0644 plugin/galsmime.1 $(DESTDIR)$(PREFIX)/share/man/man1/galsmime.1
	@for d in mutt notmuch procmail; do \
		if [ -d plugin/$$d ]; then \
			install -d $(DESTDIR)$(PREFIX)/share/galsmime/$$d; \
			for f in plugin/$$d/*; do install -m 0644 $$f $(DESTDIR)$(PREFIX)/share/galsmime/$$d/; done; \
		fi; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo $(BIN)

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/gen-gal
	@GALSMIME_GEN_GAL=$(BUILD)/gen-gal scripts/bench $(BIN)

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

build-fuzz/%.o: %.c lib/galsmime.h lib/gs-private.h $(wildcard lib/import/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(PKG_CFLAGS) -std=gnu11 -c -o $@ $<

build-fuzz/fuzz-%: fuzz/fuzz-%.c $(FUZZ_LIB_OBJ) fuzz/fuzz.h
	$(FUZZ_CC) $(CPPFLAGS) -Ifuzz $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -std=gnu11 \
		-o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

clean:
	rm -rf build build-san build-fuzz
