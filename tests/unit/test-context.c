/* test-context.c: GMime's own multipart/signed and application/pkcs7-mime
 * APIs, with galsmime's crypto context, registered for the pkcs7 types
 * by the host (gs_gmime_register) and bound to its session (the message
 * layer streams instead; other GMime users get this). */
#include "galsmime.h"
#include "unit.h"

/* A store with the root trusted, the intermediate known, bob's
 * certificate, and alice's and bob's identities. */
static void
setup(unit_store *u)
{
	unit_store_open(u);
	unit_import(u, "root.crt", GS_ROLE_ANCHOR);
	unit_import(u, "inter.crt", GS_ROLE_CORRESPONDENT);
	unit_import(u, "bob.crt", GS_ROLE_CORRESPONDENT);
	unit_import_identity(u, "alice.p12");
	unit_import_identity(u, "bob.p12");
	gs_gmime_register(unit_session(u));
}

static GMimeObject *
text_part(const char *text)
{
	GMimeTextPart *t = g_mime_text_part_new_with_subtype("plain");

	g_mime_text_part_set_text(t, text);
	return GMIME_OBJECT(t);
}

static char *
text_of(GMimeObject *o)
{
	return GMIME_IS_TEXT_PART(o) ? g_mime_text_part_get_text(GMIME_TEXT_PART(o)) : NULL;
}

static void
test_registered(void)
{
	const char *protocols[] = { "application/pkcs7-signature", "application/x-pkcs7-signature",
				    "application/pkcs7-mime", "application/x-pkcs7-mime",
				    "application/pkcs7-keys", NULL };
	const char **p;

	gs_gmime_register(NULL);
	for (p = protocols; *p; p++) {
		GMimeCryptoContext *ctx = g_mime_crypto_context_new(*p);
		g_assert_nonnull(ctx);
		g_assert_cmpstr(G_OBJECT_TYPE_NAME(ctx), ==, "GsContext");
		g_assert_cmpstr(g_mime_crypto_context_get_signature_protocol(ctx), ==,
				"application/pkcs7-signature");
		g_assert_cmpstr(g_mime_crypto_context_digest_name(ctx, GMIME_DIGEST_ALGO_SHA256), ==,
				"sha-256");
		g_assert_cmpint(g_mime_crypto_context_digest_id(ctx, "sha256"), ==, GMIME_DIGEST_ALGO_SHA256);
		g_object_unref(ctx);
	}
}

static void
test_multipart_signed(void)
{
	unit_store u;
	GMimeCryptoContext *ctx;
	GMimeMultipartSigned *mps;
	GMimeSignatureList *sigs;
	GMimeSignature *sig;
	GMimeObject *entity;
	GError *err = NULL;

	if (!need_pki())
		return;
	setup(&u);
	ctx = g_mime_crypto_context_new("application/pkcs7-signature");
	entity = text_part("signed through GMime's own API\n");
	mps = g_mime_multipart_signed_sign(ctx, entity, "alice@example.org", &err);
	g_assert_no_error(err);
	g_assert_nonnull(mps);
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(GMIME_OBJECT(mps), "micalg"), ==, "sha-256");
	sigs = g_mime_multipart_signed_verify(mps, GMIME_VERIFY_NONE, &err);
	g_assert_no_error(err);
	g_assert_cmpint(g_mime_signature_list_length(sigs), ==, 1);
	sig = g_mime_signature_list_get_signature(sigs, 0);
	g_assert_true(g_mime_signature_get_status(sig) & GMIME_SIGNATURE_STATUS_VALID);
	g_assert_true(g_mime_signature_get_status(sig) & GMIME_SIGNATURE_STATUS_GREEN);
	g_assert_cmpstr(g_mime_certificate_get_email(g_mime_signature_get_certificate(sig)), ==,
			"alice@example.org");
	g_object_unref(sigs);

	/* change the signed text: RED */
	g_mime_text_part_set_text(GMIME_TEXT_PART(g_mime_multipart_get_part(GMIME_MULTIPART(mps), 0)),
				  "changed after signing\n");
	sigs = g_mime_multipart_signed_verify(mps, GMIME_VERIFY_NONE, &err);
	g_assert_no_error(err);
	sig = g_mime_signature_list_get_signature(sigs, 0);
	g_assert_true(g_mime_signature_get_status(sig) & GMIME_SIGNATURE_STATUS_RED);
	g_object_unref(sigs);
	g_object_unref(mps);
	g_object_unref(entity);
	g_object_unref(ctx);
	unit_store_close(&u);
}

