/* base64.c: galsmime's base64 decoder, for large parts in memory (an
 * encrypted body of tens of megabytes). It decodes exactly as GMime's
 * g_mime_encoding_base64_decode_step does (every byte outside the
 * alphabet is skipped, the first '=' ends the data, a quartet cut short
 * by it gives what its sextets hold), and as fast as OpenSSL's block
 * decoder: a line that is only whole quartets of the alphabet, met where
 * no quartet is open, goes to EVP_DecodeBlock in one call; anything else
 * (white space inside a line, a '=', junk, a line that does not end a
 * quartet) goes through GMime's rule a byte at a time. fuzz-writer checks
 * that both give the same bytes on any input cut in any pieces. */
#include "gs-private.h"

#include <limits.h>
#include <string.h>

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

size_t
gs_base64_decode_step(gs_base64 *b, const unsigned char *in, size_t len, unsigned char *out)
{
	const unsigned char *p = in, *end = in + len, *nl, *lend, *eq;
	unsigned char *o = out;
	size_t guess = 0;

	/* the first '=' (the data's end), found once: a chunk before it
	 * holds none */
	eq = memchr(in, '=', len);
	if (!eq)
		eq = end;
	while (p < end && b->n != -1) {
		/* the lines of a base64 body are of one length: where the last
		 * one ended, this one most likely does too. Any chunk will do
		 * (GMime's rule knows no lines, and EVP_DecodeBlock refuses a
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
		if (b->n == 0 && lend - p >= 4 && (lend - p) % 4 == 0 && (lend - p) <= INT_MAX && lend <= eq &&
		    EVP_DecodeBlock(o, p, (int) (lend - p)) == (int) ((lend - p) / 4 * 3)) {
			/* only the alphabet: EVP_DecodeBlock refuses any other
			 * byte but '=' (which it reads as a zero sextet), and
			 * what it trims at the ends would shorten the result */
			o += (lend - p) / 4 * 3;
		} else {
			o = slow(b, p, nl ? nl : end, o);
		}
		p = nl ? nl + 1 : end;
	}
	return (size_t) (o - out);
}
