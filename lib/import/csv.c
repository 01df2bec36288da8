/* csv.c: the CSV importer. A header row names the columns with the
 * property names of Get-Mailbox & co. (any case, any order; columns we do
 * not read are ignored), then one row per entry. Comma-separated, or ';'
 * or tab when the header row uses that (Excel writes ';' in many locales).
 * Quoted fields may hold the separator, doubled quotes and line breaks;
 * lines end in LF or CRLF. Multi-valued cells (EmailAddresses,
 * UserCertificate, UserSMIMECertificate) separate their values with ';';
 * certificates are base64. A "#TYPE ..." line before the header (what
 * Export-Csv writes without -NoTypeInformation) is skipped.
 *
 * libcsv streams but knows nothing of lines, and grows a field's buffer
 * without limit. So it is fed in pieces that end at each line break (a
 * row then knows the line it starts on), and it grows its buffer through
 * a realloc that refuses to pass the field limit. Its strict mode makes a
 * stray quote an error: after one, nothing tells where the next row
 * starts, so that error stops the import even under skip_bad. */
#include "import.h"

#include <csv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_FIELD ((size_t) 16 << 20)
#define CSV_MAX_COLUMNS 4096
#define CSV_BLOCK ((size_t) 64 << 10)
#define CSV_CHUNK ((size_t) 256 << 10)

typedef struct cp {
	gs_import_state *st;
	gs_reader *r;
	char **errmsg;
	gs_status rc;              /* the first failure: stops everything */
	struct csv_parser csv;
	unsigned char delim;
	unsigned long named;       /* entries handed to the driver with something to call them by */
	unsigned long skipped;     /* reported bad and skipped */

	unsigned long line;        /* of the piece being fed */
	int prev_cr;               /* the last piece ended in CR */
	int in_row;                /* libcsv is inside a row (its ROW_NOT_BEGUN, mirrored) */
	unsigned long row_line;    /* where that row starts */

	int have_header;
	int comment_row;           /* a '#' line before the header */
	GArray *cols;              /* gs_prop: the property of each column */
	unsigned known;            /* columns we read */

	unsigned nfields;          /* fields of the current row so far */
	int row_bad;               /* reported: the rest of the row is ignored */
	int row_empty;
	gs_record rec;
} cp;

/* libcsv grows a field one block at a time through this: past the limit
 * it gets NULL, halves its request down to nothing, and stops with
 * CSV_ENOMEM. */
static void *
bounded_realloc(void *ptr, size_t size)
{
	if (size > CSV_MAX_FIELD + 1)
		return NULL;
	return realloc(ptr, size);
}