static void
test_pkcs7_mime(void)
{
	unit_store u;
	GPtrArray *recips = g_ptr_array_new();
	GMimeApplicationPkcs7Mime *p7, *opaque;
	GMimeDecryptResult *res = NULL;
	GMimeSignatureList *sigs;
	GMimeObject *entity, *plain, *inner = NULL;
	GError *err = NULL;
	char *text;

	if (!need_pki())
		return;
	setup(&u);
	entity = text_part("encrypted through GMime's own API\n");
	g_ptr_array_add(recips, "bob@example.org");
	p7 = g_mime_application_pkcs7_mime_encrypt(entity, GMIME_ENCRYPT_NONE, recips, &err);
	g_assert_no_error(err);
	g_assert_nonnull(p7);
	plain = g_mime_application_pkcs7_mime_decrypt(p7, GMIME_DECRYPT_NONE, NULL, &res, &err);
	g_assert_no_error(err);
	g_assert_nonnull(plain);
	g_assert_cmpint(g_mime_decrypt_result_get_cipher(res), ==, GMIME_CIPHER_ALGO_AES256);
	text = text_of(plain);
	g_assert_cmpstr(text, ==, "encrypted through GMime's own API\n");
	g_free(text);
	g_object_unref(res);
	g_object_unref(plain);
	g_object_unref(p7);

	/* an unknown recipient: a GError naming why */
	g_ptr_array_index(recips, 0) = "nobody@example.org";
	p7 = g_mime_application_pkcs7_mime_encrypt(entity, GMIME_ENCRYPT_NONE, recips, &err);
	g_assert_null(p7);
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "nobody@example.org"));
	g_clear_error(&err);

	/* a directory configured but unreachable (a closed loopback port):
	 * asked once for the message, and the GError says what it meant */
	{
		gs_directory d = { .name = "corp", .conn = { .url = "ldap://127.0.0.1:1/" } };

		g_assert_cmpint(gs_session_set_directories(u.session, &d, 1, 500, NULL), ==, GS_OK);
		p7 = g_mime_application_pkcs7_mime_encrypt(entity, GMIME_ENCRYPT_NONE, recips, &err);
		g_assert_null(p7);
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err->message, "directory corp did not answer in 0.5 s"));
		g_assert_nonnull(strstr(err->message, "nothing about nobody@example.org is cached"));
		g_clear_error(&err);
		g_assert_cmpint(gs_session_set_directories(u.session, NULL, 0, 0, NULL), ==, GS_OK);
	}

	/* opaque signed-data */
	opaque = g_mime_application_pkcs7_mime_sign(entity, "alice@example.org", &err);
	g_assert_no_error(err);
	sigs = g_mime_application_pkcs7_mime_verify(opaque, GMIME_VERIFY_NONE, &inner, &err);
	g_assert_no_error(err);
	g_assert_true(g_mime_signature_get_status(g_mime_signature_list_get_signature(sigs, 0)) &
		      GMIME_SIGNATURE_STATUS_GREEN);
	text = text_of(inner);
	g_assert_cmpstr(text, ==, "encrypted through GMime's own API\n");
	g_free(text);
	g_object_unref(inner);
	g_object_unref(sigs);
	g_object_unref(opaque);
	g_object_unref(entity);
	g_ptr_array_free(recips, TRUE);
	unit_store_close(&u);
}

/* A context without a session says so, and the registry's contexts
 * follow what the host registered. */
