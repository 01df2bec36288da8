/* send.c: what a sendmail wrapper sends: the copies of a message (one
 * for the To and Cc recipients, one per Bcc recipient, as OWA forks
 * Bcc), each signed and encrypted to its own recipients, prepared all
 * before any is handed on; and when --encrypt=auto cannot encrypt, the
 * one signed copy everyone gets instead, after the user said yes. The
 * front end runs the real sendmail for each copy. */
#include "gs-private.h"

#include <string.h>

/* How long a "send it unencrypted" answer stays good: the user presses
 * send again in mutt's compose menu. */
#define CONFIRM_SECONDS (10 * 60)

typedef struct copy_data {
	gs_send_copy pub;
	GPtrArray *rcpts;        /* char*, NULL-terminated */
} copy_data;

struct gs_send_plan {
	GPtrArray *copies;       /* of copy_data* */
	gs_recipients *results;  /* every recipient, once */
	int encrypted;
	int downgraded;
	int confirm_needed;
};

static void
copy_free(gpointer p)
{
	copy_data *c = p;

	g_ptr_array_free(c->rcpts, TRUE);
	if (c->pub.data)
		g_bytes_unref(c->pub.data);
	g_free(c);
}

static copy_data *
copy_new(int bcc)
{
	copy_data *c = g_new0(copy_data, 1);

	c->rcpts = g_ptr_array_new_with_free_func(g_free);
	c->pub.bcc = bcc;
	return c;
}

static void
copy_seal(copy_data *c)
{
	g_ptr_array_add(c->rcpts, NULL);
	c->pub.recipients = (const char *const *) c->rcpts->pdata;
}

static int
in_list(const GPtrArray *a, const char *s)
{
	guint i;

	for (i = 0; i < a->len; i++)
		if (a->pdata[i] && !g_ascii_strcasecmp(a->pdata[i], s))
			return 1;
	return 0;
}

static void
add_unique(GPtrArray *a, const char *addr)
{
	char *n = gs_address_normalize(addr);

	if (*n && !in_list(a, n))
		g_ptr_array_add(a, n);
	else
		g_free(n);
}

static void
add_addresses(GPtrArray *out, InternetAddressList *l)
{
	int i, n = l ? internet_address_list_length(l) : 0;

	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia))
			add_addresses(out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
		else if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			add_unique(out, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
	}
}

static gs_status
reparse(gs_session *s, GMimeStream *in, GMimeMessage **m, char **errmsg)
{
	g_mime_stream_reset(in);
	return gs_message_parse(s, in, m, errmsg);
}

static gs_status
serialize(gs_session *s, GMimeMessage *m, GBytes **data, char **errmsg)
{
	GByteArray *a = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(a);
	gs_status st;

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	st = gs_message_write(s, m, mem, errmsg);
	g_object_unref(mem);
	if (st == GS_OK)
		*data = g_byte_array_free_to_bytes(a);
	else
		g_byte_array_unref(a);
	return st;
}

