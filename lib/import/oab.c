/* oab.c: Outlook's offline address book, the version 4 full details file
 * (udetails.oab, [MS-OXOAB] 2.9), as Outlook keeps it decompressed.
 *
 * Little-endian throughout: a 12-byte header {ulVersion 0x20, ulSerial,
 * ulTotRecs}, a metadata record holding two property tables (the header
 * record's and the object records'), the header record, then ulTotRecs
 * object records. Every record starts with its own size, so we read one
 * record at a time into a buffer reused for the next: memory follows the
 * largest record, never the file. Inside a record every read is checked
 * against what is left of that record, and no count is trusted before
 * the bytes it counts are there.
 *
 * A bad value inside a record is that record's problem (skip_bad skips
 * it: its size still tells where the next one starts). A bad record size,
 * a bad header or metadata, or a file that ends before the records the
 * header announces cannot be skipped: there is no next record to find,
 * and a snapshot missing part of the directory would silently drop
 * people's certificates. */
#include "import.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#define OAB_V4_FULL_DETAILS 0x00000020u

/* property types ([MS-OXOAB] 2.9.4, [MS-OXCDATA] 2.11.1) */
#define PT_LONG 0x0003u
#define PT_BOOLEAN 0x000Bu
#define PT_STRING8 0x001Eu
#define PT_UNICODE 0x001Fu
#define PT_BINARY 0x0102u
#define MV_FLAG 0x1000u

/* the properties we read, by property id (the tag's upper half) */
#define PID_OBJECT_TYPE 0x0FFEu
#define PID_DISPLAY_NAME 0x3001u
#define PID_DISPLAY_TYPE 0x3900u
#define PID_SMTP_ADDRESS 0x39FEu
#define PID_ACCOUNT 0x3A00u
#define PID_USER_X509_CERTIFICATE 0x3A70u    /* userSMIMECertificate */
#define PID_PROXY_ADDRESSES 0x800Fu
#define PID_AB_X509_CERTIFICATE 0x8C6Au      /* userCertificate */

/* A record is at most GS_MAX_RECORD bytes, but a value can be one or two
 * bytes: without a cap, 64 MiB of tiny certificate values or addresses
 * would cost gigabytes of bookkeeping (and the address list is kept
 * without duplicates by a linear search). Directories hold a handful. */
#define OAB_MAX_ADDRESSES 1024
#define OAB_MAX_CERTS 1024

/* PidTagObjectType values ([MS-OXOABK]); PidTagDisplayType ones are in kind_name() */
#define MAPI_FOLDER 3
#define MAPI_MAILUSER 6
#define MAPI_DISTLIST 8

/* A property table from the metadata record: the tags, in order. */
typedef struct oab_table {
	uint32_t *tags;
	uint32_t n;
} oab_table;

/* A read position inside one record held in memory. `base` is the
 * file offset of p[0], for messages. */
typedef struct cursor {
	const unsigned char *p;
	size_t len, off;
	uint64_t base;
	char *why;          /* set on the first error */
} cursor;

typedef struct oab_parser {
	gs_import_state *st;
	gs_reader *r;
	uint64_t pos;       /* bytes of the file consumed so far */
	GByteArray *buf;    /* the current record, reused */
	oab_table hdr, obj;
	gs_record rec;
	int display_type, object_type;
} oab_parser;

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int G_GNUC_PRINTF(2, 3)
cursor_fail(cursor *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->why) {
		va_start(ap, fmt);
		c->why = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	return 0;
}

static uint64_t
cursor_at(const cursor *c)
{
	return c->base + c->off;
}

/* PtypInteger32 as [MS-OXOAB] 2.9.6.1 encodes it (also counts and
 * lengths): one byte below 0x80, else 0x81-0x84 and that many bytes. */
static int
get_int(cursor *c, uint32_t *v)
{
	unsigned n, i;
	unsigned char b;

	if (c->off >= c->len)
		return cursor_fail(c, "integer at byte %" G_GUINT64_FORMAT " past the end of the record",
				   cursor_at(c));
	b = c->p[c->off];
	if (b < 0x80) {
		c->off++;
		*v = b;
		return 1;
	}
	if (b < 0x81 || b > 0x84)
		return cursor_fail(c, "bad integer encoding 0x%02x at byte %" G_GUINT64_FORMAT, b,
				   cursor_at(c));
	n = b - 0x80u;
	if (c->len - c->off - 1 < n)
		return cursor_fail(c, "%u-byte integer at byte %" G_GUINT64_FORMAT
				   " past the end of the record", n, cursor_at(c));
	c->off++;
	*v = 0;
	for (i = 0; i < n; i++)
		*v |= (uint32_t) c->p[c->off + i] << (8 * i);
	c->off += n;
	return 1;
}

