/* bio.c: an OpenSSL BIO reading from or writing to a GMimeStream, so
 * that content flows between GMime and CMS without extra copies. */
#include "gs-private.h"

#include <stdint.h>
#include <sys/mman.h>

#include <errno.h>

static BIO_METHOD *method;
static int method_type;

/* The BIO's data: the stream, and the error of its first failed write,
 * so that whoever sees OpenSSL fail above it can tell the user why. */
typedef struct {
	GMimeStream *s;
	int err;
} stream_data;

static int
stream_write(BIO *b, const char *buf, int len)
{
	stream_data *d = BIO_get_data(b);
	ssize_t n;

	errno = 0;
	n = g_mime_stream_write(d->s, buf, (size_t) len);
	if (n < 0 && !d->err)
		d->err = errno ? errno : EIO;
	return n < 0 ? -1 : (int) n;
}

int
gs_bio_stream_errno(BIO *b)
{
	for (; b; b = BIO_next(b))
		if (method_type && BIO_method_type(b) == method_type) {
			stream_data *d = BIO_get_data(b);
			if (d && d->err)
				return d->err;
		}
	return 0;
}

static int
stream_read(BIO *b, char *buf, int len)
{
	GMimeStream *s = ((stream_data *) BIO_get_data(b))->s;
	ssize_t n;

	if (len <= 0)
		return 0;
	n = g_mime_stream_read(s, buf, (size_t) len);
	if (n < 0)
		return -1;
	return (int) n;
}

static long
stream_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	stream_data *d = BIO_get_data(b);
	GMimeStream *s = d->s;

	(void) num;
	(void) ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		errno = 0;
		if (g_mime_stream_flush(s) == 0)
			return 1;
		if (!d->err)
			d->err = errno ? errno : EIO;
		return 0;
	case BIO_CTRL_EOF:
		return g_mime_stream_eos(s) ? 1 : 0;
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return 0;
	default:
		return 0;
	}
}

static int
stream_destroy(BIO *b)
{
	stream_data *d = BIO_get_data(b);

	if (d) {
		g_object_unref(d->s);
		g_free(d);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static int
stream_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

BIO *
gs_bio_new_stream(GMimeStream *stream)
{
	static gsize once;
	stream_data *d;
	BIO *b;

	/* once per process, whatever the threads */
	if (g_once_init_enter(&once)) {
		method_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
		method = BIO_meth_new(method_type, "gmime-stream");
		BIO_meth_set_write(method, stream_write);
		BIO_meth_set_read(method, stream_read);
		BIO_meth_set_ctrl(method, stream_ctrl);
		BIO_meth_set_create(method, stream_create);
		BIO_meth_set_destroy(method, stream_destroy);
		g_once_init_leave(&once, 1);
	}
	if (!(b = BIO_new(method)))
		return NULL;
	d = g_new0(stream_data, 1);
	d->s = g_object_ref(stream);
	BIO_set_data(b, d);
	return b;
}

GByteArray *
gs_stream_slurp(GMimeStream *stream, size_t limit, int *too_big)
{
	GByteArray *a = g_byte_array_new();
	char buf[65536];
	ssize_t n;

	*too_big = 0;
	while ((n = g_mime_stream_read(stream, buf, sizeof buf)) > 0) {
		if (a->len + (size_t) n > limit) {
			*too_big = 1;
			break;
		}
		g_byte_array_append(a, (guint8 *) buf, (guint) n);
	}
	return a;
}

/* The bytes of a stream held in memory: a mapped file or a memory
 * stream, or a slice of either, as GMime's parser hands out the parts of
 * its input. NULL for any other stream. */
const unsigned char *
gs_stream_memory(GMimeStream *st, size_t *len)
{
	const unsigned char *base;
	gint64 end;
	size_t size;

	if (!st)
		return NULL;
	end = st->bound_end;
	if (GMIME_IS_STREAM_MMAP(st) && GMIME_STREAM_MMAP(st)->map) {
		base = (const unsigned char *) GMIME_STREAM_MMAP(st)->map;
		size = GMIME_STREAM_MMAP(st)->maplen;
	} else if (GMIME_IS_STREAM_MEM(st) && GMIME_STREAM_MEM(st)->buffer) {
		base = GMIME_STREAM_MEM(st)->buffer->data;
		size = GMIME_STREAM_MEM(st)->buffer->len;
	} else {
		return NULL;
	}
	if (end < 0)
		end = (gint64) size;
	/* an empty array has no memory at all */
	if (!base || st->bound_start < 0 || end < st->bound_start || (guint64) end > size)
		return NULL;
	*len = (size_t) (end - st->bound_start);
	return base + st->bound_start;
}

void
gs_memory_will_read(const void *p, size_t n)
{
#ifdef MADV_POPULATE_READ
	const uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t) p & ~(page - 1), end = (uintptr_t) p + n;

	if (p && n)
		madvise((void *) start, end - start, MADV_POPULATE_READ);
#else
	(void) p;
	(void) n;
#endif
}

void
gs_memory_large(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t) p + page - 1) & ~(page - 1), end = ((uintptr_t) p + n) & ~(page - 1);

	/* not MADV_HUGEPAGE: with the kernel's default defrag setting a huge
	 * page fault compacts memory there and then, and on a virtual machine
	 * that gives freed memory back to its host that cost 220 ms for
	 * 106 MiB, against 33 ms for 4 KiB pages populated in one call
	 * (BENCHMARKS.md, stop 24) */
	if (end > start)
		madvise((void *) start, end - start, MADV_POPULATE_WRITE);
#else
	(void) p;
	(void) n;
#endif
}