static void
remove_bcc(GMimeMessage *m)
{
	while (g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc"))
		;
}

/* Merge one copy's recipient results into the plan's, each recipient
 * once (the sender is in every copy). */
static void
merge_results(gs_recipients **into, gs_recipients *from)
{
	size_t i, j;

	if (!*into) {
		*into = from;
		return;
	}
	for (i = 0; i < gs_recipients_count(from); i++) {
		const gs_recipient_result *r = gs_recipients_get(from, i);
		int seen = 0;

		for (j = 0; j < gs_recipients_count(*into) && !seen; j++)
			seen = !g_ascii_strcasecmp(gs_recipients_get(*into, j)->recipient, r->recipient);
		if (!seen)
			gs_recipients_add(*into, r->recipient, r->fingerprint, r->binding, r->note, r->failure,
					  r->directory);
	}
	gs_recipients_free(from);
}

/* g_ptr_array_sort hands the comparison pointers to the elements */
static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* What identifies "the same message, sent again" when mutt's user sends
 * once more from the compose menu: its recipients, From and Subject (mutt
 * makes the Date, the Message-ID and multipart boundaries anew). */
static char *
confirmation_key(GMimeMessage *m, const GPtrArray *envelope)
{
	GPtrArray *sorted = g_ptr_array_new();
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	const char *v;
	char *key;
	guint i;

	for (i = 0; i < envelope->len; i++)
		g_ptr_array_add(sorted, envelope->pdata[i]);
	g_ptr_array_sort(sorted, compare_strings);
	for (i = 0; i < sorted->len; i++) {
		g_checksum_update(sum, (const guchar *) sorted->pdata[i], -1);
		g_checksum_update(sum, (const guchar *) "\n", 1);
	}
	if ((v = g_mime_object_get_header(GMIME_OBJECT(m), "From")))
		g_checksum_update(sum, (const guchar *) v, -1);
	g_checksum_update(sum, (const guchar *) "\n", 1);
	if ((v = g_mime_message_get_subject(m)))
		g_checksum_update(sum, (const guchar *) v, -1);
	key = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	g_ptr_array_free(sorted, TRUE);
	return key;
}

/* Was this message's unencrypted sending asked about lately? Then it is
 * confirmed (and the answer used up); else remember that it was asked. */
static gs_status
confirmed(gs_store *store, const char *key, int *yes, char **errmsg)
{
	static const char del[] = "DELETE FROM confirmation WHERE at < ?1";
	static const char take[] = "DELETE FROM confirmation WHERE key = ?1 RETURNING key";
	static const char ask[] = "INSERT OR REPLACE INTO confirmation(key, at) VALUES (?1, ?2)";
	sqlite3_stmt *stmt;
	gs_status st;
	int64_t now = (int64_t) time(NULL);
	int rc;

	*yes = 0;
	if ((st = gs_store_begin(store, errmsg)) != GS_OK)
		return st;
	if (!(stmt = gs_store_stmt(store, del, errmsg, &st)))
		goto fail;
	sqlite3_bind_int64(stmt, 1, now - CONFIRM_SECONDS);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		goto store_fail;
	if (!(stmt = gs_store_stmt(store, take, errmsg, &st)))
		goto fail;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*yes = 1;
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		goto store_fail;
	if (!*yes) {
		if (!(stmt = gs_store_stmt(store, ask, errmsg, &st)))
			goto fail;
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, now);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			goto store_fail;
	}
	return gs_store_commit(store, errmsg);
store_fail:
	st = gs_store_fail(store, rc, errmsg, "store: confirmation");
fail:
	gs_store_rollback(store);
	return st;
}