/* A NUL-terminated string: *s points into the record, *n excludes the NUL. */
static int
get_string(cursor *c, const char **s, size_t *n)
{
	const unsigned char *nul;

	if (c->off >= c->len)
		return cursor_fail(c, "string at byte %" G_GUINT64_FORMAT " past the end of the record",
				   cursor_at(c));
	nul = memchr(c->p + c->off, 0, c->len - c->off);
	if (!nul)
		return cursor_fail(c, "string at byte %" G_GUINT64_FORMAT
				   " has no NUL before the end of the record", cursor_at(c));
	*s = (const char *) c->p + c->off;
	*n = (size_t) (nul - (c->p + c->off));
	c->off += *n + 1;
	return 1;
}

static int
get_binary(cursor *c, const unsigned char **b, size_t *n)
{
	uint64_t at = cursor_at(c);
	uint32_t len;

	if (!get_int(c, &len))
		return 0;
	if (len > c->len - c->off)
		return cursor_fail(c, "binary value at byte %" G_GUINT64_FORMAT " claims %" G_GUINT32_FORMAT
				   " bytes, past the end of the record (%zu left)", at, len, c->len - c->off);
	*b = c->p + c->off;
	*n = len;
	c->off += len;
	return 1;
}

static const char *
kind_name(int display_type, int object_type)
{
	/* PidTagDisplayType says most; PidTagObjectType is the fallback */
	switch (display_type) {
	case 0: return "oab-user";
	case 1: case 5: return "oab-dl";
	case 2: return "oab-publicfolder";
	case 3: return "oab-agent";
	case 4: return "oab-organization";
	case 6: return "oab-contact";
	}
	switch (object_type) {
	case MAPI_MAILUSER: return "oab-user";
	case MAPI_DISTLIST: return "oab-dl";
	case MAPI_FOLDER: return "oab-publicfolder";
	}
	return "oab";
}

/* PtypString8 is in the server's code page; what is not UTF-8 already is
 * most likely Windows-1252. */