static void row_bad(cp *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void
row_bad(cp *p, const char *fmt, ...)
{
	va_list ap;
	gs_status rc;

	if (p->row_bad || p->rc != GS_OK)
		return;
	p->row_bad = 1;
	va_start(ap, fmt);
	rc = gs_import_vbad(p->st, p->rec.where, p->errmsg, fmt, ap);
	va_end(ap);
	if (rc == GS_OK)
		p->skipped++;
	else
		p->rc = rc;
}

static void
add_addresses(cp *p, const char *s, size_t len)
{
	if (!gs_record_add_addresses(&p->rec, s, len, ";"))
		row_bad(p, "more than %d addresses", GS_MAX_RECORD_VALUES);
}

static void
add_certs(cp *p, gs_prop prop, const char *s, size_t len)
{
	const char *attr = gs_prop_attribute(prop), *why;
	size_t i = 0, start, end;
	unsigned n = 0;

	while (i < len && !p->row_bad) {
		start = i;
		while (i < len && s[i] != ';')
			i++;
		end = i++;
		while (start < end && g_ascii_isspace(s[start]))
			start++;
		while (end > start && g_ascii_isspace(s[end - 1]))
			end--;
		if (start == end)
			continue;
		n++;
		if (p->rec.certs->len >= GS_MAX_RECORD_VALUES)
			row_bad(p, "more than %d certificate values", GS_MAX_RECORD_VALUES);
		else if ((why = gs_record_add_cert_text(&p->rec, attr, s + start, end - start)))
			row_bad(p, "%s value %u: %s", gs_prop_name(prop), n, why);
	}
}

static void
cell(cp *p, gs_prop prop, const char *s, size_t len)
{
	char **field = NULL;

	switch (prop) {
	case GS_PROP_NAME: field = &p->rec.name; break;
	case GS_PROP_ALIAS: field = &p->rec.alias; break;
	case GS_PROP_DISPLAY: field = &p->rec.display_name; break;
	case GS_PROP_KIND: field = &p->rec.kind; break;
	case GS_PROP_PRIMARY: field = &p->rec.primary; break;
	case GS_PROP_EXTERNAL: field = &p->rec.external; break;
	case GS_PROP_ADDRESSES: add_addresses(p, s, len); return;
	case GS_PROP_UCERT:
	case GS_PROP_SMIME: add_certs(p, prop, s, len); return;
	default: return;
	}
	/* Excel saves "CSV" in the ANSI code page: say so rather than drop
	 * the names */
	if (!g_utf8_validate(s, (gssize) len, NULL)) {
		row_bad(p, "%s: not UTF-8 text (save the file as UTF-8)", gs_prop_name(prop));
		return;
	}
	gs_record_set(field, s, (ssize_t) len);
}

static void
row_reset(cp *p)
{
	gs_record_clear(&p->rec);
	p->row_bad = 0;
	p->row_empty = 1;
	p->nfields = 0;
}

static void
header_field(cp *p, const char *s, size_t len)
{
	char *name;
	gs_prop prop;

	if (p->nfields == 1 && len > 0 && s[0] == '#')
		p->comment_row = 1;
	if (p->comment_row || p->rc != GS_OK)
		return;
	if (p->cols->len >= CSV_MAX_COLUMNS) {
		p->rc = gs_fail(p->errmsg, GS_E_LIMIT, "%s:%lu: a header row of more than %d columns",
				gs_reader_name(p->r), p->row_line, CSV_MAX_COLUMNS);
		return;
	}
	name = g_strstrip(g_strndup(s, len));
	if ((prop = gs_prop_lookup(name, strlen(name))) != GS_PROP_NONE)
		p->known++;
	g_free(name);
	g_array_append_val(p->cols, prop);
}

/* libcsv: one field */
static void
on_field(void *s, size_t len, void *data)
{
	cp *p = data;
	unsigned col = p->nfields++;
	gs_prop prop;

	if (p->rc != GS_OK)
		return;
	if (!p->have_header) {
		header_field(p, s, len);
		return;
	}
	if (len > 0)
		p->row_empty = 0;
	if (p->row_bad || col >= p->cols->len || len == 0)
		return;
	prop = g_array_index(p->cols, gs_prop, col);
	if (prop == GS_PROP_NONE)
		return;
	if (!gs_record_keep(&p->rec, len))
		row_bad(p, "row larger than %zu MiB", GS_MAX_RECORD >> 20);
	else
		cell(p, prop, s, len);
}

/* libcsv: the end of a row */
static void
on_row(int c, void *data)
{
	cp *p = data;
	unsigned n = p->nfields;

	(void) c;
	p->in_row = 0;
	if (p->rc != GS_OK) {
		row_reset(p);
		return;
	}
	if (!p->have_header) {
		if (p->comment_row) {
			p->comment_row = 0;
		} else if (p->known == 0) {
			p->rc = gs_fail(p->errmsg, GS_E_MALFORMED,
					"%s:%lu: the header row names none of the columns galsmime reads "
					"(Name, Alias, DisplayName, PrimarySmtpAddress, EmailAddresses, "
					"UserCertificate, UserSMIMECertificate ...)",
					gs_reader_name(p->r), p->row_line);
		} else {
			p->have_header = 1;
		}
		if (!p->have_header)
			g_array_set_size(p->cols, 0);
		row_reset(p);
		return;
	}
	if (!p->row_empty && n != p->cols->len)
		row_bad(p, "%u fields where the header row has %u", n, p->cols->len);
	if (!p->row_bad && !p->row_empty) {
		gs_record_add_held(&p->rec);
		if (gs_record_has_content(&p->rec))
			p->named++;
		p->rc = gs_import_record(p->st, &p->rec, p->errmsg);
	}
	gs_import_progress(p->st, p->r);
	row_reset(p);
}

static void
csv_failed(cp *p, const char *what)
{
	switch (csv_error(&p->csv)) {
	case CSV_EPARSE:
		p->rc = gs_fail(p->errmsg, GS_E_MALFORMED,
				"%s:%lu: malformed CSV: %s", gs_reader_name(p->r), p->line, what);
		break;
	case CSV_ENOMEM:
	case CSV_ETOOBIG:
		p->rc = gs_fail(p->errmsg, GS_E_LIMIT, "%s:%lu: a field larger than %zu MiB",
				gs_reader_name(p->r), p->line, CSV_MAX_FIELD >> 20);
		break;
	default:
		p->rc = gs_fail(p->errmsg, GS_E_MALFORMED, "%s:%lu: malformed CSV: %s",
				gs_reader_name(p->r), p->line, csv_strerror(csv_error(&p->csv)));
	}
}

/* Feed one piece: it holds a line break only as its last byte. */
static void
feed(cp *p, const unsigned char *s, size_t len)
{
	unsigned char last = s[len - 1];
	size_t k;

	if (!p->in_row) {
		/* what libcsv skips before a row: blanks, line breaks */
		for (k = 0; k < len; k++) {
			unsigned char c = s[k];
			if (c == '\r' || c == '\n' || ((c == ' ' || c == '\t') && c != p->delim))
				continue;
			p->in_row = 1;
			p->row_line = p->line;
			g_snprintf(p->rec.where, sizeof p->rec.where, "%s:%lu", gs_reader_name(p->r), p->line);
			break;
		}
	}
	if (csv_parse(&p->csv, s, len, on_field, on_row, p) < len && p->rc == GS_OK)
		csv_failed(p, "a quote inside an unquoted field, or text after a closing quote");
	if (p->rc != GS_OK)
		return;
	if (last == '\n') {
		if (!(p->prev_cr && len == 1))
			p->line++;
		p->prev_cr = 0;
	} else if (last == '\r') {
		p->line++;
		p->prev_cr = 1;
	} else {
		p->prev_cr = 0;
	}
	/* grow by what it has: a long field costs log(n) reallocations, not n */
	csv_set_blk_size(&p->csv, MAX(CSV_BLOCK, csv_get_buffer_size(&p->csv)));
}

/* The separator: the most frequent of ',' ';' and tab in the header row
 * (outside quotes), comma on a tie. `s` holds the start of the file. */
static unsigned char
guess_delim(const unsigned char *s, size_t n)
{
	unsigned comma = 0, semi = 0, tab = 0;
	size_t i = 0;
	int quoted = 0;

	/* blank lines and "#TYPE ..." */
	while (i < n && (s[i] == '\r' || s[i] == '\n' || s[i] == '#')) {
		if (s[i] == '#')
			while (i < n && s[i] != '\n')
				i++;
		i++;
	}
	for (; i < n; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (s[i] == '\r' || s[i] == '\n')
			break;
		else if (s[i] == ',')
			comma++;
		else if (s[i] == ';')
			semi++;
		else if (s[i] == '\t')
			tab++;
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

/* Split a buffer into pieces that end at line breaks. */
static void
feed_buffer(cp *p, const unsigned char *buf, size_t n)
{
	size_t i, seg = 0;

	for (i = 0; i < n && p->rc == GS_OK; i++)
		if (buf[i] == '\n' || buf[i] == '\r') {
			feed(p, buf + seg, i + 1 - seg);
			seg = i + 1;
		}
	if (p->rc == GS_OK && seg < n)
		feed(p, buf + seg, n - seg);
}

gs_status
gs_parse_csv(gs_import_state *st, gs_reader *r, char **errmsg)
{
	unsigned char *buf;
	cp p = { 0 };
	size_t have;
	ssize_t n;

	p.st = st;
	p.r = r;
	p.errmsg = errmsg;
	p.line = 1;
	p.cols = g_array_new(FALSE, FALSE, sizeof(gs_prop));
	gs_record_init(&p.rec);
	row_reset(&p);
	if (csv_init(&p.csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		g_array_unref(p.cols);
		return gs_fail(errmsg, GS_E_INTERNAL, "%s: cannot set up the CSV parser", gs_reader_name(r));
	}
	csv_set_realloc_func(&p.csv, bounded_realloc);
	csv_set_blk_size(&p.csv, CSV_BLOCK);
	/* enough of the start to see the header row's separator */
	buf = g_malloc(CSV_CHUNK);
	have = 0;
	while (have < 4096 && (n = gs_reader_read(r, buf + have, CSV_CHUNK - have)) > 0)
		have += (size_t) n;
	p.delim = guess_delim(buf, have);
	csv_set_delim(&p.csv, p.delim);
	feed_buffer(&p, buf, have);
	while (p.rc == GS_OK && (n = gs_reader_read(r, buf, CSV_CHUNK)) > 0)
		feed_buffer(&p, buf, (size_t) n);
	if (p.rc == GS_OK)
		p.rc = gs_reader_status(r, errmsg);
	if (p.rc == GS_OK && csv_fini(&p.csv, on_field, on_row, &p) != 0 && p.rc == GS_OK)
		p.rc = gs_fail(errmsg, GS_E_MALFORMED,
			       "%s:%lu: the file ends inside a quoted field (is it cut short?)",
			       gs_reader_name(r), p.row_line);
	if (p.rc == GS_OK && !p.have_header)
		p.rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: no header row", gs_reader_name(r));
	/* a header and nothing else must not empty the source */
	if (p.rc == GS_OK)
		p.rc = gs_import_check_named(r, p.named, p.skipped,
					     "no row has a Name, Alias, DisplayName, address or certificate",
					     errmsg);
	csv_free(&p.csv);
	row_reset(&p);
	gs_record_dispose(&p.rec);
	g_array_unref(p.cols);
	g_free(buf);
	return p.rc;
}
