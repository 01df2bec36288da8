/* base64.c: galsmime's base64 decoder, for large parts in memory (an
 * encrypted body of tens of megabytes). It decodes exactly as GMime's
 * g_mime_encoding_base64_decode_step does (every byte outside the
 * alphabet is skipped, the first '=' ends the data, a quartet cut short
 * by it gives what its sextets hold), and as fast as OpenSSL's block
 * decoder or faster: a line that is only whole quartets of the alphabet,
 * met where no quartet is open, is decoded 32 characters at a time with
 * AVX2 where the CPU has it, the rest of it (and all of it elsewhere) a
 * quartet at a time from a table; anything else (white space inside a
 * line, a '=', junk, a line that does not end a quartet) goes through
 * GMime's rule a byte at a time. fuzz-writer checks that both give the
 * same bytes on any input cut in any pieces; test-util, every byte value
 * at every place of a 32-character block. */
#include "gs-private.h"

#include <string.h>

#include "base64-block.h"

static const unsigned char rank[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
	['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
	['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
}; /* the sextet's value + 1; 0: not in the alphabet */

void
gs_base64_init(gs_base64 *b)
{
	b->n = 0;
	b->saved = 0;
}

/* GMime's rule over [p, end): returns the output's new end */
static unsigned char *
slow(gs_base64 *b, const unsigned char *p, const unsigned char *end, unsigned char *o)
{
	for (; p < end; p++) {
		unsigned r = rank[*p];

		if (r) {
			b->saved = (b->saved << 6) | (r - 1);
			if (++b->n == 4) {
				*o++ = (unsigned char) (b->saved >> 16);
				*o++ = (unsigned char) (b->saved >> 8);
				*o++ = (unsigned char) b->saved;
				b->saved = 0;
				b->n = 0;
			}
		} else if (*p == '=') {
			if (b->n > 1) {
				b->saved <<= 6 * (4 - b->n);
				*o++ = (unsigned char) (b->saved >> 16);
				if (b->n > 2)
					*o++ = (unsigned char) (b->saved >> 8);
			}
			b->n = -1;
			break;
		}
	}
	return o;
}

/* [p, end), a whole number of quartets, decoded into o when all of it
 * is the alphabet: the output's new end, or NULL (o's bytes then
 * undefined; the caller decodes the line again by GMime's rule). */
static unsigned char *
fast(const unsigned char *p, const unsigned char *end, unsigned char *o)
{
#ifdef GS_BASE64_AVX2
	if (end - p >= 32 && gs_b64_have_avx2())
		for (; end - p >= 32; p += 32, o += 24)
			if (!gs_b64_block32(p, o))
				return NULL;
#endif
	for (; p < end; p += 4) {
		unsigned a = rank[p[0]], b = rank[p[1]], c = rank[p[2]], d = rank[p[3]];

		if (!a || !b || !c || !d)
			return NULL;
		*o++ = (unsigned char) (((a - 1) << 2) | ((b - 1) >> 4));
		*o++ = (unsigned char) ((((b - 1) & 0x0F) << 4) | ((c - 1) >> 2));
		*o++ = (unsigned char) ((((c - 1) & 0x03) << 6) | (d - 1));
	}
	return o;
}

unsigned char *
gs_base64_decode_whole(const unsigned char *in, size_t len, unsigned char *out)
{
	return len % 4 ? NULL : fast(in, in + len, out);
}

size_t
gs_base64_decode_step(gs_base64 *b, const unsigned char *in, size_t len, unsigned char *out)
{
	const unsigned char *p = in, *end = in + len, *nl, *lend;
	unsigned char *o = out, *q;
	size_t guess = 0;

	/* no search for the first '=' (the data's end): fast() refuses a
	 * line that holds one, which slow() then ends the data at */
	while (p < end && b->n != -1) {
		/* the lines of a base64 body are of one length: where the last
		 * one ended, this one most likely does too. Any chunk will do
		 * (GMime's rule knows no lines, and the fast path refuses a
		 * line end inside one), so a wrong guess costs nothing but the
		 * slow path. */
		if (guess && guess < (size_t) (end - p) && p[guess] == '\n')
			nl = p + guess;
		else
			nl = memchr(p, '\n', (size_t) (end - p));
		guess = nl ? (size_t) (nl - p) : 0;
		lend = nl ? nl : end;
		if (lend > p && lend[-1] == '\r')
			lend--; /* skipped either way */
		if (b->n == 0 && lend - p >= 4 && (lend - p) % 4 == 0 && (q = fast(p, lend, o)))
			o = q; /* only the alphabet, whole quartets */
		else
			o = slow(b, p, nl ? nl : end, o);
		p = nl ? nl + 1 : end;
	}
	return (size_t) (o - out);
}
