/* json.c: the JSON importer. Reads what ConvertTo-Json writes (an array
 * of objects, indented or -Compress), a single object, and JSON Lines (one
 * object per line), the array wrapped as {"value": [...], "Count": n}
 * (Windows PowerShell 5.1, the Exchange admin API), as a stream through yajl's callbacks: one record in
 * memory at a time.
 *
 * yajl gives neither line numbers nor limits: it keeps a token that spans
 * two yajl_parse() calls in a buffer that grows without bound, and its
 * nesting stack grows without bound too. So the bytes go through a small
 * scanner first. It counts lines, bounds the nesting and the size of every
 * token (a string past the limit is cut: yajl sees its first 16 MiB and
 * the record is reported), and feeds yajl in pieces that end at every
 * newline and every opening brace, so a callback knows the line it is on.
 *
 * A syntax error stops the import, except in JSON Lines under skip_bad:
 * there the rest of the line is dropped and reading starts again at the
 * next line that begins with '{'. In an array there is nothing to start
 * again from. */
#include "import.h"

#include <stdarg.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define JSON_MAX_DEPTH 64                    /* ConvertTo-Json -Depth 5 needs 5 */
#define JSON_MAX_VALUE ((size_t) 16 << 20)   /* one string or byte array */
#define JSON_MAX_BARE 1024                   /* one number or literal */
/* yajl lexes a token that spans calls again from its start on every call:
 * big pieces keep a long string from costing (length / piece)^2 */
#define JSON_CHUNK ((size_t) 1 << 20)
/* beyond this column a location also gives the byte offset (-Compress
 * writes everything on one line) */
#define JSON_MAX_COLUMN 1000

/* ---- values of the properties we read, as a small tree ---- */

typedef enum { JV_NULL, JV_BOOL, JV_INT, JV_DOUBLE, JV_STRING, JV_ARRAY, JV_OBJECT } jv_type;

typedef struct jv jv;
struct jv {
	jv_type type;
	char *key;              /* the member's name, inside an object */
	char *str;              /* JV_STRING: NUL-terminated copy */
	size_t len;
	long long num;          /* JV_INT */
	GPtrArray *items;       /* JV_ARRAY, JV_OBJECT: jv* */
	GByteArray *bytes;      /* JV_ARRAY of integers: what ConvertTo-Json makes of byte[] */
	const char *bad;        /* why the value cannot be used, or NULL */
	jv *parent;
};

static void
jv_free(jv *v)
{
	if (!v)
		return;
	g_free(v->key);
	g_free(v->str);
	if (v->items)
		g_ptr_array_unref(v->items);
	if (v->bytes)
		g_byte_array_unref(v->bytes);
	g_free(v);
}

static jv *
jv_new(jv_type type)
{
	jv *v = g_new0(jv, 1);

	v->type = type;
	if (type == JV_ARRAY || type == JV_OBJECT)
		v->items = g_ptr_array_new_with_free_func((GDestroyNotify) jv_free);
	return v;
}

static const char *
jv_what(const jv *v)
{
	switch (v->type) {
	case JV_NULL: return "null";
	case JV_BOOL: return "a boolean";
	case JV_INT:
	case JV_DOUBLE: return "a number";
	case JV_STRING: return "a string";
	case JV_ARRAY: return "an array";
	case JV_OBJECT: return "an object";
	}
	return "?";
}

/* An array of integers (a byte[]), possibly empty. */
static int
jv_is_bytes(const jv *v)
{
	return v->type == JV_ARRAY && v->items->len == 0;
}

/* The member of an object called `name` (case-insensitively). */
static jv *
jv_member(const jv *v, const char *name)
{
	guint i;

	for (i = 0; v->type == JV_OBJECT && i < v->items->len; i++) {
		jv *m = v->items->pdata[i];
		if (m->key && !g_ascii_strcasecmp(m->key, name))
			return m;
	}
	return NULL;
}

/* ---- the parser ---- */

