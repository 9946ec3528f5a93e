/* engine/gguf.h — read-only GGUF reader (versions 2 and 3).
 *
 * lv_gguf_open() maps the file and validates the whole header before returning:
 * every count, string length, array size, tensor shape, type, offset and the
 * alignment are checked with overflow-safe arithmetic against the file size, so a
 * hostile file is refused with one line in err->msg and never causes a large
 * allocation (tables are bounded by the file's size). After a successful open:
 *   - metadata is looked up by key (lv_gguf_find_key) and read with typed getters
 *     that accept any integer width and range-check it;
 *   - tensors are looked up by name (lv_gguf_find_tensor); `data` points into the
 *     mapping and stays valid until lv_gguf_close().
 * Strings inside the file are not NUL-terminated: getters return pointer + length.
 * Keys and tensor names are copied out and NUL-terminated (they are validated: no
 * NUL bytes, names < 64 bytes).
 *
 * The handle owns the mapping and all tables; lv_gguf_close() frees everything.
 */
#ifndef LV_GGUF_H
#define LV_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

typedef enum {
    LV_GGUF_UINT8 = 0, LV_GGUF_INT8 = 1, LV_GGUF_UINT16 = 2, LV_GGUF_INT16 = 3,
    LV_GGUF_UINT32 = 4, LV_GGUF_INT32 = 5, LV_GGUF_FLOAT32 = 6, LV_GGUF_BOOL = 7,
    LV_GGUF_STRING = 8, LV_GGUF_ARRAY = 9, LV_GGUF_UINT64 = 10, LV_GGUF_INT64 = 11,
    LV_GGUF_FLOAT64 = 12, LV_GGUF_NTYPES = 13
} lv_gguf_vtype;

typedef struct lv_gguf lv_gguf;

typedef struct {
    const char *name;     /* NUL-terminated copy */
    int         type;     /* lv_type (engine/quant.h) */
    int         n_dims;   /* 1..4 */
    uint64_t    ne[4];    /* ne[0] fastest; missing trailing dims are 1 */
    uint64_t    offset;   /* relative to the data section */
    uint64_t    nbytes;
    const void *data;     /* into the mapping */
} lv_gguf_tensor;

/* Opens and validates. On failure returns NULL with err->msg set. */
lv_gguf *lv_gguf_open(const char *path, lv_error *err);
/* Same over a caller-owned buffer (kept alive by the caller until close). */
lv_gguf *lv_gguf_open_memory(const void *buf, size_t len, lv_error *err);
void     lv_gguf_close(lv_gguf *g);

uint32_t    lv_gguf_version(const lv_gguf *g);
uint64_t    lv_gguf_alignment(const lv_gguf *g);
uint64_t    lv_gguf_data_offset(const lv_gguf *g);
uint64_t    lv_gguf_file_size(const lv_gguf *g);

/* Metadata by index 0..n_kv-1. */
int64_t       lv_gguf_n_kv(const lv_gguf *g);
const char   *lv_gguf_kv_key(const lv_gguf *g, int64_t i);
lv_gguf_vtype lv_gguf_kv_type(const lv_gguf *g, int64_t i);
/* Index of key, or -1. */
int64_t       lv_gguf_find_key(const lv_gguf *g, const char *key);

/* Scalar getters by index. Integer getters accept any integer (and bool) type and
 * fail (-1) when the value does not fit; lv_gguf_kv_f64 accepts any number. */
int lv_gguf_kv_i64(const lv_gguf *g, int64_t i, int64_t *out);
int lv_gguf_kv_u64(const lv_gguf *g, int64_t i, uint64_t *out);
int lv_gguf_kv_f64(const lv_gguf *g, int64_t i, double *out);
int lv_gguf_kv_bool(const lv_gguf *g, int64_t i, int *out);
int lv_gguf_kv_str(const lv_gguf *g, int64_t i, const char **s, size_t *len);

