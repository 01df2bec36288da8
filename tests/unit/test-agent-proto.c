/* test-agent-proto.c: the key agent's message parser refuses what the
 * table does not allow (lib/agent-proto.c). `--seeds DIR` writes the
 * well-formed messages as seeds for fuzz/fuzz-agent.c. */
#include "unit.h"

static GByteArray *
enc(unsigned version, unsigned code, int tag1, const char *v1, int tag2, const char *v2)
{
	gs_agent_msg m;
	GByteArray *a = NULL;

	memset(&m, 0, sizeof m);
	m.version = version;
	m.code = code;
	if (tag1 >= 0) {
		m.f[tag1].p = (const unsigned char *) v1;
		m.f[tag1].len = strlen(v1);
	}
	if (tag2 >= 0) {
		m.f[tag2].p = (const unsigned char *) v2;
		m.f[tag2].len = strlen(v2);
	}
	g_assert_cmpint(gs_agent_encode(&m, &a, NULL), ==, GS_OK);
	return a;
}

#define V GS_AGENT_PROTOCOL
#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static gs_status
parse(GByteArray *a, int reply)
{
	gs_agent_msg m;
	char *err = NULL;
	gs_status st = gs_agent_parse(a->data, a->len, reply, &m, &err);

	g_assert_true(st == GS_OK ? err == NULL : err != NULL);
	g_free(err);
	g_byte_array_unref(a);
	return st;
}

static void
test_good(void)
{
	g_assert_cmpint(parse(enc(V, GS_AGENT_HELLO, -1, 0, -1, 0), 0), ==, GS_OK);
	g_assert_cmpint(parse(enc(V, GS_AGENT_FORGET, GS_AGENT_F_KEYID, FP, -1, 0), 0), ==, GS_OK);
	g_assert_cmpint(parse(enc(V, GS_AGENT_ECDSA_SIGN, GS_AGENT_F_KEYID, FP, GS_AGENT_F_DATA, "digest"), 0),
			==, GS_OK);
	g_assert_cmpint(parse(enc(V, GS_AGENT_E_CANCELLED, GS_AGENT_F_TEXT, "no", -1, 0), 1), ==, GS_OK);
	/* a token key: its URI (the certificate is judged by the agent) */
	g_assert_cmpint(parse(enc(V, GS_AGENT_UNLOCK, GS_AGENT_F_KEYID, FP, GS_AGENT_F_URI, "pkcs11:token=t;id=%01"), 0),
			==, GS_OK);
	g_assert_cmpint(parse(enc(V, GS_AGENT_E_NO_KEY, GS_AGENT_F_TEXT, "token 't' was removed", -1, 0), 1), ==,
			GS_OK);
}

