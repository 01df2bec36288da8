/* base64-block.h: base64 decoded 32 characters at a time with AVX2, for
 * lib/base64.c and for scripts/floor.c (so that the floor decodes as
 * fast as galsmime does). x86-64 with GCC or clang only: elsewhere
 * GS_BASE64_AVX2 is not defined. */
#ifndef GS_BASE64_BLOCK_H
#define GS_BASE64_BLOCK_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GS_BASE64_AVX2 1

/* 32 characters of the alphabet into 24 bytes; 0 (nothing written) when
 * one of them is not in it. Each byte's class comes from two 16-entry
 * tables, one indexed by its high nibble and one by its low: a byte is
 * in the alphabet when the two classes share no bit. Its sextet is the
 * byte plus an offset chosen by its high nibble ('/' apart, the one
 * range that shares its nibble with '+'). Then the four sextets of each
 * quartet are merged into 24 bits (two multiply-adds) and the bytes put
 * in order. Reads 32 bytes, writes exactly 24. */
__attribute__((target("avx2"))) static inline int
gs_b64_block32(const unsigned char *in, unsigned char *out)
{
	const __m256i lo_class = _mm256_setr_epi8(
		0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A,
		0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
	const __m256i hi_class = _mm256_setr_epi8(
		0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
		0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
	/* '+' 43 -> 62, '/' 47 -> 63, '0'-'9' -> 52-61, 'A'-'Z' -> 0-25, 'a'-'z' -> 26-51 */
	const __m256i offset = _mm256_setr_epi8(
		0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i m2f = _mm256_set1_epi8(0x2F);
	__m256i v = _mm256_loadu_si256((const __m256i *) in);
	/* bit 7 cleared: the shuffles read bits 0-3 of the index */
	__m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), m2f);
	__m256i lo = _mm256_and_si256(v, m2f);

	if (!_mm256_testz_si256(_mm256_shuffle_epi8(lo_class, lo), _mm256_shuffle_epi8(hi_class, hi)))
		return 0;
	/* '/' (0x2F) takes the entry before its nibble's */
	v = _mm256_add_epi8(v, _mm256_shuffle_epi8(offset, _mm256_add_epi8(_mm256_cmpeq_epi8(v, m2f), hi)));
	/* a*64+b and c*64+d in 16 bits, then (ab)*4096+(cd) in 32 */
	v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
	v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
	/* each 32-bit value's three low bytes, high first; 12 per lane */
	v = _mm256_shuffle_epi8(v, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2,
						    1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
	v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
	/* exactly 24 bytes: nothing past them is touched */
	_mm_storeu_si128((__m128i *) out, _mm256_castsi256_si128(v));
	_mm_storel_epi64((__m128i *) (out + 16), _mm256_extracti128_si256(v, 1));
	return 1;
}

static inline int
gs_b64_have_avx2(void)
{
	static int have = -1;

	if (have < 0)
		have = __builtin_cpu_supports("avx2") ? 1 : 0;
	return have;
}

#endif /* GS_BASE64_AVX2 */
#endif /* GS_BASE64_BLOCK_H */
