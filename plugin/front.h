/* front.h: what the front (front.c, the `galsmime` command) and the warm
 * engine (engine.c) say to each other on the engine's socket. Both are
 * built from one tree at once: the engine refuses a front that would
 * load another galsmime-engine.so than itself (dev, inode, size, mtime), so
 * the layout is native and needs no versioned encoding. libc only. */
#ifndef GALSMIME_FRONT_H
#define GALSMIME_FRONT_H

#include <errno.h>
#include <stdint.h>
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

#endif
