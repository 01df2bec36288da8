/* fuzz-resolve.c: any recipient string (an address in every spelling,
 * "Name <addr>", quotes, comments, groups, stray bytes) against a
 * directory built to trap the resolver: a contact whose display name and
 * name are other people's addresses, contacts claiming other entries'
 * addresses with other certificates, twins, a distribution list, two
 * snapshots of one directory. Checks: no crash, no sanitizer report, and
 * fuzz-gal.h's binding rules on the resolution. */
#include "fuzz-gal.h"

#include <sys/mman.h>

static void
directory(void)
{
	static int done;
	char *a, *c, *bag, *json, *msg = NULL;
	gs_gal_import *imp = NULL;
	gs_gal_stats stats;
	const char *src[] = { "gal", "gal-copy" };
	gsize n;
	int fd, i;

	if (done)
		return;
	done = 1;
	a = g_base64_encode(g_bytes_get_data(fg_values[FG_ALICE], &n), n);
	c = g_base64_encode(g_bytes_get_data(fg_values[FG_CAROL], &n), n);
	bag = g_base64_encode(g_bytes_get_data(fg_values[FG_BAG], &n), n);
	json = g_strdup_printf(
		"[{\"RecipientType\":\"UserMailbox\",\"Name\":\"Alice Example\",\"Alias\":\"alice\","
		"\"DisplayName\":\"Alice Example\",\"PrimarySmtpAddress\":\"alice@example.org\","
		"\"EmailAddresses\":[\"smtp:ali@example.org\"],\"UserCertificate\":[\"%s\"],"
		"\"UserSMIMECertificate\":[\"%s\"]},"
		"{\"RecipientType\":\"MailContact\",\"Name\":\"alice@example.org\",\"Alias\":\"ali\","
		"\"DisplayName\":\"alice@example.org\",\"PrimarySmtpAddress\":\"carol@example.org\","
		"\"EmailAddresses\":[\"smtp:ali@example.org\",\"smtp:bob@example.org\"],"
		"\"UserSMIMECertificate\":[\"%s\"]},"
		"{\"RecipientType\":\"MailContact\",\"Name\":\"Bob\",\"Alias\":\"bob\",\"DisplayName\":\"Bob\","
		"\"PrimarySmtpAddress\":\"bob@example.org\",\"EmailAddresses\":[]},"
		"{\"RecipientType\":\"MailContact\",\"Name\":\"Bob_SMIME\",\"Alias\":\"Bob_SMIME\","
		"\"DisplayName\":\"Bob (S/MIME)\",\"PrimarySmtpAddress\":\"bob@example.org\","
		"\"UserCertificate\":[\"%s\"]},"
		"{\"RecipientType\":\"MailUniversalDistributionGroup\",\"Name\":\"All\",\"Alias\":\"all\","
		"\"DisplayName\":\"Everyone\",\"PrimarySmtpAddress\":\"all@example.org\"}]",
		a, bag, c, a);
	for (i = 0; i < 2; i++) {
		if (gs_gal_import_begin(fg_store, src[i], NULL, &imp, &msg) != GS_OK)
			fg_die("import begin", msg);
		fd = memfd_create("gal", MFD_CLOEXEC);
		if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t) strlen(json))
			fg_die("memfd", NULL);
		lseek(fd, 0, SEEK_SET);
		if (gs_gal_import_file(imp, fd, "dir.json", GS_GAL_JSON, &msg) != GS_OK ||
		    gs_gal_import_commit(imp, &stats, &msg) != GS_OK)
			fg_die("the directory", msg);
		close(fd);
	}
	g_free(a);
	g_free(c);
	g_free(bag);
	g_free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *recipient;

	fg_setup();
	directory();
	if (size > 4096 || memchr(data, 0, size))
		return 0;
	recipient = g_strndup((const char *) data, size);
	fg_check(recipient);
	g_free(recipient);
	return 0;
}
