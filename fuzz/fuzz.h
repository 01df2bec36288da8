/* fuzz.h: what the libFuzzer targets share: a throw-away store made once
 * per process, and a file descriptor holding the input. */
#ifndef GALSMIME_FUZZ_H
#define GALSMIME_FUZZ_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "galsmime.h"

static gs_store *
fuzz_store(void)
{
	static gs_store *store;
	char tmpl[] = "/tmp/galsmime-fuzz.XXXXXX";

	if (!store) {
		g_mime_init();
		gs_init();
		if (!mkdtemp(tmpl) || gs_store_open(tmpl, GS_STORE_READ_WRITE, 1000, &store, NULL) != GS_OK)
			abort();
	}
	return store;
}

/* An fd positioned at the start of a copy of data (memfd: no disk). */
static int
fuzz_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t) size)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Import data as `format` into a snapshot that is always rolled back. */
static void
fuzz_import(const uint8_t *data, size_t size, gs_gal_format format, int skip_bad)
{
	gs_gal_import_opts opts = { 0 };
	gs_gal_import *imp = NULL;
	char *msg = NULL;
	int fd;

	opts.skip_bad = skip_bad;
	if (gs_gal_import_begin(fuzz_store(), "fuzz", &opts, &imp, NULL) != GS_OK)
		abort();
	fd = fuzz_fd(data, size);
	gs_gal_import_file(imp, fd, "fuzz", format, &msg);
	g_free(msg);
	close(fd);
	gs_gal_import_abort(imp);
}

#endif