typedef struct jp {
	gs_import_state *st;
	gs_reader *r;
	char **errmsg;
	gs_status rc;              /* the first failure: stops everything */
	yajl_handle h;
	unsigned long named;       /* entries handed to the driver with something to call them by */
	unsigned long skipped;     /* reported bad and skipped */

	/* the scanner, ahead of yajl */
	unsigned long line;        /* of the byte being scanned */
	uint64_t off;              /* its offset in the text */
	uint64_t line_off;         /* where its line starts */
	unsigned long content_line; /* of the last byte that is not blank */
	int line_blank;            /* nothing but blanks before it on its line */
	unsigned depth;
	int top_array;             /* the current top-level value is an array */
	int in_string;
	int esc;                   /* 1 after '\\', 2-5 inside \uXXXX */
	size_t tok_len;            /* bytes of the current string or bare token */
	int cutting;               /* the current string is past the limit: not fed */
	int seen;                  /* anything but blanks */
	int resync;                /* 1: drop the rest of the line, 2: at a line start */
	size_t resume;             /* where the scanner goes on after an error */

	/* where the piece being fed ends: what the callbacks call "here" */
	unsigned long feed_line;
	uint64_t feed_col, feed_off;
	int cut;                   /* the next string yajl reports was cut */

	/* the callbacks */
	unsigned cdepth;           /* open containers, as yajl reports them */
	int cb_top_array;
	/* a top-level {"value": [...], "Count": n}: Windows PowerShell 5.1's
	 * ConvertTo-Json -InputObject and the Exchange admin API wrap the
	 * array so; its items are the records, its other members ignored */
	int wrap_key;              /* the record's key just read is "value" */
	int in_wrapper;            /* inside such an object */
	int wrap_array;            /* inside its "value" array */
	int skipping;              /* inside a value that is ignored ... */
	unsigned skip_depth;       /* ... until cdepth comes back to this */
	int in_record;
	unsigned rec_depth;        /* cdepth inside the record's braces */
	int rec_bad;               /* the record was reported: the rest is ignored */
	gs_record rec;
	gs_prop prop;              /* the property whose value comes next */
	jv *tree, *cur;            /* its value, while it is being built */
	char *key;                 /* the member name inside the tree */
} jp;

static void
here(jp *p, char *buf, size_t size, unsigned long line, uint64_t col, uint64_t off)
{
	if (col <= JSON_MAX_COLUMN)
		g_snprintf(buf, size, "%s:%lu", gs_reader_name(p->r), line);
	else
		g_snprintf(buf, size, "%s:%lu (byte %" G_GUINT64_FORMAT ")", gs_reader_name(p->r), line, off);
}

static void
fail_bad(jp *p, gs_status rc)
{
	if (rc == GS_OK)
		p->skipped++;
	else if (p->rc == GS_OK)
		p->rc = rc;
}

/* The record is malformed: report it now (skip_bad: counted, and the rest
 * of it is ignored; otherwise the import stops). */