static char *
string8_to_utf8(const char *s, size_t n)
{
	if (g_utf8_validate(s, (gssize) n, NULL))
		return g_strndup(s, n);
	return g_convert(s, (gssize) n, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
}

static int
take_string(oab_parser *o, cursor *c, uint32_t tag, const char *s, size_t n)
{
	uint16_t id = (uint16_t) (tag >> 16);
	char *u;

	if ((id == PID_SMTP_ADDRESS || id == PID_PROXY_ADDRESSES) &&
	    o->rec.addresses->len >= OAB_MAX_ADDRESSES)
		return cursor_fail(c, "more than %d addresses", OAB_MAX_ADDRESSES);
	u = (tag & 0xFFFFu & ~MV_FLAG) == PT_STRING8 ? string8_to_utf8(s, n) : g_strndup(s, n);
	if (!u)
		return 1; /* not text in any code page we know: not a name we can use */
	switch (id) {
	case PID_DISPLAY_NAME:
		if (!o->rec.display_name)
			gs_record_set(&o->rec.display_name, u, -1);
		break;
	case PID_SMTP_ADDRESS:
		gs_record_add_address(&o->rec, u, -1, 1);
		break;
	case PID_ACCOUNT:
		if (!o->rec.alias) {
			gs_record_set(&o->rec.alias, u, -1);
			gs_record_set(&o->rec.name, u, -1);
		}
		break;
	case PID_PROXY_ADDRESSES:
		/* "SMTP:" marks the primary; X500:, SIP:, X400: are dropped */
		gs_record_add_address(&o->rec, u, -1, 0);
		break;
	}
	g_free(u);
	return 1;
}

static int
take_binary(oab_parser *o, cursor *c, uint32_t tag, const unsigned char *b, size_t n)
{
	uint16_t id = (uint16_t) (tag >> 16);

	if ((id == PID_AB_X509_CERTIFICATE || id == PID_USER_X509_CERTIFICATE) &&
	    o->rec.certs->len >= OAB_MAX_CERTS)
		return cursor_fail(c, "more than %d certificate values", OAB_MAX_CERTS);
	switch (id) {
	case PID_AB_X509_CERTIFICATE:
		gs_record_add_cert(&o->rec, "userCertificate", b, n);
		break;
	case PID_USER_X509_CERTIFICATE:
		gs_record_add_cert(&o->rec, "userSMIMECertificate", b, n);
		break;
	}
	return 1;
}

static void
take_int(oab_parser *o, uint32_t tag, uint32_t v)
{
	if (tag == ((uint32_t) PID_DISPLAY_TYPE << 16 | PT_LONG))
		o->display_type = (int) MIN(v, (uint32_t) INT_MAX);
	else if (tag == ((uint32_t) PID_OBJECT_TYPE << 16 | PT_LONG))
		o->object_type = (int) MIN(v, (uint32_t) INT_MAX);
}

/* One value of `tag`'s base type; `o` NULL checks without taking. */
static int
one_value(oab_parser *o, cursor *c, uint32_t tag, uint32_t type)
{
	const unsigned char *b = NULL;
	const char *s = NULL;
	uint32_t v = 0;
	size_t n = 0;

	switch (type) {
	case PT_LONG:
		if (!get_int(c, &v))
			return 0;
		if (o)
			take_int(o, tag, v);
		return 1;
	case PT_BOOLEAN:
		if (c->off >= c->len)
			return cursor_fail(c, "boolean at byte %" G_GUINT64_FORMAT
					   " past the end of the record", cursor_at(c));
		c->off++;
		return 1;
	case PT_STRING8:
	case PT_UNICODE:
		if (!get_string(c, &s, &n))
			return 0;
		return o ? take_string(o, c, tag, s, n) : 1;
	case PT_BINARY:
		if (!get_binary(c, &b, &n))
			return 0;
		return o ? take_binary(o, c, tag, b, n) : 1;
	}
	return cursor_fail(c, "property 0x%08" G_GINT32_MODIFIER "X has a type this format does not define",
			   tag);
}

/* Walk the values of one record (after its cbSize) along `t`. With `o`,
 * the values we know go into o->rec. */
static int
walk_record(oab_parser *o, const oab_table *t, cursor *c)
{
	size_t nbits = ((size_t) t->n + 7) / 8;
	const unsigned char *presence = c->p;
	uint32_t i, k;

	if (c->len < nbits)
		return cursor_fail(c, "record of %zu bytes is shorter than its presence bit array (%zu bytes)",
				   c->len + 4, nbits);
	c->off = nbits;
	for (i = 0; i < t->n; i++) {
		uint32_t tag = t->tags[i], type = tag & 0xFFFFu, base = type & ~MV_FLAG, count;

		if (!(presence[i / 8] & (0x80u >> (i % 8))))
			continue;
		if (base != PT_LONG && base != PT_STRING8 && base != PT_UNICODE && base != PT_BINARY &&
		    type != PT_BOOLEAN)
			return cursor_fail(c, "property 0x%08" G_GINT32_MODIFIER "X has type 0x%04" G_GINT32_MODIFIER
					   "X, which this format does not define", tag, type);
		if (!(type & MV_FLAG)) {
			if (!one_value(o, c, tag, type))
				goto bad;
			continue;
		}
		{
			uint64_t at = cursor_at(c);

			if (!get_int(c, &count))
				goto bad;
			/* every value takes at least one byte: a count beyond the
			 * bytes left is a lie, found before any work is done for it */
			if (count > c->len - c->off)
				return cursor_fail(c, "property 0x%08" G_GINT32_MODIFIER "X: count %" G_GUINT32_FORMAT
						   " at byte %" G_GUINT64_FORMAT " runs past the end of the record"
						   " (%zu bytes left)", tag, count, at, c->len - c->off);
		}
		for (k = 0; k < count; k++)
			if (!one_value(o, c, tag, base)) {
				char *why = c->why;
				c->why = g_strdup_printf("property 0x%08" G_GINT32_MODIFIER "X value %" G_GUINT32_FORMAT
							 ": %s", tag, k + 1, why);
				g_free(why);
				return 0;
			}
	}
	return 1;
bad:
	{
		char *why = c->why;
		c->why = g_strdup_printf("property 0x%08" G_GINT32_MODIFIER "X: %s", t->tags[i], why);
		g_free(why);
	}
	return 0;
}

/* Read up to n bytes; returns how many came (short only at the end). */
static ssize_t
read_upto(oab_parser *o, void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = gs_reader_read(o->r, p + got, n - got);
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t) k;
	}
	o->pos += got;
	return (ssize_t) got;
}

