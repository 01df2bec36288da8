/* fuzz-reader.h: an input read as a stream of choices, for the targets
 * that build structured data from the fuzzer's bytes (fuzz-galstore,
 * fuzz-mutt's hostile GAL). Missing bytes read as 0. */
#ifndef GALSMIME_FUZZ_READER_H
#define GALSMIME_FUZZ_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct reader {
	const uint8_t *p;
	size_t n;
} reader;

/* The next byte, modulo `mod` (0: the byte itself). */
static unsigned
next(reader *r, unsigned mod)
{
	unsigned v = 0;

	if (r->n) {
		v = *r->p++;
		r->n--;
	}
	return mod ? v % mod : v;
}

#endif