static void record_bad(jp *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
record_bad(jp *p, const char *fmt, ...)
{
	va_list ap;

	if (p->rec_bad || p->rc != GS_OK)
		return;
	p->rec_bad = 1;
	va_start(ap, fmt);
	fail_bad(p, gs_import_vbad(p->st, p->rec.where, p->errmsg, fmt, ap));
	va_end(ap);
	if (p->tree) {
		/* drop the value being built; ignore the rest of it */
		jv_free(p->tree);
		p->tree = p->cur = NULL;
		g_free(p->key);
		p->key = NULL;
		p->skipping = 1;
		p->skip_depth = p->rec_depth;
	}
}

/* Something at the top that is not a record. */
static void
element_bad(jp *p, const char *what)
{
	char where[128];

	here(p, where, sizeof where, p->feed_line, p->feed_col, p->feed_off);
	fail_bad(p, gs_import_bad(p->st, where, p->errmsg,
				  "expected an object (a directory entry), found %s", what));
}

static int
keep(jp *p, size_t n)
{
	if (gs_record_keep(&p->rec, n))
		return 1;
	record_bad(p, "entry larger than %zu MiB", GS_MAX_RECORD >> 20);
	return 0;
}

/* ---- what the values mean ---- */

static void
set_string(jp *p, gs_prop prop, char **field, const jv *v)
{
	char num[32];

	switch (v->type) {
	case JV_NULL: break;
	case JV_STRING:
		if (v->bad)
			record_bad(p, "%s: %s", gs_prop_name(prop), v->bad);
		else
			gs_record_set(field, v->str, (ssize_t) v->len);
		break;
	case JV_INT:
		/* ConvertTo-Json writes enums (RecipientType) as their number */
		g_snprintf(num, sizeof num, "%lld", v->num);
		gs_record_set(field, num, -1);
		break;
	default:
		record_bad(p, "%s: expected a string, found %s", gs_prop_name(prop), jv_what(v));
	}
}

/* An address given as text, or as the ProxyAddress / SmtpAddress object
 * ConvertTo-Json makes of one. NULL when the value holds none. */
static const jv *
address_of(const jv *v)
{
	static const char *const members[] = { "ProxyAddressString", "SmtpAddress", "AddressString", "Address" };
	size_t i;

	if (v->type == JV_STRING)
		return v;
	for (i = 0; v->type == JV_OBJECT && i < G_N_ELEMENTS(members); i++) {
		const jv *m = jv_member(v, members[i]);
		if (m && m->type == JV_STRING)
			return m;
	}
	return NULL;
}

/* PrimarySmtpAddress and ExternalEmailAddress: kept until the record ends,
 * so that the primary comes first whatever the order of the properties. */
static void
take_address(jp *p, gs_prop prop, char **slot, const jv *v)
{
	const jv *a;

	if (v->type == JV_NULL)
		return;
	if (!(a = address_of(v))) {
		record_bad(p, "%s: expected an address, found %s", gs_prop_name(prop), jv_what(v));
		return;
	}
	if (a->bad) {
		record_bad(p, "%s: %s", gs_prop_name(prop), a->bad);
		return;
	}
	g_free(*slot);
	*slot = g_strndup(a->str, a->len);
}

/* Every address in a string: ConvertTo-Json below its -Depth writes a
 * collection as its items joined by spaces. */
static void
add_address_words(jp *p, const char *s, size_t len)
{
	if (!gs_record_add_addresses(&p->rec, s, len, ""))
		record_bad(p, "more than %d addresses", GS_MAX_RECORD_VALUES);
}

static void
add_addresses(jp *p, const jv *v, int wrapped)
{
	const jv *a, *inner;
	guint i;

	if (v->type == JV_NULL)
		return;
	if (v->type == JV_ARRAY && !jv_is_bytes(v)) {
		for (i = 0; i < v->items->len && !p->rec_bad; i++) {
			const jv *item = v->items->pdata[i];
			if (item->type == JV_NULL)
				continue;
			if (!(a = address_of(item)))
				record_bad(p, "EmailAddresses: item %u: expected an address, found %s", i + 1,
					   jv_what(item));
			else if (a->bad)
				record_bad(p, "EmailAddresses: item %u: %s", i + 1, a->bad);
			else
				add_address_words(p, a->str, a->len);
		}
		return;
	}
	if (v->type == JV_ARRAY)
		return; /* [] */
	/* Windows PowerShell wraps some arrays: {"value": [...], "Count": n} */
	if (!wrapped && v->type == JV_OBJECT && (inner = jv_member(v, "value"))) {
		add_addresses(p, inner, 1);
		return;
	}
	if (!(a = address_of(v)))
		record_bad(p, "EmailAddresses: expected addresses, found %s", jv_what(v));
	else if (a->bad)
		record_bad(p, "EmailAddresses: %s", a->bad);
	else
		add_address_words(p, a->str, a->len);
}

static void
add_cert_value(jp *p, gs_prop prop, const char *attr, const jv *v, unsigned n)
{
	const char *what = gs_prop_name(prop), *why = NULL;

	if (v->type != JV_NULL && p->rec.certs->len >= GS_MAX_RECORD_VALUES) {
		record_bad(p, "more than %d certificate values", GS_MAX_RECORD_VALUES);
		return;
	}
	switch (v->type) {
	case JV_NULL:
		return;
	case JV_STRING:
		if (v->bad || (v->len && (why = gs_record_add_cert_text(&p->rec, attr, v->str, v->len))))
			record_bad(p, "%s value %u: %s", what, n, v->bad ? v->bad : why);
		return;
	case JV_ARRAY:
		if (!jv_is_bytes(v))
			break;
		if (v->bad)
			record_bad(p, "%s value %u: %s", what, n, v->bad);
		else if (v->bytes && v->bytes->len)
			gs_record_add_cert(&p->rec, attr, v->bytes->data, v->bytes->len);
		return;
	default:
		break;
	}
	record_bad(p, "%s value %u: expected base64 text or an array of bytes, found %s", what, n,
		   jv_what(v));
}

static void
add_certs(jp *p, gs_prop prop, const jv *v, int wrapped)
{
	const char *attr = gs_prop_attribute(prop);
	const jv *inner;
	guint i;

	if (v->type == JV_ARRAY && !jv_is_bytes(v)) {
		if (v->bad) {
			record_bad(p, "%s: %s", gs_prop_name(prop), v->bad);
			return;
		}
		for (i = 0; i < v->items->len && !p->rec_bad; i++)
			add_cert_value(p, prop, attr, v->items->pdata[i], i + 1);
		return;
	}
	if (!wrapped && v->type == JV_OBJECT && (inner = jv_member(v, "value"))) {
		add_certs(p, prop, inner, 1);
		return;
	}
	/* one value instead of an array of them */
	add_cert_value(p, prop, attr, v, 1);
}

static void
apply(jp *p, gs_prop prop, const jv *v)
{
	switch (prop) {
	case GS_PROP_NAME: set_string(p, prop, &p->rec.name, v); break;
	case GS_PROP_ALIAS: set_string(p, prop, &p->rec.alias, v); break;
	case GS_PROP_DISPLAY: set_string(p, prop, &p->rec.display_name, v); break;
	case GS_PROP_KIND: set_string(p, prop, &p->rec.kind, v); break;
	case GS_PROP_PRIMARY: take_address(p, prop, &p->rec.primary, v); break;
	case GS_PROP_EXTERNAL: take_address(p, prop, &p->rec.external, v); break;
	case GS_PROP_ADDRESSES: add_addresses(p, v, 0); break;
	case GS_PROP_UCERT:
	case GS_PROP_SMIME: add_certs(p, prop, v, 0); break;
	default: break;
	}
}

/* ---- records ---- */

static void
record_reset(jp *p)
{
	gs_record_clear(&p->rec);
	jv_free(p->tree);
	p->tree = p->cur = NULL;
	g_free(p->key);
	p->key = NULL;
	p->in_record = p->rec_bad = 0;
	p->prop = GS_PROP_NONE;
}

static void
record_end(jp *p)
{
	if (!p->rec_bad) {
		gs_record_add_held(&p->rec);
		if (gs_record_has_content(&p->rec))
			p->named++;
		if (p->rc == GS_OK)
			p->rc = gs_import_record(p->st, &p->rec, p->errmsg);
	}
	gs_import_progress(p->st, p->r);
	record_reset(p);
}

/* ---- yajl's callbacks ---- */

/* A value (scalar, or the start of a container) as yajl reports it.
 * Takes `v`. Returns whether yajl should go on. */
static int
value(jp *p, jv *v)
{
	int container = v->type == JV_ARRAY || v->type == JV_OBJECT;

	if (p->rc != GS_OK) {
		jv_free(v);
		return 0;
	}
	if (p->skipping) {
		jv_free(v);
		goto out;
	}
	if (!p->in_record) {
		if (p->cdepth == 0 && v->type == JV_ARRAY) {
			p->cb_top_array = 1;
		} else if (v->type == JV_OBJECT && (p->cdepth == 0 || (p->cdepth == 1 && p->cb_top_array) ||
						    (p->cdepth == 2 && p->wrap_array))) {
			p->in_record = 1;
			p->rec_depth = p->cdepth + 1;
			/* the scanner fed the opening brace alone: this is its place */
			here(p, p->rec.where, sizeof p->rec.where, p->feed_line, p->feed_col, p->feed_off);
		} else if (p->in_wrapper && p->cdepth == 1) {
			/* "Count" and the like beside the wrapped array */
			if (container) {
				p->skipping = 1;
				p->skip_depth = p->cdepth;
			}
		} else {
			element_bad(p, jv_what(v));
			if (container) {
				p->skipping = 1;
				p->skip_depth = p->cdepth;
			}
		}
		jv_free(v);
		goto out;
	}
	if (!p->tree && p->wrap_key && v->type == JV_ARRAY) {
		/* the top-level object is a wrapper, not a record: what it held
		 * besides "value" is ignored, its array's objects are records */
		record_reset(p);
		p->in_wrapper = p->wrap_array = 1;
		jv_free(v);
		goto out;
	}
	p->wrap_key = 0;
	if (!p->tree) {
		/* the value of a property */
		if (p->rec_bad || p->prop == GS_PROP_NONE) {
			if (container) {
				p->skipping = 1;
				p->skip_depth = p->cdepth;
			}
			jv_free(v);
			goto out;
		}
		if (!container) {
			if (keep(p, sizeof *v + v->len))
				apply(p, p->prop, v);
			jv_free(v);
			p->prop = GS_PROP_NONE;
			goto out;
		}
		if (!keep(p, sizeof *v)) {
			jv_free(v);
			goto skip;
		}
		p->tree = p->cur = v;
		goto out;
	}
	/* inside the value being built (byte[] items went to add_byte()) */
	if (!keep(p, sizeof *v + v->len)) {
		jv_free(v);
		goto skip;
	}
	if (p->cur->type == JV_ARRAY) {
		if (p->cur->bytes || v->type == JV_INT) {
			if (!p->cur->bad)
				p->cur->bad = "an array mixing numbers and other values";
			jv_free(v);
			if (container)
				goto skip;
			goto out;
		}
	} else {
		v->key = p->key;
		p->key = NULL;
	}
	v->parent = p->cur;
	g_ptr_array_add(p->cur->items, v);
	if (container)
		p->cur = v;
	goto out;
skip:
	if (container && !p->skipping) {
		p->skipping = 1;
		p->skip_depth = p->cdepth;
	}
out:
	if (container)
		p->cdepth++;
	return p->rc == GS_OK;
}

static int
end_container(jp *p)
{
	if (p->rc != GS_OK)
		return 0;
	if (p->cdepth > 0)
		p->cdepth--;
	if (p->skipping) {
		if (p->cdepth == p->skip_depth)
			p->skipping = 0;
		return 1;
	}
	if (p->tree) {
		p->cur = p->cur->parent;
		if (!p->cur) {
			jv *t = p->tree;
			p->tree = NULL;
			apply(p, p->prop, t);
			jv_free(t);
			p->prop = GS_PROP_NONE;
		}
	} else if (p->in_record && p->cdepth + 1 == p->rec_depth) {
		record_end(p);
	} else if (p->wrap_array && p->cdepth == 1) {
		p->wrap_array = 0;
	} else if (p->cdepth == 0) {
		p->cb_top_array = p->in_wrapper = 0;
	}
	return p->rc == GS_OK;
}

static int
cb_null(void *ctx)
{
	return value(ctx, jv_new(JV_NULL));
}

static int
cb_boolean(void *ctx, int b)
{
	jv *v = jv_new(JV_BOOL);

	v->num = b;
	return value(ctx, v);
}

/* One integer of a byte[] being built: kept as a byte, not a node. */
static void
add_byte(jp *p, long long n)
{
	jv *a = p->cur;

	if (!a->bytes)
		a->bytes = g_byte_array_new();
	if (a->bad)
		return;
	if (n < 0 || n > 255) {
		a->bad = "a byte value out of 0..255";
	} else if (a->bytes->len >= JSON_MAX_VALUE) {
		a->bad = "byte array larger than 16 MiB";
	} else if (keep(p, 1)) {
		guint8 b = (guint8) n;
		g_byte_array_append(a->bytes, &b, 1);
	}
}

static int
cb_integer(void *ctx, long long n)
{
	jp *p = ctx;
	jv *v;

	if (p->rc == GS_OK && !p->skipping && p->tree && p->cur->type == JV_ARRAY &&
	    p->cur->items->len == 0) {
		add_byte(p, n);
		return p->rc == GS_OK;
	}
	v = jv_new(JV_INT);
	v->num = n;
	return value(p, v);
}

static int
cb_double(void *ctx, double d)
{
	(void) d;
	return value(ctx, jv_new(JV_DOUBLE));
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	jp *p = ctx;
	jv *v = jv_new(JV_STRING);
	int cut = p->cut;

	p->cut = 0;
	if (cut) {
		v->bad = "value larger than 16 MiB";
	} else if (p->in_record && !p->skipping && !p->rec_bad && p->prop != GS_PROP_NONE) {
		/* copied only when it is kept */
		v->str = g_strndup((const char *) s, len);
		v->len = len;
	}
	return value(p, v);
}

static int
cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	jp *p = ctx;
	int cut = p->cut;

	p->cut = 0;
	if (p->rc != GS_OK)
		return 0;
	if (p->skipping || !p->in_record || p->rec_bad)
		return 1;
	if (cut) {
		record_bad(p, "a property name larger than 16 MiB");
		return p->rc == GS_OK;
	}
	if (p->tree) {
		if (!keep(p, len + 1))
			return p->rc == GS_OK;
		g_free(p->key);
		p->key = g_strndup((const char *) key, len);
		return 1;
	}
	p->prop = gs_prop_lookup((const char *) key, len);
	p->wrap_key = p->rec_depth == 1 && p->cdepth == 1 && len == 5 && !memcmp(key, "value", 5);
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return value(ctx, jv_new(JV_OBJECT));
}

