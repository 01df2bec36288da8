/* front.h: what the front (front.c, the `galsmime` command) and the warm
 * engine (engine.c) say to each other on the engine's socket. Both are
 * built from one tree at once: the engine refuses a front that would
 * load another galsmime-engine.so than itself (dev, inode, size, mtime), so
 * the layout is native and needs no versioned encoding. libc only. */
#ifndef GALSMIME_FRONT_H
#define GALSMIME_FRONT_H

#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define GS_ENGINE_SOCKET "engine.sock"
#define GS_ENGINE_MAGIC 0x47535765u /* "GSWe" */
#define GS_ENGINE_VERSION 1
/* the whole request, environment included */
#define GS_ENGINE_MAX_REQUEST (1024 * 1024)
/* a worker's exit status telling the engine it is not the front's
 * engine (rebuilt, reinstalled): the engine stops */
#define GS_ENGINE_STALE 125

/* Followed by `length` bytes: NUL-ended strings, the working folder,
 * argc arguments, envc environment entries. Sent with SCM_RIGHTS
 * carrying the front's descriptors 0, 1 and 2. */
typedef struct gs_engine_header {
	uint32_t magic, version, length, umask;
	uint32_t argc, envc;
	uint64_t dev, ino;
	int64_t size, mtime_sec, mtime_nsec;
} gs_engine_header;

/* The commands the front hands to the engine, and the only ones a
 * worker runs (NULL-ended). */
static const char *const gs_engine_commands[] = { "sign", "encrypt", "decrypt", "verify", "mutt", NULL };

/* Read exactly n bytes: 0, or -1 (end of file, an error). */
static inline int
gs_engine_read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t) r;
	}
	return 0;
}

/* Where galsmime's folders are, by one set of rules for the front (which
 * looks before anything is loaded) and the engine's code (galsmime.c's
 * default store, cmd-agent.c's agent folder), read from the environment
 * at each call (a warm engine's worker has its client's): 0 with the
 * path in `out`, or -1 when it does not fit or there is no home. */

/* The default store: $GALSMIME_HOME, else $XDG_DATA_HOME/galsmime, else
 * ~/.local/share/galsmime ($HOME, else the password database's). */
static inline int
gs_default_store_path(char *out, size_t size)
{
	const char *e = getenv("GALSMIME_HOME");
	struct passwd *pw;
	int n;

	if (e && *e)
		n = snprintf(out, size, "%s", e);
	else if ((e = getenv("XDG_DATA_HOME")) && *e)
		n = snprintf(out, size, "%s/galsmime", e);
	else if ((e = getenv("HOME")) && *e)
		n = snprintf(out, size, "%s/.local/share/galsmime", e);
	else if ((pw = getpwuid(geteuid())) && pw->pw_dir && *pw->pw_dir)
		n = snprintf(out, size, "%s/.local/share/galsmime", pw->pw_dir);
	else
		return -1;
	return n > 0 && (size_t) n < size ? 0 : -1;
}

/* The key agent's folder, for the store `home` (NULL: the default one):
 * $XDG_RUNTIME_DIR/galsmime when that is an absolute path, else
 * HOME/agent. */
static inline int
gs_agent_dir_path(const char *home, char *out, size_t size)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char store[4096];
	int n;

	if (rt && rt[0] == '/')
		n = snprintf(out, size, "%s/galsmime", rt);
	else if (home || (gs_default_store_path(store, sizeof store) == 0 && (home = store)))
		n = snprintf(out, size, "%s/agent", home);
	else
		return -1;
	return n > 0 && (size_t) n < size ? 0 : -1;
}

#endif
