/* test-threads.c: the library is re-entrant. Two sessions, each on its
 * own store, used on two threads at once, give each its own results:
 * alice's thread signs and verifies as alice, bob's as bob; each
 * encrypts to itself and decrypts; each resolves recipients in its own
 * directory. No result is kept in a session or in the process, so no
 * thread ever sees the other's signer, cipher or failure. Run under
 * ThreadSanitizer too (make tsan; tests/t98-threads.sh). */
#include "unit.h"

#include <pthread.h>

#define ROUNDS 12

typedef struct worker {
	const char *user;        /* "alice" or "bob" */
	const char *other;       /* whose certificate the store knows */
	unit_store u;
	unsigned rounds_done;
	char *failure;           /* the first thing that went wrong */
} worker;

static void
worker_fail(worker *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
worker_fail(worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failure)
		return;
	va_start(ap, fmt);
	w->failure = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static char *
write_out(gs_session *s, GMimeMessage *m, gs_status *st, char **msg)
{
	GByteArray *b = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(b);
	char *out;

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	*st = gs_message_write(s, m, mem, msg);
	g_object_unref(mem);
	g_byte_array_append(b, (const guint8 *) "", 1);
	out = (char *) g_byte_array_free(b, FALSE);
	return out;
}

/* One round: sign and verify, encrypt to oneself and decrypt, resolve. */
static void
round_trip(worker *w)
{
	gs_session *s = unit_session(&w->u);
	char *text = g_strdup_printf("From: %s@example.org\nTo: %s@example.org\nSubject: round\n"
				     "MIME-Version: 1.0\nContent-Type: text/plain\n\nfrom %s's thread\n",
				     w->user, w->other, w->user);
	char *self = g_strdup_printf("%s@example.org", w->user), *otheraddr;
	GMimeMessage *m = unit_parse(s, text, -1);
	gs_resolution *res = NULL;
	gs_report *r = NULL;
	gs_recipients *rc = NULL;
	gs_encrypt_opts eo = { 0 };
	const char *to[] = { NULL, NULL };
	char *msg = NULL, *signed_text, *enc_text;
	gs_status st;

	/* sign as oneself, verify: the signer is oneself, never the other
	 * (opaque every other round: signed-data once went through GMime's
	 * crypto registry, that is through a process-wide session) */
	if ((st = gs_message_sign(s, m, &(gs_sign_opts){ .opaque = (int) (w->rounds_done & 1) }, &msg)) !=
	    GS_OK) {
		worker_fail(w, "sign: %s", msg);
		goto out;
	}
	signed_text = write_out(s, m, &st, &msg);
	g_object_unref(m);
	m = unit_parse(s, signed_text, -1);
	g_free(signed_text);
	if ((st = gs_message_verify(s, m, &r, &msg)) != GS_OK) {
		worker_fail(w, "verify: %s", msg);
		goto out;
	}
	if (gs_report_status(r) != GS_SIG_GOOD || gs_report_signer_count(r) != 1 ||
	    g_strcmp0(gs_report_signer(r, 0)->cert.emails[0], self))
		worker_fail(w, "verify: not a good signature by %s", self);
	gs_report_free(r);
	r = NULL;
	g_object_unref(m);

	/* encrypt to oneself only, decrypt: the plaintext is one's own */
	m = unit_parse(s, text, -1);
	to[0] = self;
	eo.extra = to;
	eo.no_self = 1;
	eo.cipher = (w->user[0] == 'a') ? GS_CIPHER_AES256_GCM : GS_CIPHER_AES256_CBC;
	if ((st = gs_message_encrypt(s, m, &eo, &rc, &msg)) != GS_OK) {
		worker_fail(w, "encrypt: %s", msg);
		goto out;
	}
	enc_text = write_out(s, m, &st, &msg);
	g_object_unref(m);
	m = unit_parse(s, enc_text, -1);
	g_free(enc_text);
	if ((st = gs_message_decrypt(s, m, NULL, &r, &msg)) != GS_OK) {
		worker_fail(w, "decrypt: %s", msg);
		goto out;
	}
	if (!gs_report_encrypted(r) ||
	    g_strcmp0(gs_report_cipher(r), w->user[0] == 'a' ? "aes-256-gcm" : "aes-256-cbc"))
		worker_fail(w, "decrypt: the cipher is %s", gs_report_cipher(r));
	{
		char *plain = g_mime_object_to_string(g_mime_message_get_mime_part(m), NULL);
		char *want = g_strdup_printf("from %s's thread", w->user);
		if (!strstr(plain, want))
			worker_fail(w, "decrypt: the plaintext is not %s's", w->user);
		g_free(plain);
		g_free(want);
	}

	/* resolve in one's own store: the other is known, a stranger not */
	otheraddr = g_strdup_printf("%s@example.org", w->other);
	if (gs_resolve(s, otheraddr, 0, &res, &msg) != GS_OK || !gs_resolution_chosen(res))
		worker_fail(w, "resolve %s: nothing chosen", otheraddr);
	gs_resolution_free(res);
	res = NULL;
	if (gs_resolve(s, "stranger@example.org", 0, &res, &msg) != GS_OK || gs_resolution_chosen(res) ||
	    !gs_resolution_failure(res))
		worker_fail(w, "resolve stranger: chosen");
	gs_resolution_free(res);
	g_free(otheraddr);
	w->rounds_done++;
out:
	g_free(msg);
	gs_report_free(r);
	gs_recipients_free(rc);
	if (m)
		g_object_unref(m);
	g_free(text);
	g_free(self);
}

static void *
work(void *data)
{
	worker *w = data;
	unsigned i;

	for (i = 0; i < ROUNDS && !w->failure; i++)
		round_trip(w);
	return NULL;
}

static void
worker_setup(worker *w, const char *user, const char *other)
{
	char *p12 = g_strconcat(user, ".p12", NULL), *crt = g_strconcat(other, ".crt", NULL);

	memset(w, 0, sizeof *w);
	w->user = user;
	w->other = other;
	unit_store_trusting_root(&w->u);
	unit_import(&w->u, crt, GS_ROLE_CORRESPONDENT);
	unit_import_identity(&w->u, p12);
	g_free(p12);
	g_free(crt);
}

static void
test_two_threads(void)
{
	worker a, b;
	pthread_t ta, tb;

	if (!need_pki())
		return;
	worker_setup(&a, "alice", "bob");
	worker_setup(&b, "bob", "alice");
	/* one round each on this thread first: GLib's type system creates
	 * GMime's classes on first use under its own locks, which
	 * ThreadSanitizer (GLib is not instrumented) cannot see */
	round_trip(&a);
	round_trip(&b);
	g_assert_cmpstr(a.failure, ==, NULL);
	g_assert_cmpstr(b.failure, ==, NULL);
	g_assert_cmpint(pthread_create(&ta, NULL, work, &a), ==, 0);
	g_assert_cmpint(pthread_create(&tb, NULL, work, &b), ==, 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	g_assert_cmpstr(a.failure, ==, NULL);
	g_assert_cmpstr(b.failure, ==, NULL);
	g_assert_cmpint(a.rounds_done, ==, ROUNDS + 1);
	g_assert_cmpint(b.rounds_done, ==, ROUNDS + 1);
	unit_store_close(&a.u);
	unit_store_close(&b.u);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/threads/two-sessions", test_two_threads);
	return g_test_run();
}