static int
cb_start_array(void *ctx)
{
	return value(ctx, jv_new(JV_ARRAY));
}

static int
cb_end(void *ctx)
{
	return end_container(ctx);
}

static const yajl_callbacks callbacks = {
	cb_null, cb_boolean, cb_integer, cb_double, NULL, cb_string,
	cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end,
};

/* ---- feeding yajl ---- */

static void
parser_reset(jp *p)
{
	if (p->h)
		yajl_free(p->h);
	p->h = yajl_alloc(&callbacks, NULL, p);
	yajl_config(p->h, yajl_allow_multiple_values, 1);
	record_reset(p);
	p->cdepth = 0;
	p->cb_top_array = p->skipping = p->cut = 0;
	p->wrap_key = p->in_wrapper = p->wrap_array = 0;
	p->depth = 0;
	p->top_array = p->in_string = p->esc = p->cutting = 0;
	p->tok_len = 0;
}

/* A syntax error (or a scanner limit) at text offset `off` on `line`. In
 * JSON Lines under skip_bad it is reported, the entry it is in skipped,
 * and p->resync set; otherwise the import stops. */
static void
syntax_error(jp *p, unsigned long line, uint64_t off, const char *why)
{
	char where[128];
	gs_status rc;

	if (p->rc != GS_OK)
		return;
	here(p, where, sizeof where, line, line == p->line ? off - p->line_off + 1 : 0, off);
	if (p->top_array || p->in_wrapper) {
		/* inside an array nothing tells where the next entry starts */
		p->rc = gs_fail(p->errmsg, GS_E_MALFORMED, "%s: %s", where, why);
		return;
	}
	if (p->in_record && !p->rec_bad)
		rc = gs_import_bad(p->st, where, p->errmsg, "%s (in the entry at %s)", why,
				   p->rec.where);
	else
		rc = gs_import_bad(p->st, where, p->errmsg, "%s", why);
	fail_bad(p, rc);
	if (rc != GS_OK)
		return;
	parser_reset(p);
	p->resync = 1;
}

