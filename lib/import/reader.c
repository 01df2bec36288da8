/* reader.c: buffered input for the importers: BOM handling, UTF-16 to
 * UTF-8 on the fly, lines of bounded length, byte offsets for progress
 * and messages. */
#include "import.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAW_CHUNK 65536

struct gs_reader {
	int fd;
	char *name;
	uint64_t size;         /* of the raw input, 0 when unknown */
	uint64_t raw_off;      /* raw bytes consumed */
	int error;
	int eof;
	/* raw input, before conversion */
	unsigned char *raw;
	size_t raw_len, raw_pos;
	/* UTF-16 conversion */
	GIConv cd;
	int convert;
	/* converted data ready to hand out */
	GByteArray *buf;
	size_t pos;
	/* the current line */
	GByteArray *line;
	unsigned long lineno;
	FILE *file;
	int started;
};

static ssize_t
raw_fill(gs_reader *r)
{
	ssize_t n;

	if (r->raw_pos < r->raw_len) {
		memmove(r->raw, r->raw + r->raw_pos, r->raw_len - r->raw_pos);
		r->raw_len -= r->raw_pos;
	} else {
		r->raw_len = 0;
	}
	r->raw_pos = 0;
	for (;;) {
		n = read(r->fd, r->raw + r->raw_len, RAW_CHUNK - r->raw_len);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0) {
		r->error = errno;
		return -1;
	}
	r->raw_len += (size_t) n;
	return n;
}

/* Move converted bytes into r->buf; returns 0 at end of input. */
static int
fill(gs_reader *r)
{
	ssize_t n;

	if (r->pos > 0 && r->pos == r->buf->len) {
		g_byte_array_set_size(r->buf, 0);
		r->pos = 0;
	}
	if (r->eof || r->error)
		return 0;
	n = raw_fill(r);
	if (n < 0)
		return 0;
	if (n == 0 && r->raw_len == 0) {
		r->eof = 1;
		return 0;
	}
	if (!r->convert) {
		g_byte_array_append(r->buf, r->raw, (guint) r->raw_len);
		r->raw_off += r->raw_len;
		r->raw_len = 0;
		return 1;
	} else {
		char out[RAW_CHUNK * 2];
		gchar *in = (gchar *) r->raw;
		gsize inleft = r->raw_len, outleft = sizeof out;
		gchar *op = out;
		gsize rc = g_iconv(r->cd, &in, &inleft, &op, &outleft);
		int e = errno;

		/* what converted before a bad sequence is handed out first */
		g_byte_array_append(r->buf, (guint8 *) out, (guint) (op - out));
		if (rc == (gsize) -1 && e != EINVAL && e != E2BIG) {
			r->error = EILSEQ;
			return op > out;
		}
		if (n == 0 && inleft > 0) {
			/* an odd byte or a lone surrogate at the very end */
			r->error = EILSEQ;
			return op > out;
		}
		r->raw_off += r->raw_len - inleft;
		r->raw_pos = r->raw_len - inleft;
		return 1;
	}
}

static void
start(gs_reader *r, int text)
{
	const unsigned char *p;

	r->started = 1;
	/* look at the first bytes for a byte order mark */
	while (r->raw_len < 4 && raw_fill(r) > 0)
		;
	p = r->raw;
	if (!text)
		goto plain;
	if (r->raw_len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		r->raw_pos = 3;
		r->raw_off = 3;
	} else if (r->raw_len >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) {
		r->cd = g_iconv_open("UTF-8", p[0] == 0xFF ? "UTF-16LE" : "UTF-16BE");
		r->convert = r->cd != (GIConv) -1;
		if (r->convert) {
			r->raw_pos = 2;
			r->raw_off = 2;
		}
	} else if (r->raw_len >= 4 && p[0] && !p[1] && p[2] && !p[3]) {
		/* UTF-16LE without a mark: ASCII text with every other byte 0 */
		r->cd = g_iconv_open("UTF-8", "UTF-16LE");
		r->convert = r->cd != (GIConv) -1;
	}
plain:
	/* hand the bytes after the mark to the converted buffer */
	if (r->raw_pos < r->raw_len) {
		if (!r->convert) {
			g_byte_array_append(r->buf, r->raw + r->raw_pos, (guint) (r->raw_len - r->raw_pos));
			r->raw_off += r->raw_len - r->raw_pos;
			r->raw_len = r->raw_pos = 0;
		}
	} else {
		r->raw_len = r->raw_pos = 0;
	}
}