static void
test_no_session(void)
{
	GMimeCryptoContext *ctx = gs_context_new(NULL);
	GMimeObject *entity = text_part("x\n");
	GMimeMultipartSigned *mps;
	GError *err = NULL;

	mps = g_mime_multipart_signed_sign(ctx, entity, "alice@example.org", &err);
	g_assert_null(mps);
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "no session"));
	g_clear_error(&err);
	g_object_unref(ctx);
	gs_gmime_register(NULL);
	ctx = g_mime_crypto_context_new("application/pkcs7-mime");
	mps = g_mime_multipart_signed_sign(ctx, entity, "alice@example.org", &err);
	g_assert_null(mps);
	g_assert_nonnull(strstr(err->message, "no session"));
	g_clear_error(&err);
	g_object_unref(ctx);
	g_object_unref(entity);
}

/* gs_entity_parse: an entity as GMime parses it; content without MIME
 * headers in one part holding its bytes (text/plain for ASCII, else
 * application/octet-stream); nothing for nothing; any stream, not only
 * memory. */
static GByteArray *
entity_body(GMimeObject *o)
{
	GByteArray *b = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(b);

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(o)), mem);
	g_object_unref(mem);
	return b;
}

static void
test_entity_parse(void)
{
	static const char entity[] = "Content-Type: text/plain\n\nhello\n";
	static const char bare[] = "This is some sample content.";
	static const unsigned char binary[] = { 0x00, 0xff, 0x10, 'a', 0x80, '\n' };
	GMimeStream *st;
	GMimeObject *o;
	GByteArray *b;
	int headerless = -1;
	char *path = NULL;
	int fd;

	st = g_mime_stream_mem_new_with_buffer(entity, strlen(entity));
	o = gs_entity_parse(st, &headerless);
	g_assert_nonnull(o);
	g_assert_cmpint(headerless, ==, 0);
	g_assert_cmpstr(g_mime_object_get_header(o, "Content-Type"), ==, "text/plain");
	g_object_unref(o);
	g_object_unref(st);

	st = g_mime_stream_mem_new_with_buffer(bare, strlen(bare));
	o = gs_entity_parse(st, &headerless);
	g_assert_nonnull(o);
	g_assert_cmpint(headerless, ==, 1);
	g_assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(o), "text", "plain"));
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(o, "charset"), ==, "us-ascii");
	b = entity_body(o);
	g_assert_cmpmem(b->data, b->len, bare, strlen(bare));
	g_byte_array_unref(b);
	g_object_unref(o);
	g_object_unref(st);

	/* binary, from a file stream: octet-stream, base64, the same bytes */
	fd = g_file_open_tmp("gs-unit-entity.XXXXXX", &path, NULL);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, binary, sizeof binary), ==, (ssize_t) sizeof binary);
	lseek(fd, 0, SEEK_SET);
	st = g_mime_stream_fs_new(fd);
	o = gs_entity_parse(st, &headerless);
	g_assert_nonnull(o);
	g_assert_cmpint(headerless, ==, 1);
	g_assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(o), "application", "octet-stream"));
	g_assert_cmpint(g_mime_part_get_content_encoding(GMIME_PART(o)), ==, GMIME_CONTENT_ENCODING_BASE64);
	b = entity_body(o);
	g_assert_cmpmem(b->data, b->len, binary, sizeof binary);
	g_byte_array_unref(b);
	g_object_unref(o);
	g_object_unref(st);
	g_unlink(path);
	g_free(path);

	st = g_mime_stream_mem_new();
	headerless = -1;
	g_assert_null(gs_entity_parse(st, &headerless));
	g_assert_cmpint(headerless, ==, 0);
	g_object_unref(st);
	g_assert_null(gs_entity_parse(NULL, &headerless));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	gs_init();
	g_test_add_func("/context/registered", test_registered);
	g_test_add_func("/context/no-session", test_no_session);
	g_test_add_func("/context/entity-parse", test_entity_parse);
	g_test_add_func("/context/multipart-signed", test_multipart_signed);
	g_test_add_func("/context/pkcs7-mime", test_pkcs7_mime);
	return g_test_run();
}