/* Feed buf[from, to) to yajl; buf[i] is the byte being scanned (p->line,
 * p->off). Returns 0 to go on, or 1 when the scanner must go on at
 * p->resume instead (after a syntax error in JSON Lines) or stop (p->rc).
 * `brace`: the piece is an opening brace that begins its line; when that
 * brace is the error, the entry before it was cut short and reading
 * starts again at the brace. */
static int
feed(jp *p, const unsigned char *buf, size_t from, size_t to, size_t i, int brace)
{
	yajl_status s;
	unsigned char *e;
	char *why;

	if (p->rc != GS_OK)
		return 1;
	if (from >= to)
		return 0;
	/* a piece never holds a newline but as its last byte: its line is p->line */
	p->feed_line = p->line;
	p->feed_off = p->off + (to - 1) - i;
	p->feed_col = p->feed_off - p->line_off + 1;
	s = yajl_parse(p->h, buf + from, to - from);
	if (s == yajl_status_ok)
		return 0;
	if (s == yajl_status_client_canceled || p->rc != GS_OK)
		return 1;
	e = yajl_get_error(p->h, 0, NULL, 0);
	why = g_strdup_printf("invalid JSON: %s%s", g_strchomp((char *) e),
			      strstr((char *) e, "UTF8") ? " (is the file UTF-8?)" : "");
	yajl_free_error(p->h, e);
	/* buf[from] is at offset p->off - (i - from); yajl stopped near here */
	syntax_error(p, p->line, p->off - (i - from) + MIN(yajl_get_bytes_consumed(p->h), to - from), why);
	g_free(why);
	if (p->rc != GS_OK)
		return 1;
	if (brace) {
		p->resync = 0;
		p->resume = from;
	} else {
		p->resume = to;
		if (buf[to - 1] == '\n')
			p->resync = 2;
	}
	return 1;
}