static gs_status
io_fail(oab_parser *o, char **errmsg)
{
	return gs_fail(errmsg, GS_E_IO, "%s: %s", gs_reader_name(o->r),
		       g_strerror(gs_reader_error(o->r) ? gs_reader_error(o->r) : EIO));
}

/* Read the record starting here (its u32 size first) into o->buf, the
 * size field excluded. `what` names it in messages. Returns GS_OK,
 * GS_E_NOT_FOUND at a clean end of file (only when `eof_ok`), or a
 * failure. */
static gs_status
read_record(oab_parser *o, const char *what, size_t min, int eof_ok, char **errmsg)
{
	const char *name = gs_reader_name(o->r);
	uint64_t start = o->pos, size = gs_reader_size(o->r);
	unsigned char hdr[4];
	ssize_t got;
	uint32_t cb;
	size_t want;

	if ((got = read_upto(o, hdr, 4)) < 0)
		return io_fail(o, errmsg);
	if (got == 0 && eof_ok)
		return GS_E_NOT_FOUND;
	if (got < 4)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
			       ": truncated file: %s ends inside its size field", name, start, what);
	cb = le32(hdr);
	if (cb < 4 + min)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
			       ": %s: size %" G_GUINT32_FORMAT " is too small (at least %zu)", name, start,
			       what, cb, 4 + min);
	if (cb > GS_MAX_RECORD)
		return gs_fail(errmsg, GS_E_LIMIT, "%s: byte %" G_GUINT64_FORMAT
			       ": %s: size %" G_GUINT32_FORMAT " is over the limit of %zu bytes", name, start,
			       what, cb, GS_MAX_RECORD);
	/* a regular file tells its size: refuse a forged size before
	 * reading (and growing the buffer) towards it */
	if (size && cb > size - MIN(size, start))
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
			       ": truncated file: %s claims %" G_GUINT32_FORMAT " bytes, %" G_GUINT64_FORMAT
			       " left", name, start, what, cb, size - MIN(size, start));
	/* grow with the bytes that actually arrive, not with the claim */
	want = cb - 4;
	g_byte_array_set_size(o->buf, 0);
	while (o->buf->len < want) {
		size_t chunk = MIN(want - o->buf->len, (size_t) 1 << 20), old = o->buf->len;

		g_byte_array_set_size(o->buf, (guint) (old + chunk));
		got = read_upto(o, o->buf->data + old, chunk);
		if (got < 0)
			return io_fail(o, errmsg);
		if ((size_t) got < chunk)
			return gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
				       ": truncated file: %s claims %" G_GUINT32_FORMAT " bytes, %zu there",
				       name, start, what, cb, 4 + old + (size_t) got);
	}
	return GS_OK;
}

static int
read_table(cursor *c, oab_table *t, const char *which)
{
	uint32_t n, i;

	if (c->len - c->off < 4)
		return cursor_fail(c, "metadata ends before the %s property table", which);
	n = le32(c->p + c->off);
	c->off += 4;
	/* 8 bytes per property, all inside the metadata record already read */
	if (n > (c->len - c->off) / 8)
		return cursor_fail(c, "%s property table claims %" G_GUINT32_FORMAT
				   " properties, the metadata record has room for %zu", which, n,
				   (c->len - c->off) / 8);
	t->n = n;
	t->tags = g_new(uint32_t, n ? n : 1);
	for (i = 0; i < n; i++) {
		t->tags[i] = le32(c->p + c->off);
		c->off += 8; /* the flags say what Outlook indexes: not our business */
	}
	return 1;
}

static gs_status
parse_header(oab_parser *o, uint32_t *total, char **errmsg)
{
	const char *name = gs_reader_name(o->r);
	unsigned char h[12];
	ssize_t got;
	uint32_t version;

	if ((got = read_upto(o, h, sizeof h)) < 0)
		return io_fail(o, errmsg);
	if (got < (ssize_t) sizeof h)
		return gs_fail(errmsg, GS_E_MALFORMED,
			       "%s: byte 0: truncated file: the OAB header needs 12 bytes, %zd there", name, got);
	version = le32(h);
	if (version != OAB_V4_FULL_DETAILS)
		return gs_fail(errmsg, GS_E_MALFORMED,
			       "%s: byte 0: version 0x%08" G_GINT32_MODIFIER "X is not an OAB version 4 full details "
			       "file (udetails.oab, decompressed)", name, version);
	*total = le32(h + 8);
	return GS_OK;
}

