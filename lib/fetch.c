/* fetch.c: one HTTP(S) GET with libcurl, for `galsmime crl update`.
 *
 * libcurl is loaded with dlopen when a fetch is asked for: the filters
 * (sign, verify, decrypt: once per message) never fetch, and linking it
 * would make each of their runs load libcurl and its TLS stack.
 */
#include "gs-private.h"

#include <stddef.h>
#include <string.h>
#include <curl/curl.h>

static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *init;
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	__typeof__(curl_easy_perform) *perform;
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	__typeof__(curl_easy_cleanup) *cleanup;
	__typeof__(curl_easy_strerror) *strerror;
} cu;

static gs_status
load_curl(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(cu, global_init, curl_global_init), GS_SYMBOL(cu, init, curl_easy_init),
		GS_SYMBOL(cu, setopt, curl_easy_setopt), GS_SYMBOL(cu, perform, curl_easy_perform),
		GS_SYMBOL(cu, getinfo, curl_easy_getinfo), GS_SYMBOL(cu, cleanup, curl_easy_cleanup),
		GS_SYMBOL(cu, strerror, curl_easy_strerror),
	};
	static gsize inited;
	gs_status st = gs_library_load(GS_LIB_CURL, &cu, syms, G_N_ELEMENTS(syms), errmsg);

	if (st != GS_OK)
		return st;
	if (g_once_init_enter(&inited)) {
		CURLcode rc = cu.global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&inited, rc == CURLE_OK ? 1 : 2);
	}
	return inited == 1 ? GS_OK : gs_fail(errmsg, GS_E_INTERNAL, "curl_global_init failed");
}

typedef struct sink {
	GByteArray *buf;
	size_t max;
	int over;
} sink;

static size_t
on_data(char *p, size_t size, size_t n, void *data)
{
	sink *k = data;
	size_t len = size * n;

	if (k->buf->len + len > k->max) {
		k->over = 1;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	g_byte_array_append(k->buf, (const guint8 *) p, (guint) len);
	return len;
}

gs_status
gs_fetch(const char *url, long timeout_s, size_t max_bytes, GBytes **body, char **errmsg)
{
	sink k = { NULL, max_bytes, 0 };
	CURL *h;
	CURLcode rc;
	long code = 0;
	gs_status st = GS_OK;

	if (!url || !body || timeout_s <= 0 || max_bytes == 0)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_fetch: bad arguments");
	*body = NULL;
	if (g_ascii_strncasecmp(url, "http://", 7) && g_ascii_strncasecmp(url, "https://", 8))
		return gs_fail(errmsg, GS_E_USAGE, "%s: only http:// and https:// are fetched", url);
	if ((st = load_curl(errmsg)) != GS_OK)
		return st;
	if (!(h = cu.init()))
		return gs_fail(errmsg, GS_E_INTERNAL, "curl_easy_init failed");
	k.buf = g_byte_array_new();
	cu.setopt(h, CURLOPT_URL, url);
	cu.setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	cu.setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	cu.setopt(h, CURLOPT_MAXREDIRS, 3L);
	cu.setopt(h, CURLOPT_TIMEOUT, timeout_s);
	cu.setopt(h, CURLOPT_CONNECTTIMEOUT, timeout_s);
	cu.setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.setopt(h, CURLOPT_FAILONERROR, 1L);
	cu.setopt(h, CURLOPT_USERAGENT, "galsmime/" GALSMIME_VERSION);
	cu.setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	cu.setopt(h, CURLOPT_WRITEDATA, &k);
	if ((rc = cu.perform(h)) != CURLE_OK) {
		cu.getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (k.over)
			st = gs_fail(errmsg, GS_E_LIMIT, "larger than %zu bytes", max_bytes);
		else if (rc == CURLE_HTTP_RETURNED_ERROR)
			st = gs_fail(errmsg, GS_E_IO, "HTTP status %ld", code);
		else
			st = gs_fail(errmsg, GS_E_IO, "%s", cu.strerror(rc));
	}
	cu.cleanup(h);
	if (st == GS_OK)
		*body = g_byte_array_free_to_bytes(k.buf);
	else
		g_byte_array_free(k.buf, TRUE);
	return st;
}