static void
advance(jp *p, unsigned char c)
{
	p->off++;
	if (c == '\n') {
		p->line++;
		p->line_off = p->off;
		p->line_blank = 1;
	} else if (c != ' ' && c != '\t' && c != '\r') {
		p->line_blank = 0;
		p->content_line = p->line;
	}
}

/* One byte of a string; returns whether it closes the string. */
static int
string_byte(jp *p, unsigned char c)
{
	if (p->esc == 1) {
		p->esc = c == 'u' ? 2 : 0;
		return 0;
	}
	if (p->esc >= 2) {
		/* \uXXXX: four more */
		p->esc = p->esc == 5 ? 0 : p->esc + 1;
		return 0;
	}
	if (c == '\\') {
		p->esc = 1;
		return 0;
	}
	return c == '"';
}

/* After feed() asked for it: skip to p->resume. */
static void
redirect(jp *p, const unsigned char *buf, size_t *i, size_t *seg)
{
	if (p->rc != GS_OK)
		return; /* the loop stops */
	while (*i < p->resume)
		advance(p, buf[(*i)++]);
	*seg = *i;
}

#define IS_BLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* Scan buf[0, n) and feed it to yajl in pieces. */
static void
scan(jp *p, const unsigned char *buf, size_t n)
{
	size_t i = 0, seg = 0;

	while (i < n && p->rc == GS_OK) {
		unsigned char c = buf[i];

		if (p->resync) {
			/* JSON Lines after an error: the rest of the line goes, then
			 * every line until one that begins with '{' */
			if (p->resync == 2 && c == '{' && p->line_blank) {
				p->resync = 0;
				seg = i;
			} else {
				if (c == '\n')
					p->resync = 2;
				else if (!IS_BLANK(c))
					p->resync = 1;
				advance(p, c);
				seg = ++i;
				continue;
			}
		}
		if (p->in_string && !p->cutting && !p->esc && p->tok_len < JSON_MAX_VALUE) {
			/* the bulk of an export (base64 certificates): a run of
			 * plain string bytes, taken at once, up to the next quote,
			 * backslash or newline, or the value limit, whichever
			 * comes first; what follows takes the byte-by-byte path */
			size_t j = i, lim = n - i > JSON_MAX_VALUE - p->tok_len
						     ? i + (JSON_MAX_VALUE - p->tok_len) : n;
			int nonblank = 0;

			while (j < lim && buf[j] != '"' && buf[j] != '\\' && buf[j] != '\n') {
				nonblank |= buf[j] != ' ' && buf[j] != '\t' && buf[j] != '\r';
				j++;
			}
			if (j > i) {
				p->tok_len += j - i;
				p->off += j - i;
				if (nonblank) {
					p->line_blank = 0;
					p->content_line = p->line;
				}
				i = j;
				continue;
			}
		}
		if (p->in_string) {
			if (!p->cutting && !p->esc && c != '"' && p->tok_len >= JSON_MAX_VALUE &&
			    (c & 0xC0) != 0x80) {
				/* yajl gets the string up to here (whole characters,
				 * whole escapes) and its closing quote */
				if (feed(p, buf, seg, i, i, 0)) {
					redirect(p, buf, &i, &seg);
					continue;
				}
				p->cutting = p->cut = 1;
			}
			if (string_byte(p, c)) {
				p->in_string = 0;
				if (p->cutting) {
					p->cutting = 0;
					seg = i;
				}
			} else {
				p->tok_len++;
			}
			if (p->cutting) {
				advance(p, c);
				seg = ++i;
				continue;
			}
		} else if (c == '"') {
			if (p->depth == 0)
				p->top_array = 0;
			p->in_string = 1;
			p->esc = 0;
			p->tok_len = 0;
			p->seen = 1;
		} else if (c == '{' || c == '[') {
			/* (at depth 2 of an object: a wrapper's records, see wrap_key) */
			int record = c == '{' && (p->depth == 0 || (p->depth == 1 && p->top_array) ||
						  (p->depth == 2 && !p->top_array));
			int leading = c == '{' && p->line_blank;

			p->seen = 1;
			p->tok_len = 0;
			if (p->depth >= JSON_MAX_DEPTH) {
				if (feed(p, buf, seg, i, i, 0)) {
					redirect(p, buf, &i, &seg);
					continue;
				}
				syntax_error(p, p->line, p->off, "JSON nested deeper than " G_STRINGIFY(JSON_MAX_DEPTH) " levels");
				seg = i;
				continue;
			}
			if (p->depth == 0)
				p->top_array = c == '[';
			if (record || leading) {
				/* the brace alone, so that the callbacks know its place */
				if (feed(p, buf, seg, i, i, 0)) {
					redirect(p, buf, &i, &seg);
					continue;
				}
				p->depth++;
				if (feed(p, buf, i, i + 1, i, leading)) {
					redirect(p, buf, &i, &seg);
					continue;
				}
				advance(p, c);
				seg = ++i;
				continue;
			}
			p->depth++;
		} else if (c == '}' || c == ']') {
			if (p->depth > 0)
				p->depth--;
			p->tok_len = 0;
			p->seen = 1;
		} else if (c == ',' || c == ':' || IS_BLANK(c)) {
			p->tok_len = 0;
			p->seen |= !IS_BLANK(c);
		} else {
			/* a number or a literal (or garbage yajl will name) */
			if (p->depth == 0 && p->tok_len == 0)
				p->top_array = 0;
			p->seen = 1;
			if (++p->tok_len > JSON_MAX_BARE) {
				if (feed(p, buf, seg, i, i, 0)) {
					redirect(p, buf, &i, &seg);
					continue;
				}
				syntax_error(p, p->line, p->off, "a number or word longer than " G_STRINGIFY(JSON_MAX_BARE) " characters");
				seg = i;
				continue;
			}
		}
		if (c == '\n' && feed(p, buf, seg, i + 1, i, 0)) {
			redirect(p, buf, &i, &seg);
			continue;
		}
		advance(p, c);
		i++;
		if (c == '\n')
			seg = i;
	}
	/* the rest; an error in it leaves p->resync set for the next buffer */
	if (p->rc == GS_OK && !p->resync && !p->cutting)
		(void) feed(p, buf, seg, n, n, 0);
}

