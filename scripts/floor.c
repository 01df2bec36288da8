/* floor: the unavoidable work of one S/MIME operation on a message, and
 * nothing else, for scripts/bench to measure galsmime against.
 *
 *   floor OP < MESSAGE > OUT
 *
 * It reads stdin in 1 MiB blocks and writes each block's result at once
 * (no copy of the whole message is ever held), doing with OpenSSL's EVP
 * calls in large blocks only what any implementation must do to the
 * bytes:
 *
 *   sign          SHA-256 over the message (as it is: no CRLF form, which
 *                 costs a real signer a pass more), the message out
 *   verify        the same (a verifier hashes what it shows)
 *   encrypt       AES-256-CBC over the message, base64 out (64 columns,
 *                 EVP_EncodeUpdate, which runs EVP_EncodeBlock per line)
 *   sign+encrypt  SHA-256, then AES-256-CBC and base64 out
 *   decrypt       the header block copied, base64 of the body decoded
 *                 (line ends dropped with memchr, then the whole run 32
 *                 characters at a time with AVX2 as galsmime does,
 *                 lib/base64-block.h, the rest with EVP_DecodeBlock:
 *                 EVP_DecodeUpdate is a character-at-a-time state machine
 *                 several times slower), AES-256-CBC decrypt, out
 *
 * The key and IV are fixed: the public-key operations (one RSA
 * signature or a few RSA encryptions, about a millisecond) and the
 * certificate and key decoding are left out, so the floor is below any
 * real implementation. Nothing is checked: decrypt of bytes that were
 * not encrypted with the fixed key writes garbage, at the same speed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <openssl/evp.h>

#include "../lib/base64-block.h"

#define BLOCK (1 << 20)

static unsigned char in[BLOCK], mid[BLOCK + 64], out[2 * BLOCK + 4096], b64[BLOCK + 8];
static size_t b64len; /* base64 characters carried over: fewer than 4 */

static void die(const char *what);

/* Decode a block of base64 lines into out: line ends and padding are
 * dropped, whole quads decoded at once, the rest kept for the next block
 * (or for `last`). Returns the bytes decoded. */
static size_t
decode_b64(const unsigned char *p, size_t n, unsigned char *dst, int last)
{
	const unsigned char *end = p + n, *nl;
	size_t q, i;
	int r;

	while (p < end) {
		nl = memchr(p, '\n', (size_t) (end - p));
		q = (size_t) ((nl ? nl : end) - p);
		if (q && p[q - 1] == '\r')
			q--;
		while (q && p[q - 1] == '=')
			q--;
		memcpy(b64 + b64len, p, q);
		b64len += q;
		p = nl ? nl + 1 : end;
	}
	q = last ? b64len : b64len & ~(size_t) 3;
	if (q == 0)
		return 0;
	n = 0;
	i = 0; /* n = i / 4 * 3 */
#ifdef GS_BASE64_AVX2
	if (gs_b64_have_avx2())
		for (; i + 32 <= (q & ~(size_t) 3) && gs_b64_block32(b64 + i, dst + n); i += 32, n += 24)
			;
#endif
	r = EVP_DecodeBlock(dst + n, b64 + i, (int) ((q & ~(size_t) 3) - i));
	if (r < 0)
		die("decrypt: not base64");
	n += (size_t) r;
	if (last && (q & 3) >= 2) { /* a final partial quad: 1 or 2 bytes */
		unsigned char quad[4] = { 'A', 'A', 'A', 'A' }, o[3];
		memcpy(quad, b64 + (q & ~(size_t) 3), q & 3);
		if (EVP_DecodeBlock(o, quad, 4) < 0)
			die("decrypt: not base64");
		memcpy(dst + n, o, (q & 3) - 1);
		n += (q & 3) - 1;
	}
	memmove(b64, b64 + q, b64len - q);
	b64len -= q;
	return n;
}

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	exit(1);
}

static size_t
read_block(unsigned char *buf, size_t size)
{
	size_t n = 0;

	while (n < size) {
		ssize_t r = read(0, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read error");
		if (r == 0)
			break;
		n += (size_t) r;
	}
	return n;
}

static void
write_all(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(1, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write error");
		b += w;
		n -= (size_t) w;
	}
}

int
main(int argc, char **argv)
{
	static const unsigned char key[32] = { 1 }, iv[16] = { 2 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	EVP_MD_CTX *mctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	EVP_ENCODE_CTX *ectx = NULL;
	const char *op = argc == 2 ? argv[1] : "";
	int hash = 0, enc = 0, dec = 0, n, m;
	size_t got;

	if (!strcmp(op, "sign") || !strcmp(op, "verify"))
		hash = 1;
	else if (!strcmp(op, "encrypt"))
		enc = 1;
	else if (!strcmp(op, "sign+encrypt"))
		hash = enc = 1;
	else if (!strcmp(op, "decrypt"))
		dec = 1;
	else
		die("usage: floor sign|verify|encrypt|sign+encrypt|decrypt < MESSAGE > OUT");

	if (hash && (!(mctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(mctx, EVP_sha256(), NULL)))
		die("SHA-256");
	if ((enc || dec) &&
	    (!(cctx = EVP_CIPHER_CTX_new()) || !EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, iv, enc)))
		die("AES-256-CBC");
	if (enc && !(ectx = EVP_ENCODE_CTX_new()))
		die("base64");
	if (enc)
		EVP_EncodeInit(ectx);
	if (dec) {
		/* the header block goes out as it is; the body is base64 */
		unsigned char *body;

		got = read_block(in, BLOCK);
		if ((body = memmem(in, got, "\n\n", 2)))
			body += 2;
		else if ((body = memmem(in, got, "\r\n\r\n", 4)))
			body += 4;
		else
			die("decrypt: no header block in the first MiB");
		write_all(in, (size_t) (body - in));
		got -= (size_t) (body - in);
		memmove(in, body, got);
		got += read_block(in + got, BLOCK - got);
	} else {
		got = read_block(in, BLOCK);
	}

	for (; got > 0; got = read_block(in, BLOCK)) {
		if (hash && !EVP_DigestUpdate(mctx, in, got))
			die("SHA-256");
		if (enc) {
			if (!EVP_CipherUpdate(cctx, mid, &n, in, (int) got) ||
			    !EVP_EncodeUpdate(ectx, out, &m, mid, n))
				die("encrypt");
			write_all(out, (size_t) m);
		} else if (dec) {
			n = (int) decode_b64(in, got, mid, 0);
			if (!EVP_CipherUpdate(cctx, out, &m, mid, n))
				die("decrypt");
			write_all(out, (size_t) m);
		} else {
			write_all(in, got);
		}
	}

	if (hash && !EVP_DigestFinal_ex(mctx, md, &mdlen))
		die("SHA-256");
	if (enc) {
		if (!EVP_CipherFinal_ex(cctx, mid, &n) || !EVP_EncodeUpdate(ectx, out, &m, mid, n))
			die("encrypt");
		write_all(out, (size_t) m);
		EVP_EncodeFinal(ectx, out, &m);
		write_all(out, (size_t) m);
	} else if (dec) {
		n = (int) decode_b64(in, 0, mid, 1);
		if (!EVP_CipherUpdate(cctx, out, &m, mid, n))
			die("decrypt");
		write_all(out, (size_t) m);
		/* bytes never encrypted with the key: the padding is garbage too */
		if (EVP_CipherFinal_ex(cctx, out, &m))
			write_all(out, (size_t) m);
	}
	EVP_MD_CTX_free(mctx);
	EVP_CIPHER_CTX_free(cctx);
	EVP_ENCODE_CTX_free(ectx);
	return 0;
}
