/* engine/sha256.h — SHA-256 (FIPS 180-4), streaming and one-shot.
 *
 * Used to verify downloads (datasets/fetch) and to record the hash of every file a
 * suite or a run depends on (model files in the store). No allocation: the caller
 * owns the lv_sha256 context (a plain struct, on the stack is fine) and the output
 * buffers. Hex digests are 64 lowercase characters plus a NUL (LV_SHA256_HEX bytes).
 */
#ifndef LV_SHA256_H
#define LV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

#define LV_SHA256_BYTES 32
#define LV_SHA256_HEX   65

typedef struct {
    uint32_t h[8];       /* chaining state */
    uint64_t n_bytes;    /* total bytes fed so far */
    uint8_t  buf[64];    /* pending partial block */
    size_t   n_buf;      /* bytes in buf, always < 64 */
} lv_sha256;

void lv_sha256_init(lv_sha256 *s);
void lv_sha256_update(lv_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; the context must be re-initialised before reuse. */
void lv_sha256_final(lv_sha256 *s, uint8_t out[LV_SHA256_BYTES]);

/* Lowercase hex of a digest into hex[LV_SHA256_HEX]. */
void lv_sha256_to_hex(const uint8_t digest[LV_SHA256_BYTES], char hex[LV_SHA256_HEX]);
/* One-shot hash of a buffer, as hex. */
void lv_sha256_hex(const void *data, size_t len, char hex[LV_SHA256_HEX]);
/* Hash of a whole file, as hex; *size (may be NULL) gets its length. Returns 0, or -1
 * with err filled when the file cannot be opened or read. */
int  lv_sha256_file(const char *path, char hex[LV_SHA256_HEX], uint64_t *size, lv_error *err);
/* 1 if s is exactly 64 hex digits (either case), else 0. */
int  lv_sha256_valid_hex(const char *s);

#endif