gs_status
gs_send_prepare(gs_session *s, GMimeStream *in, const gs_send_opts *opts, gs_send_plan **out,
		char **errmsg)
{
	GPtrArray *envelope = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *visible = g_ptr_array_new_with_free_func(g_free);
	gs_encrypt_opts eo;
	gs_send_plan *p;
	GMimeMessage *m = NULL;
	char *key = NULL;
	gs_status st = GS_OK;
	unsigned nbad = 0;
	guint i, k;

	if (!s || !in || !opts || !out)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_send_prepare: bad arguments");
	*out = p = g_new0(gs_send_plan, 1);
	p->copies = g_ptr_array_new_with_free_func(copy_free);
	for (i = 0; opts->envelope && opts->envelope[i]; i++)
		add_unique(envelope, opts->envelope[i]);
	if ((st = reparse(s, in, &m, errmsg)) != GS_OK)
		goto out;
	add_addresses(visible, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_TO));
	add_addresses(visible, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_CC));
	if (opts->header_mode) {
		/* sendmail -t: the header fields name the recipients */
		for (i = 0; i < visible->len; i++)
			add_unique(envelope, visible->pdata[i]);
		add_addresses(envelope, g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_BCC));
	}
	if (envelope->len == 0) {
		st = gs_fail(errmsg, GS_E_USAGE, "no recipients: give them after \"--\" or use SENDMAIL -t");
		goto out;
	}
	key = confirmation_key(m, envelope);
	g_clear_object(&m);

	if (opts->encrypt != GS_SEND_PLAIN) {
		/* one copy for To and Cc, one per Bcc recipient: each encrypted
		 * to its recipients alone (and the sender), so that the To/Cc
		 * copy neither names a Bcc recipient nor is readable by one */
		copy_data *main_copy = copy_new(0);

		for (i = 0; i < envelope->len; i++) {
			const char *r = envelope->pdata[i];
			if (in_list(visible, r)) {
				g_ptr_array_add(main_copy->rcpts, g_strdup(r));
			} else {
				copy_data *b = copy_new(1);
				g_ptr_array_add(b->rcpts, g_strdup(r));
				g_ptr_array_add(p->copies, b);
			}
		}
		if (main_copy->rcpts->len)
			g_ptr_array_insert(p->copies, 0, main_copy);
		else
			copy_free(main_copy);
		/* every copy prepared before any is sent */
		eo = opts->encrypt_opts;
		eo.sign = opts->sign;
		eo.header_recipients = 0;
		for (k = 0; k < p->copies->len && st == GS_OK; k++) {
			copy_data *c = p->copies->pdata[k];
			gs_recipients *res = NULL;

			copy_seal(c);
			if ((st = reparse(s, in, &m, errmsg)) != GS_OK)
				break;
			eo.extra = c->pub.recipients;
			st = gs_message_encrypt(s, m, &eo, &res, errmsg);
			if (res) {
				size_t f;
				for (f = 0; f < gs_recipients_count(res); f++)
					nbad += gs_recipients_get(res, f)->failure != NULL;
				merge_results(&p->results, res);
			}
			if (st == GS_E_NO_CERT) {
				/* go on: every recipient without a certificate is named */
				if (errmsg)
					g_clear_pointer(errmsg, g_free);
				st = GS_OK;
			} else if (st == GS_OK) {
				remove_bcc(m);
				st = serialize(s, m, &c->pub.data, errmsg);
			}
			g_clear_object(&m);
		}
		if (st != GS_OK)
			goto out;
		if (nbad == 0) {
			p->encrypted = 1;
			goto out;
		}
		if (opts->encrypt == GS_SEND_ENCRYPT) {
			st = gs_fail(errmsg, GS_E_NO_CERT, "some recipients have no usable certificate: "
							   "nothing is sent");
			goto out;
		}
		/* --encrypt=auto: somebody could not read it, so it goes to
		 * everybody signed only; from mutt, only once the user has seen
		 * why and sent again */
		if (opts->confirm_unencrypted) {
			int yes = 0;

			if ((st = confirmed(s->store, key, &yes, errmsg)) != GS_OK)
				goto out;
			if (!yes) {
				p->confirm_needed = 1;
				st = gs_fail(errmsg, GS_E_NO_CERT,
					     "not sent: it would go unencrypted; send it again within %d minutes "
					     "to send it %s", CONFIRM_SECONDS / 60,
					     opts->sign ? "signed only" : "unencrypted");
				goto out;
			}
		}
		p->downgraded = 1;
		g_ptr_array_set_size(p->copies, 0);
	}

	/* one copy reaches everyone: sendmail keeps Bcc recipients secret */
	{
		copy_data *all = copy_new(0);

		for (i = 0; i < envelope->len; i++)
			g_ptr_array_add(all->rcpts, g_strdup(envelope->pdata[i]));
		copy_seal(all);
		g_ptr_array_add(p->copies, all);
		if ((st = reparse(s, in, &m, errmsg)) != GS_OK)
			goto out;
		if (opts->sign) {
			gs_sign_opts so = { 0 };

			so.from = opts->encrypt_opts.from;
			if ((st = gs_message_sign(s, m, &so, errmsg)) != GS_OK)
				goto out;
		}
		/* sendmail gets every recipient as an argument, so a Bcc field
		 * ($write_bcc) would only show the Bcc recipients to everyone
		 * if it did not strip it. With -t it names recipients: kept. */
		if (!opts->header_mode)
			remove_bcc(m);
		st = serialize(s, m, &all->pub.data, errmsg);
	}
out:
	if (m)
		g_object_unref(m);
	g_free(key);
	g_ptr_array_free(envelope, TRUE);
	g_ptr_array_free(visible, TRUE);
	return st;
}

size_t
gs_send_plan_copies(const gs_send_plan *p)
{
	return p ? p->copies->len : 0;
}

const gs_send_copy *
gs_send_plan_copy(const gs_send_plan *p, size_t i)
{
	return p && i < p->copies->len ? &((copy_data *) p->copies->pdata[i])->pub : NULL;
}

const gs_recipients *
gs_send_plan_recipients(const gs_send_plan *p)
{
	return p ? p->results : NULL;
}

int
gs_send_plan_encrypted(const gs_send_plan *p)
{
	return p && p->encrypted;
}

int
gs_send_plan_downgraded(const gs_send_plan *p)
{
	return p && p->downgraded;
}

int
gs_send_plan_confirm_needed(const gs_send_plan *p)
{
	return p && p->confirm_needed;
}

void
gs_send_plan_free(gs_send_plan *p)
{
	if (!p)
		return;
	g_ptr_array_free(p->copies, TRUE);
	gs_recipients_free(p->results);
	g_free(p);
}