/* Arrays: element type and count; raw little-endian element bytes for fixed-size
 * element types (may be unaligned: read with memcpy); string elements by index. */
int lv_gguf_kv_arr(const lv_gguf *g, int64_t i, lv_gguf_vtype *elem_type, uint64_t *count,
                   const void **data);
int lv_gguf_kv_arr_str(const lv_gguf *g, int64_t i, uint64_t j, const char **s, size_t *len);

/* Convenience by key: 0 found, 1 absent, -1 present with a wrong type or range
 * (err filled naming the key). */
int lv_gguf_get_u32(const lv_gguf *g, const char *key, uint32_t *out, lv_error *err);
int lv_gguf_get_f32(const lv_gguf *g, const char *key, float *out, lv_error *err);
int lv_gguf_get_bool(const lv_gguf *g, const char *key, int *out, lv_error *err);
/* Returns a malloc'd NUL-terminated copy in *out (free with lv_free). */
int lv_gguf_get_str(const lv_gguf *g, const char *key, char **out, lv_error *err);

/* Tensors. */
int64_t               lv_gguf_n_tensors(const lv_gguf *g);
const lv_gguf_tensor *lv_gguf_tensor_at(const lv_gguf *g, int64_t i);
const lv_gguf_tensor *lv_gguf_find_tensor(const lv_gguf *g, const char *name);

const char *lv_gguf_vtype_name(lv_gguf_vtype t);

/* ------------------------------------------------------------------ writer
 * Builds a GGUF v3 file: metadata in the order added, then tensor infos, then the
 * tensor payloads back to back, each padded to the alignment (the layout
 * llama.cpp requires). Tensor data is referenced, not copied: it must stay valid
 * until lv_gguf_w_save / lv_gguf_w_to_memory. lv_gguf_w_save writes a temporary
 * file, fsyncs it and renames it over the target, so a crash leaves either the
 * old file or the complete new one. Setters return 0, or -1 with err filled
 * (duplicate key or tensor name, bad type or shape, out of memory). */
typedef struct lv_gguf_writer lv_gguf_writer;

lv_gguf_writer *lv_gguf_writer_new(void);
void lv_gguf_writer_free(lv_gguf_writer *w);

int lv_gguf_w_u32(lv_gguf_writer *w, const char *key, uint32_t v, lv_error *err);
int lv_gguf_w_i32(lv_gguf_writer *w, const char *key, int32_t v, lv_error *err);
int lv_gguf_w_f32(lv_gguf_writer *w, const char *key, float v, lv_error *err);
int lv_gguf_w_bool(lv_gguf_writer *w, const char *key, int v, lv_error *err);
int lv_gguf_w_str(lv_gguf_writer *w, const char *key, const char *s, lv_error *err);
/* Array of fixed-size elements (count elements of elem_type at data). */
int lv_gguf_w_arr(lv_gguf_writer *w, const char *key, lv_gguf_vtype elem_type, const void *data,
                  uint64_t count, lv_error *err);
int lv_gguf_w_arr_str(lv_gguf_writer *w, const char *key, const char *const *s, const size_t *len,
                      uint64_t count, lv_error *err);
/* Copies metadata entry i of g, whatever its type (general.alignment included). */
int lv_gguf_w_copy_kv(lv_gguf_writer *w, const lv_gguf *g, int64_t i, lv_error *err);
/* Adds a tensor of `type` with ne[0..n_dims-1]; data holds its bytes. */
int lv_gguf_w_tensor(lv_gguf_writer *w, const char *name, int type, int n_dims, const uint64_t *ne,
                     const void *data, lv_error *err);

int lv_gguf_w_save(lv_gguf_writer *w, const char *path, lv_error *err);
/* The whole file in one malloc'd buffer (lv_free). */
int lv_gguf_w_to_memory(lv_gguf_writer *w, uint8_t **buf, size_t *len, lv_error *err);

#endif