static gs_status
parse_metadata(oab_parser *o, char **errmsg)
{
	uint64_t start = o->pos;
	cursor c = { 0 };
	gs_status rc;

	/* two cAtts */
	if ((rc = read_record(o, "the metadata record", 8, 0, errmsg)) != GS_OK)
		return rc;
	c.p = o->buf->data;
	c.len = o->buf->len;
	c.base = start + 4;
	if (!read_table(&c, &o->hdr, "header record's") || !read_table(&c, &o->obj, "object records'")) {
		rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT ": %s",
			     gs_reader_name(o->r), start, c.why);
		g_free(c.why);
		return rc;
	}
	return GS_OK;
}

gs_status
gs_parse_oab(gs_import_state *st, gs_reader *r, char **errmsg)
{
	oab_parser o = { 0 };
	const char *name = gs_reader_name(r);
	uint32_t total = 0, done, named = 0, skipped = 0;
	gs_status rc;
	cursor c;
	uint64_t start;

	o.st = st;
	o.r = r;
	o.buf = g_byte_array_new();
	gs_record_init(&o.rec);

	if ((rc = parse_header(&o, &total, errmsg)) != GS_OK ||
	    (rc = parse_metadata(&o, errmsg)) != GS_OK)
		goto out;

	/* the header record: checked like the others, nothing taken */
	start = o.pos;
	if ((rc = read_record(&o, "the header record", 0, 0, errmsg)) != GS_OK)
		goto out;
	memset(&c, 0, sizeof c);
	c.p = o.buf->data;
	c.len = o.buf->len;
	c.base = start + 4;
	if (!walk_record(NULL, &o.hdr, &c)) {
		char where[160];

		g_snprintf(where, sizeof where, "%s: byte %" G_GUINT64_FORMAT, name, start);
		rc = gs_import_bad(st, where, errmsg, "header record: %s", c.why);
		g_free(c.why);
		if (rc != GS_OK)
			goto out;
	}

	for (done = 0; done < total; done++) {
		char what[64];

		start = o.pos;
		g_snprintf(what, sizeof what, "object record %" G_GUINT32_FORMAT " of %" G_GUINT32_FORMAT,
			   done + 1, total);
		rc = read_record(&o, what, 0, 1, errmsg);
		if (rc == GS_E_NOT_FOUND) {
			rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
				     ": truncated file: the header announces %" G_GUINT32_FORMAT
				     " object records, the file ends after %" G_GUINT32_FORMAT,
				     name, start, total, done);
			goto out;
		}
		if (rc != GS_OK)
			goto out;

		gs_record_clear(&o.rec);
		g_snprintf(o.rec.where, sizeof o.rec.where, "%s: byte %" G_GUINT64_FORMAT, name, start);
		o.display_type = o.object_type = -1;
		memset(&c, 0, sizeof c);
		c.p = o.buf->data;
		c.len = o.buf->len;
		c.base = start + 4;
		if (!walk_record(&o, &o.obj, &c)) {
			rc = gs_import_bad(st, o.rec.where, errmsg, "%s: %s", what, c.why);
			g_free(c.why);
			if (rc != GS_OK)
				goto out;
			skipped++;
			continue;
		}
		gs_record_set(&o.rec.kind, kind_name(o.display_type, o.object_type), -1);
		if (gs_record_has_content(&o.rec))
			named++;
		if ((rc = gs_import_record(st, &o.rec, errmsg)) != GS_OK)
			goto out;
		gs_import_progress(st, r);
	}

	/* anything after the last record means the count is wrong, or the
	 * file is something else: either way we are not reading it right */
	{
		unsigned char extra;
		ssize_t got = read_upto(&o, &extra, 1);

		if (got < 0) {
			rc = io_fail(&o, errmsg);
			goto out;
		}
		if (got > 0)
			rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: byte %" G_GUINT64_FORMAT
				     ": data after the %" G_GUINT32_FORMAT
				     " object records the header announces", name, o.pos - 1, total);
	}
	/* a snapshot replaces the source: an empty address book, or one
	 * whose every record was bad, must not empty it */
	if (rc == GS_OK) {
		char why[64];

		g_snprintf(why, sizeof why, "%" G_GUINT32_FORMAT " object records", total);
		rc = gs_import_check_named(r, named, skipped, why, errmsg);
	}
out:
	gs_record_dispose(&o.rec);
	g_free(o.hdr.tags);
	g_free(o.obj.tags);
	g_byte_array_unref(o.buf);
	return rc;
}
