/* test-agent.c: lib/agent.c's keys whose private operations the agent
 * performs, with OpenSSL 3.0's CMS code as their user: RSA PKCS#1 v1.5
 * signature (signed attributes, SHA-256), RSA PKCS#1 v1.5 and OAEP key
 * transport, ECDSA signature, ECDH key agreement. The agent runs on a
 * thread of this process (gs_agent_serve), the keys are preset in it. */
#include "unit.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/rsa.h>

#define PASS "secret"

typedef struct agent_env {
	unit_store u;
	char *sock;
	pthread_t thread;
	int fd;
	gs_agent_opts opts;
	gs_agent *a;
} agent_env;

static void *
serve_thread(void *data)
{
	agent_env *e = data;

	g_assert_cmpint(gs_agent_serve(e->fd, &e->opts, NULL), ==, GS_OK);
	return NULL;
}

static void
import(agent_env *e, const char *who)
{
	char *file = g_strconcat(who, ".p12", NULL), *fp = NULL;
	size_t len;
	unsigned char *data = pki_read(file, &len);
	int plain = 0;

	g_assert_cmpint(gs_identity_import(e->u.store, data, len, PASS, strlen(PASS), NULL, &fp, &plain, NULL),
			==, GS_OK);
	g_assert_false(plain);
	g_free(fp);
	g_free(data);
	g_free(file);
}

static void
env_open(agent_env *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(e, 0, sizeof *e);
	unit_store_open(&e->u);
	import(e, "alice");
	import(e, "carol");
	e->sock = g_build_filename(e->u.dir, "s", NULL);
	g_assert_cmpuint(strlen(e->sock), <, sizeof sa.sun_path);
	strcpy(sa.sun_path, e->sock);
	e->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	g_assert_cmpint(bind(e->fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
	g_assert_cmpint(listen(e->fd, 8), ==, 0);
	e->opts.pinentry = NULL;
	e->opts.socket_path = e->sock;
	g_assert_cmpint(pthread_create(&e->thread, NULL, serve_thread, e), ==, 0);
	g_assert_cmpint(gs_agent_connect(e->sock, &e->a, NULL), ==, GS_OK);
}

static void
env_close(agent_env *e)
{
	g_assert_cmpint(gs_agent_command(e->a, GS_AGENT_STOP, NULL, NULL, NULL), ==, GS_OK);
	gs_agent_close(e->a);
	pthread_join(e->thread, NULL);
	close(e->fd);
	g_free(e->sock);
	unit_store_close(&e->u);
}

/* The agent-backed key of `who` (preset in the agent first). */
static EVP_PKEY *
agent_key(agent_env *e, const char *who, X509 **cert)
{
	char *addr = g_strconcat(who, "@example.org", NULL), *msg = NULL;
	gs_identity *id = NULL;
	EVP_PKEY *k = NULL;

	g_assert_cmpint(gs_agent_preset(e->a, unit_session(&e->u), addr, PASS, strlen(PASS), &msg), ==, GS_OK);
	g_assert_cmpint(gs_identity_for_address(unit_session(&e->u), addr, &id, NULL), ==, GS_OK);
	g_assert_cmpint(gs_agent_open_key(e->a, id->cert, id->blob, id->blob_len, "unit", &k, &msg), ==, GS_OK);
	*cert = X509_dup(id->cert);
	gs_identity_free(id);
	g_free(addr);
	return k;
}

static const char text[] = "Content-Type: text/plain\r\n\r\nhello, agent\r\n";

static void
sign_verify(EVP_PKEY *k, X509 *cert)
{
	BIO *in = BIO_new_mem_buf(text, -1);
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_BINARY | CMS_DETACHED | CMS_PARTIAL);
	X509_STORE *st = X509_STORE_new();

	g_assert_nonnull(CMS_add1_signer(cms, cert, k, EVP_sha256(), CMS_BINARY));
	g_assert_cmpint(CMS_final(cms, in, NULL, CMS_BINARY | CMS_DETACHED), ==, 1);
	BIO_reset(in);
	g_assert_cmpint(CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY), ==, 1);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

static void
encrypt_decrypt(EVP_PKEY *k, X509 *cert, int oaep)
{
	BIO *in = BIO_new_mem_buf(text, -1), *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *none = sk_X509_new_null();
	CMS_ContentInfo *cms = CMS_encrypt(none, NULL, EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL);
	CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, cert, CMS_KEY_PARAM);
	EVP_PKEY_CTX *pc = CMS_RecipientInfo_get0_pkey_ctx(ri);
	char *p;
	long n;

	if (oaep) {
		EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING);
		EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256());
		EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256());
	}
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
		EVP_PKEY_CTX_set_ecdh_kdf_md(pc, EVP_sha256());
	g_assert_cmpint(CMS_final(cms, in, NULL, CMS_BINARY), ==, 1);
	g_assert_cmpint(CMS_decrypt_set1_pkey_and_peer(cms, k, cert, NULL), ==, 1);
	g_assert_cmpint(CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY), ==, 1);
	n = BIO_get_mem_data(out, &p);
	g_assert_cmpint(n, ==, (long) strlen(text));
	g_assert_true(memcmp(p, text, (size_t) n) == 0);
	CMS_ContentInfo_free(cms);
	sk_X509_free(none);
	BIO_free(in);
	BIO_free(out);
}

static void
test_rsa(void)
{
	agent_env e;
	EVP_PKEY *k;
	X509 *cert;

	if (!need_pki())
		return;
	env_open(&e);
	k = agent_key(&e, "alice", &cert);
	sign_verify(k, cert);
	encrypt_decrypt(k, cert, 0);
	encrypt_decrypt(k, cert, 1);
	/* the agent forgets: the key's next operation fails, saying why */
	g_assert_cmpint(gs_agent_command(e.a, GS_AGENT_FORGET, NULL, NULL, NULL), ==, GS_OK);
	{
		unsigned char sig[512];
		size_t siglen = sizeof sig;
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
		unsigned char md[32] = { 0 };
		char *msg = NULL;

		g_assert_cmpint(EVP_PKEY_sign_init(c), >, 0);
		/* no pinentry in this agent: unlocking again cannot work */
		g_assert_cmpint(EVP_PKEY_sign(c, sig, &siglen, md, sizeof md), <=, 0);
		g_assert_cmpint(gs_agent_key_failure(k, &msg), ==, GS_E_PASSPHRASE);
		g_assert_nonnull(strstr(msg, "pinentry"));
		g_free(msg);
		EVP_PKEY_CTX_free(c);
	}
	EVP_PKEY_free(k);
	X509_free(cert);
	env_close(&e);
}

static void
test_ec(void)
{
	agent_env e;
	EVP_PKEY *k;
	X509 *cert;

	if (!need_pki())
		return;
	env_open(&e);
	k = agent_key(&e, "carol", &cert);
	g_assert_cmpint(EVP_PKEY_get_base_id(k), ==, EVP_PKEY_EC);
	sign_verify(k, cert);
	encrypt_decrypt(k, cert, 0);
	EVP_PKEY_free(k);
	X509_free(cert);
	env_close(&e);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/agent/rsa-sign-decrypt-oaep", test_rsa);
	g_test_add_func("/agent/ec-ecdsa-ecdh", test_ec);
	return UNIT_RUN();
}