gs_status
gs_parse_json(gs_import_state *st, gs_reader *r, char **errmsg)
{
	unsigned char *buf = g_malloc(JSON_CHUNK);
	jp p = { 0 };
	ssize_t n;

	p.st = st;
	p.r = r;
	p.errmsg = errmsg;
	p.line = p.content_line = 1;
	p.line_blank = 1;
	gs_record_init(&p.rec);
	parser_reset(&p);
	while (p.rc == GS_OK && (n = gs_reader_read(r, buf, JSON_CHUNK)) > 0)
		scan(&p, buf, (size_t) n);
	if (p.rc == GS_OK)
		p.rc = gs_reader_status(r, errmsg);
	if (p.rc == GS_OK && !p.seen)
		p.rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: no JSON value in the file", gs_reader_name(r));
	if (p.rc == GS_OK && !p.resync && yajl_complete_parse(p.h) != yajl_status_ok && p.rc == GS_OK) {
		unsigned char *e = yajl_get_error(p.h, 0, NULL, 0);
		char *why = g_strdup_printf("invalid JSON: %s (is the file cut short?)", g_strchomp((char *) e));

		yajl_free_error(p.h, e);
		syntax_error(&p, p.content_line, p.off, why);
		g_free(why);
	}
	/* some other JSON file must not empty the source */
	if (p.rc == GS_OK)
		p.rc = gs_import_check_named(r, p.named, p.skipped,
					     "no object has Name, Alias, DisplayName, PrimarySmtpAddress, "
					     "EmailAddresses or a certificate", errmsg);
	record_reset(&p);
	gs_record_dispose(&p.rec);
	yajl_free(p.h);
	g_free(buf);
	return p.rc;
}
