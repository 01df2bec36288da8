/* util.c: errors, hex, secrets: the small helpers every module uses. */
#include "gs-private.h"

#include <stdarg.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

const char *
gs_status_string(gs_status status)
{
	switch (status) {
	case GS_OK: return "ok";
	case GS_E_USAGE: return "usage error";
	case GS_E_MALFORMED: return "malformed input";
	case GS_E_LIMIT: return "input exceeds a limit";
	case GS_E_NO_CERT: return "no usable certificate";
	case GS_E_NO_KEY: return "no matching private key";
	case GS_E_PASSPHRASE: return "passphrase missing or wrong";
	case GS_E_NOT_FOUND: return "not found";
	case GS_E_UNSUPPORTED: return "not supported";
	case GS_E_BUSY: return "store busy";
	case GS_E_IO: return "I/O error";
	case GS_E_INTERNAL: return "internal error";
	case GS_E_UNSAFE: return "store not private";
	case GS_E_PROGRAMMER: return "programming error";
	case GS_E_AGENT_LOST: return "the key agent went away";
	}
	return "unknown status";
}

char *
gs_ssl_errors(void)
{
	GString *s = NULL;
	unsigned long e;
	const char *data;
	int flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char buf[64];

		if (!reason) {
			g_snprintf(buf, sizeof buf, "error %lx", e);
			reason = buf;
		}
		if (!s)
			s = g_string_new(NULL);
		else
			g_string_append(s, "; ");
		g_string_append(s, reason);
		if ((flags & ERR_TXT_STRING) && data && *data)
			g_string_append_printf(s, " (%s)", data);
	}
	return s ? g_string_free(s, FALSE) : NULL;
}

static gs_status
vfail(char **errmsg, gs_status st, int ssl, const char *fmt, va_list ap)
{
	char *msg, *ssl_msg = ssl ? gs_ssl_errors() : NULL;

	if (errmsg) {
		msg = g_strdup_vprintf(fmt, ap);
		if (ssl_msg) {
			*errmsg = g_strdup_printf("%s: %s", msg, ssl_msg);
			g_free(msg);
		} else {
			*errmsg = msg;
		}
	}
	g_free(ssl_msg);
	return st;
}

gs_status
gs_fail(char **errmsg, gs_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(errmsg, st, 0, fmt, ap);
	va_end(ap);
	return st;
}

gs_status
gs_fail_ssl(char **errmsg, gs_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(errmsg, st, 1, fmt, ap);
	va_end(ap);
	return st;
}

char *
gs_hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = g_malloc(n * 2 + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = 0;
	return s;
}

void
gs_secret_free(void *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	g_free(p);
}

char *
gs_address_normalize(const char *addr)
{
	char *s;

	if (!addr)
		return NULL;
	s = g_ascii_strdown(addr, -1);
	return g_strstrip(s);
}

int
gs_pem_each(const unsigned char *data, size_t len, gs_pem_cb cb, void *user)
{
	BIO *b;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long dlen = 0;
	int n = 0;

	if (len > INT_MAX || !(b = BIO_new_mem_buf(data, (int) len)))
		return 0;
	while (PEM_read_bio(b, &name, &header, &der, &dlen) == 1) {
		cb(name, der, dlen, user);
		n++;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	BIO_free(b);
	ERR_clear_error();
	return n;
}

char *
gs_printable(const char *s, size_t max)
{
	GString *g;
	const char *p;

	if (!s)
		return NULL;
	g = g_string_sized_new(strlen(s) + 8);
	for (p = s; *p;) {
		gunichar u = g_utf8_get_char_validated(p, -1);
		const char *next;

		if (max && g->len >= max) {
			g_string_append(g, "...");
			break;
		}
		if (u == (gunichar) -1 || u == (gunichar) -2) {
			g_string_append_printf(g, "\\x%02x", (unsigned char) *p);
			p++;
			continue;
		}
		next = g_utf8_next_char(p);
		/* C0 and C1 controls (CR, LF, ESC, BEL, CSI...), DEL, line
		 * separators and bidirectional overrides; a backslash stays, so
		 * that text made printable twice reads the same */
		if (u < 0x20 || u == 0x7f || (u >= 0x80 && u < 0xa0) || u == 0x2028 || u == 0x2029 ||
		    (u >= 0x202a && u <= 0x202e) || (u >= 0x2066 && u <= 0x2069)) {
			if (u < 0x80)
				g_string_append_printf(g, "\\x%02x", (unsigned) u);
			else
				g_string_append_printf(g, "\\u%04x", (unsigned) u);
		} else {
			g_string_append_len(g, p, next - p);
		}
		p = next;
	}
	return g_string_free(g, FALSE);
}

void
gs_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* Copy p[0..n) to out, block by block between the line ends memchr
 * finds; `canon`: a bare LF gains its CR, else a CR before LF is dropped. */
static GByteArray *
line_ends(const guint8 *p, size_t n, int canon)
{
	GByteArray *out = g_byte_array_sized_new((guint) MIN(n + n / 32 + 2, (size_t) G_MAXUINT));
	const guint8 *end, *start = p, *nl;

	if (!p)
		return out;
	end = p + n;
	while (start < end && (nl = memchr(start, '\n', (size_t) (end - start)))) {
		int cr = nl > p && nl[-1] == '\r';
		if (canon) {
			g_byte_array_append(out, start, (guint) (nl - start));
			g_byte_array_append(out, (const guint8 *) "\r\n" + cr, 2 - cr);
		} else {
			g_byte_array_append(out, start, (guint) (nl - start - cr));
			g_byte_array_append(out, (const guint8 *) "\n", 1);
		}
		start = nl + 1;
	}
	if (start < end)
		g_byte_array_append(out, start, (guint) (end - start));
	return out;
}

GByteArray *
gs_crlf_canon(const void *data, size_t len)
{
	return line_ends(data, data ? len : 0, 1);
}

GByteArray *
gs_crlf_strip(const void *data, size_t len)
{
	return line_ends(data, data ? len : 0, 0);
}

size_t
gs_crlf_strip_inplace(void *data, size_t len)
{
	guint8 *w = data, *r = data, *end, *nl;

	if (!data)
		return 0;
	end = r + len;
	while ((nl = memchr(r, '\n', (size_t) (end - r)))) {
		size_t k = (size_t) (nl - r);
		/* r follows a LF (or is the start): a CR before nl is nl's own */
		k -= k > 0 && nl[-1] == '\r';
		if (w != r)
			memmove(w, r, k);
		w += k;
		*w++ = '\n';
		r = nl + 1;
	}
	if (w != r)
		memmove(w, r, (size_t) (end - r));
	return (size_t) (w - (guint8 *) data) + (size_t) (end - r);
}

char *
gs_pem_armour(const char *label, const void *der, size_t len)
{
	char *b64 = g_base64_encode(der, len);
	GString *g = g_string_sized_new(len * 4 / 3 + len / 48 + 64);
	size_t i, n = strlen(b64);

	g_string_append_printf(g, "-----BEGIN %s-----\n", label);
	for (i = 0; i < n; i += 64) {
		g_string_append_len(g, b64 + i, (gssize) MIN((size_t) 64, n - i));
		g_string_append_c(g, '\n');
	}
	g_string_append_printf(g, "-----END %s-----\n", label);
	g_free(b64);
	return g_string_free(g, FALSE);
}