static void
test_refused(void)
{
	GByteArray *a;

	/* another version: told apart from malformed */
	g_assert_cmpint(parse(enc(V + 1, GS_AGENT_HELLO, -1, 0, -1, 0), 0), ==, GS_E_UNSUPPORTED);
	/* unknown op and status */
	g_assert_cmpint(parse(enc(V, 0, -1, 0, -1, 0), 0), ==, GS_E_MALFORMED);
	g_assert_cmpint(parse(enc(V, GS_AGENT_OP_LAST + 1, -1, 0, -1, 0), 0), ==, GS_E_MALFORMED);
	g_assert_cmpint(parse(enc(V, GS_AGENT_REPLY_LAST + 1, -1, 0, -1, 0), 1), ==, GS_E_MALFORMED);
	/* a required field missing, one not allowed, a bad key id */
	g_assert_cmpint(parse(enc(V, GS_AGENT_ECDH, GS_AGENT_F_KEYID, FP, -1, 0), 0), ==, GS_E_MALFORMED);
	g_assert_cmpint(parse(enc(V, GS_AGENT_HELLO, GS_AGENT_F_TEXT, "x", -1, 0), 0), ==, GS_E_MALFORMED);
	g_assert_cmpint(parse(enc(V, GS_AGENT_FORGET, GS_AGENT_F_KEYID, "../etc", -1, 0), 0), ==,
			GS_E_MALFORMED);
	/* a field over its bound cannot even be encoded */
	{
		gs_agent_msg m;
		char big[40];
		memset(&m, 0, sizeof m);
		memset(big, 'a', sizeof big);
		m.version = V;
		m.code = GS_AGENT_UNLOCK;
		m.f[GS_AGENT_F_TTYTYPE].p = (unsigned char *) big;
		m.f[GS_AGENT_F_TTYTYPE].len = 65;
		g_assert_cmpint(gs_agent_encode(&m, &a, NULL), ==, GS_E_LIMIT);
		m.f[GS_AGENT_F_TTYTYPE].p = NULL;
		m.f[GS_AGENT_F_WAYLAND].p = (unsigned char *) big;
		m.f[GS_AGENT_F_WAYLAND].len = 257;
		g_assert_cmpint(gs_agent_encode(&m, &a, NULL), ==, GS_E_LIMIT);
	}
	/* a field repeated; a field running past the end; a lying header */
	a = enc(V, GS_AGENT_FORGET, GS_AGENT_F_KEYID, FP, -1, 0);
	{
		guint8 copy[3 + 64];
		memcpy(copy, a->data + GS_AGENT_HEADER, sizeof copy);
		g_byte_array_append(a, copy, sizeof copy);
	}
	a->data[11] = (guint8) (a->len - GS_AGENT_HEADER);
	g_assert_cmpint(parse(a, 0), ==, GS_E_MALFORMED);
	a = enc(V, GS_AGENT_FORGET, GS_AGENT_F_KEYID, FP, -1, 0);
	a->data[GS_AGENT_HEADER + 2] = 65;
	g_assert_cmpint(parse(a, 0), ==, GS_E_LIMIT);
	a = enc(V, GS_AGENT_HELLO, -1, 0, -1, 0);
	a->data[8] = 0x7f;
	g_assert_cmpint(parse(a, 0), ==, GS_E_LIMIT);
	a = enc(V, GS_AGENT_HELLO, -1, 0, -1, 0);
	a->data[0] = 'X';
	g_assert_cmpint(parse(a, 0), ==, GS_E_MALFORMED);
}

static void
seeds(const char *dir)
{
	GByteArray *s[] = {
		enc(V, GS_AGENT_HELLO, -1, 0, -1, 0),
		enc(V, GS_AGENT_STATUS, -1, 0, -1, 0),
		enc(V, GS_AGENT_FORGET, GS_AGENT_F_KEYID, FP, -1, 0),
		enc(V, GS_AGENT_PRESET, GS_AGENT_F_KEYID, FP, GS_AGENT_F_PASS, "secret"),
		enc(V, GS_AGENT_UNLOCK, GS_AGENT_F_KEYID, FP, GS_AGENT_F_TTYNAME, "/dev/pts/1"),
		enc(V, GS_AGENT_RSA_SIGN, GS_AGENT_F_PADDING, "\001", GS_AGENT_F_DATA, "digestinfo"),
		enc(V, GS_AGENT_ECDH, GS_AGENT_F_KEYID, FP, GS_AGENT_F_DATA, "\004point"),
		enc(V, GS_AGENT_OK, GS_AGENT_F_DATA, "result", GS_AGENT_F_TEXT, "text"),
		enc(V + 1, GS_AGENT_E_VERSION, GS_AGENT_F_TEXT, "protocol 2", -1, 0),
	};
	guint i;

	g_mkdir_with_parents(dir, 0755);
	for (i = 0; i < G_N_ELEMENTS(s); i++) {
		char *p = g_strdup_printf("%s/seed-%02u", dir, i);
		g_assert_true(g_file_set_contents(p, (char *) s[i]->data, s[i]->len, NULL));
		g_free(p);
		g_byte_array_unref(s[i]);
	}
}

int
main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--seeds")) {
		seeds(argv[2]);
		return 0;
	}
	UNIT_INIT(argc, argv);
	g_test_add_func("/agent-proto/good", test_good);
	g_test_add_func("/agent-proto/refused", test_refused);
	return UNIT_RUN();
}