gs_reader *
gs_reader_new(int fd, const char *name, int text)
{
	gs_reader *r = g_new0(gs_reader, 1);
	struct stat sb;

	r->fd = fd;
	r->name = g_strdup(name ? name : "stdin");
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		r->size = (uint64_t) sb.st_size;
	r->raw = g_malloc(RAW_CHUNK);
	r->buf = g_byte_array_new();
	r->line = g_byte_array_new();
	r->cd = (GIConv) -1;
	start(r, text);
	return r;
}

void
gs_reader_free(gs_reader *r)
{
	if (!r)
		return;
	if (r->file)
		fclose(r->file);
	if (r->cd != (GIConv) -1)
		g_iconv_close(r->cd);
	g_free(r->raw);
	g_byte_array_unref(r->buf);
	g_byte_array_unref(r->line);
	g_free(r->name);
	g_free(r);
}

const char *
gs_reader_name(const gs_reader *r)
{
	return r->name;
}

ssize_t
gs_reader_read(gs_reader *r, void *out, size_t n)
{
	size_t have;

	if (r->pos >= r->buf->len && !fill(r))
		return r->error ? -1 : 0;
	have = r->buf->len - r->pos;
	if (n > have)
		n = have;
	memcpy(out, r->buf->data + r->pos, n);
	r->pos += n;
	return (ssize_t) n;
}

const char *
gs_reader_line(gs_reader *r, size_t *len, int *too_long)
{
	*too_long = 0;
	g_byte_array_set_size(r->line, 0);
	for (;;) {
		unsigned char *start, *nl;
		size_t avail;

		if (r->pos >= r->buf->len && !fill(r)) {
			if (r->line->len == 0 || r->error)
				return NULL;
			break; /* last line without a newline */
		}
		start = r->buf->data + r->pos;
		avail = r->buf->len - r->pos;
		nl = memchr(start, '\n', avail);
		if (nl) {
			size_t k = (size_t) (nl - start);
			if (r->line->len + k > GS_MAX_RECORD) {
				*too_long = 1;
				return NULL;
			}
			g_byte_array_append(r->line, start, (guint) k);
			r->pos += k + 1;
			break;
		}
		if (r->line->len + avail > GS_MAX_RECORD) {
			*too_long = 1;
			return NULL;
		}
		g_byte_array_append(r->line, start, (guint) avail);
		r->pos += avail;
	}
	r->lineno++;
	if (r->line->len > 0 && r->line->data[r->line->len - 1] == '\r')
		g_byte_array_set_size(r->line, r->line->len - 1);
	/* keep it a C string for parsers that want one */
	g_byte_array_append(r->line, (const guint8 *) "", 1);
	*len = r->line->len - 1;
	return (const char *) r->line->data;
}

unsigned long
gs_reader_lineno(const gs_reader *r)
{
	return r->lineno;
}

uint64_t
gs_reader_offset(const gs_reader *r)
{
	/* raw bytes read less those still buffered: exact for plain input,
	 * approximate after UTF-16 conversion */
	return r->convert ? r->raw_off : r->raw_off - (r->buf->len - r->pos);
}

uint64_t
gs_reader_size(const gs_reader *r)
{
	return r->size;
}

size_t
gs_reader_peek(gs_reader *r, const unsigned char **p)
{
	static const unsigned char nothing[1];

	while (r->buf->len - r->pos < 4096 && fill(r))
		;
	if (r->pos >= r->buf->len) {
		*p = nothing; /* an empty GByteArray's data is NULL */
		return 0;
	}
	*p = r->buf->data + r->pos;
	return MIN(r->buf->len - r->pos, (size_t) 4096);
}

int
gs_reader_error(const gs_reader *r)
{
	return r->error;
}

gs_status
gs_reader_status(const gs_reader *r, char **errmsg)
{
	if (!r->error)
		return GS_OK;
	if (r->error == EILSEQ)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: invalid UTF-16 text", r->name);
	return gs_fail(errmsg, GS_E_IO, "%s: %s", r->name, g_strerror(r->error));
}

static ssize_t
cookie_read(void *c, char *buf, size_t n)
{
	return gs_reader_read(c, buf, n);
}

FILE *
gs_reader_file(gs_reader *r)
{
	cookie_io_functions_t io = { cookie_read, NULL, NULL, NULL };

	if (!r->file)
		r->file = fopencookie(r, "r", io);
	return r->file;
}
