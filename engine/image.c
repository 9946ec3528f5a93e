/* engine/image.c — decode, reduce and preprocess images (see image.h).
 *
 * The llama.cpp filters reproduce clip.cpp c392e50 operation for operation in
 * float (with -ffp-contract=off, so no fused multiply-adds change a rounding); the
 * Pillow bicubic reproduces libImaging/Resample.c's 8-bit fixed-point path.
 */
#include "engine/image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/stb_image_impl.h"

/* Decoder memory: generous for JPEG planes and PNG filter buffers, hard-capped. */
#define DECODE_MEM_PER_PIXEL 16u
#define DECODE_MEM_BASE      ((size_t)64 << 20)

/* ==== decoding ================================================================= */

/* Names the format of buf from its magic bytes: "jpeg", "png", another name for a
 * recognised format we refuse, or NULL when unknown. */
static const char *sniff_format(const uint8_t *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
    if (n >= 4 && memcmp(b, "GIF8", 4) == 0) return "GIF";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && memcmp(b, "8BPS", 4) == 0) return "PSD";
    if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM";
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
    if (n >= 4 && memcmp(b, "\x00\x00\x01\x00", 4) == 0) return "ICO";
    return NULL;
}

/* Reads the declared size from a PNG IHDR or the first JPEG SOFn marker, so an
 * oversized header gets a clear message (stb only says "unknown image type").
 * Returns 0 and the size, or -1 when not found. */
static int peek_size(const uint8_t *b, size_t n, const char *fmt, uint32_t *w, uint32_t *h)
{
    size_t i;
    if (strcmp(fmt, "png") == 0) {
        if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0) return -1;
        *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
        *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
        return 0;
    }
    for (i = 2; i + 9 <= n;) {          /* JPEG: walk the marker segments */
        uint8_t m;
        size_t len;
        if (b[i] != 0xFF) return -1;
        m = b[i + 1];
        if (m == 0xFF) { i++; continue; }
        len = (size_t)b[i + 2] << 8 | b[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *h = (uint32_t)b[i + 5] << 8 | b[i + 6];
            *w = (uint32_t)b[i + 7] << 8 | b[i + 8];
            return 0;
        }
        if (m == 0xDA || len < 2) return -1;
        i += 2 + len;
    }
    return -1;
}

void lv_image_free(lv_image *img)
{
    if (!img) return;
    lv_free(img->rgb);
    memset(img, 0, sizeof *img);
}

int lv_image_decode(const void *buf, size_t len, lv_image *out, lv_error *err)
{
    const char *fmt;
    int w = 0, h = 0;
    uint8_t *rgb = NULL;
    size_t cap;

    memset(out, 0, sizeof *out);
    if (!buf || len == 0) return lv_errorf(err, "empty image file");
    fmt = sniff_format(buf, len);
    if (!fmt) return lv_errorf(err, "not a JPEG or PNG image (unknown format)");
    if (strcmp(fmt, "jpeg") != 0 && strcmp(fmt, "png") != 0)
        return lv_errorf(err, "not a JPEG or PNG image (%s data)", fmt);
    if (len > LV_IMAGE_MAX_FILE_BYTES)
        return lv_errorf(err, "image file too large (%zu bytes, max %u)", len,
                         LV_IMAGE_MAX_FILE_BYTES);
    {
        uint32_t dw, dh;
        if (peek_size(buf, len, fmt, &dw, &dh) == 0 &&
            (dw > LV_IMAGE_MAX_SIDE || dh > LV_IMAGE_MAX_SIDE ||
             (uint64_t)dw * dh > LV_IMAGE_MAX_PIXELS))
            return lv_errorf(err, "image too large: %ux%u (max side %d, max %u pixels)", dw, dh,
                             LV_IMAGE_MAX_SIDE, LV_IMAGE_MAX_PIXELS);
    }
    cap = DECODE_MEM_BASE + (size_t)LV_IMAGE_MAX_PIXELS * DECODE_MEM_PER_PIXEL;
    {
        /* Size the arena from the header so a small image cannot use a huge budget. */
        int iw, ih, comp;
        if (lv_stbi_info(buf, len, &iw, &ih, &comp, err)) return -1;
        if (iw > 0 && ih > 0 && (uint64_t)iw * (uint64_t)ih <= LV_IMAGE_MAX_PIXELS)
            cap = DECODE_MEM_BASE + (size_t)iw * (size_t)ih * DECODE_MEM_PER_PIXEL;
    }
    if (lv_stbi_decode(buf, len, LV_IMAGE_MAX_SIDE, LV_IMAGE_MAX_PIXELS, cap, &w, &h, &rgb,
                       err))
        return -1;
    out->w = w;
    out->h = h;
    out->rgb = rgb;
    return 0;
}

int lv_image_load(const char *path, lv_image *out, lv_error *err)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd, rc = -1;

    memset(out, 0, sizeof *out);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lv_errorf(err, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        lv_errorf(err, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        lv_errorf(err, "%s: not a regular file", path);
        goto done;
    }
    if (st.st_size == 0) {
        lv_errorf(err, "%s: empty image file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > LV_IMAGE_MAX_FILE_BYTES) {
        lv_errorf(err, "%s: image file too large (%lld bytes, max %u)", path,
                  (long long)st.st_size, LV_IMAGE_MAX_FILE_BYTES);
        goto done;
    }
    buf = lv_malloc((size_t)st.st_size);
    if (!buf) {
        lv_errorf(err, "%s: out of memory", path);
        goto done;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            lv_errorf(err, "%s: read failed", path);
            goto done;
        }
        got += (size_t)r;
    }
    if (lv_image_decode(buf, got, out, err)) {
        lv_error e2;
        lv_errorf(&e2, "%s: %s", path, err ? err->msg : "decode failed");
        if (err) *err = e2;
        goto done;
    }
    rc = 0;
done:
    lv_free(buf);
    close(fd);
    return rc;
}

/* ==== helpers ================================================================== */

static int image_alloc(lv_image *img, int w, int h, lv_error *err)
{
    size_t n;
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || w > 65536 || h > 65536 ||
        (uint64_t)w * (uint64_t)h > (uint64_t)LV_IMAGE_MAX_PIXELS * 4)
        return lv_errorf(err, "bad image size %dx%d", w, h);
    n = (size_t)w * (size_t)h * 3;
    img->rgb = lv_calloc(n, 1);
    if (!img->rgb) return lv_errorf(err, "out of memory for a %dx%d image", w, h);
    img->w = w;
    img->h = h;
    return 0;
}

static int image_copy(const lv_image *src, lv_image *out, lv_error *err)
{
    if (image_alloc(out, src->w, src->h, err)) return -1;
    memcpy(out->rgb, src->rgb, (size_t)src->w * (size_t)src->h * 3);
    return 0;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* clip.cpp's u8 conversion: std::round (half away from zero), clamp to 0..255. */
static uint8_t round_u8(float v)
{
    float r = roundf(v);
    if (r < 0.0f) r = 0.0f;
    if (r > 255.0f) r = 255.0f;
    return (uint8_t)r;
}

/* ==== resolution reduction ===================================================== */

void lv_image_reduced_size(int w, int h, int r, int *out_w, int *out_h)
{
    int longer = w > h ? w : h;
    *out_w = w;
    *out_h = h;
    if (r <= 0 || longer <= r) return;
    if (w >= h) {
        *out_w = r;
        *out_h = (int)floor((double)h * r / w + 0.5);
    } else {
        *out_h = r;
        *out_w = (int)floor((double)w * r / h + 0.5);
    }
    if (*out_w < 1) *out_w = 1;
    if (*out_h < 1) *out_h = 1;
}

/* Box-filter weights for one axis in → out (out ≤ in): output i covers the source
 * interval [i·s, (i+1)·s), s = in/out; pixel j gets the length of its overlap / s.
 * first[i] is the first source index, cnt[i] the count, wts[i·kmax + k] the weights. */
static int box_weights(int in, int out, int **first, int **cnt, float **wts, int *kmax,
                       lv_error *err)
{
    double s = (double)in / out;
    int km = (int)ceil(s) + 2, i;
    *first = lv_malloc(sizeof(int) * (size_t)out);
    *cnt = lv_malloc(sizeof(int) * (size_t)out);
    *wts = lv_calloc((size_t)out * (size_t)km, sizeof(float));
    if (!*first || !*cnt || !*wts) return lv_errorf(err, "out of memory");
    for (i = 0; i < out; i++) {
        double lo = i * s, hi = (i + 1) * s;
        int j0 = (int)floor(lo), j1 = (int)ceil(hi), j, k = 0;
        if (j1 > in) j1 = in;
        if (i == out - 1) hi = in;
        for (j = j0; j < j1 && k < km; j++) {
            double a = j > lo ? j : lo, b = j + 1 < hi ? j + 1 : hi;
            if (b > a) (*wts)[(size_t)i * km + k++] = (float)((b - a) / (hi - lo));
            else if (k == 0) j0 = j + 1;
        }
        (*first)[i] = j0;
        (*cnt)[i] = k;
    }
    *kmax = km;
    return 0;
}

int lv_image_reduce(const lv_image *src, int r, lv_image *out, lv_error *err)
{
    int ow, oh, kx = 0, ky = 0, x, y, c, k, rc = -1;
    int *fx = NULL, *nx = NULL, *fy = NULL, *ny = NULL;
    float *wx = NULL, *wy = NULL, *tmp = NULL;   /* tmp: [src h][ow][3] */

    memset(out, 0, sizeof *out);
    lv_image_reduced_size(src->w, src->h, r, &ow, &oh);
    if (ow == src->w && oh == src->h) return image_copy(src, out, err);
    if (box_weights(src->w, ow, &fx, &nx, &wx, &kx, err) ||
        box_weights(src->h, oh, &fy, &ny, &wy, &ky, err))
        goto done;
    tmp = lv_calloc((size_t)src->h * (size_t)ow * 3, sizeof(float));
    if (!tmp) {
        lv_errorf(err, "out of memory");
        goto done;
    }
    if (image_alloc(out, ow, oh, err)) goto done;
    for (y = 0; y < src->h; y++) {           /* horizontal pass */
        const uint8_t *row = src->rgb + (size_t)y * src->w * 3;
        for (x = 0; x < ow; x++)
            for (c = 0; c < 3; c++) {
                float acc = 0.0f;
                for (k = 0; k < nx[x]; k++)
                    acc += wx[(size_t)x * kx + k] * row[(size_t)(fx[x] + k) * 3 + c];
                tmp[((size_t)y * ow + x) * 3 + c] = acc;
            }
    }
    for (y = 0; y < oh; y++)                 /* vertical pass */
        for (x = 0; x < ow; x++)
            for (c = 0; c < 3; c++) {
                float acc = 0.0f;
                for (k = 0; k < ny[y]; k++)
                    acc += wy[(size_t)y * ky + k] * tmp[((size_t)(fy[y] + k) * ow + x) * 3 + c];
                out->rgb[((size_t)y * ow + x) * 3 + c] = round_u8(acc);
            }
    rc = 0;
done:
    if (rc) lv_image_free(out);
    lv_free(fx); lv_free(nx); lv_free(wx);
    lv_free(fy); lv_free(ny); lv_free(wy);
    lv_free(tmp);
    return rc;
}

/* ==== llama.cpp (clip.cpp c392e50) filters ====================================== */

/* §3.2 step 2. Writes an s×s image; only the first nx3·ny3 pixels (row stride nx3,
 * as clip.cpp indexes) are meaningful when src is not square. *written = nx3·ny3. */
static int bilinear_llamacpp(const lv_image *src, int s, lv_image *out, int *written,
                             lv_error *err)
{
    const int nx = src->w, ny = src->h;
    const float scale = (float)(nx > ny ? nx : ny) / (float)s;
    const int nx3 = (int)((float)nx / scale + 0.5f);
    const int ny3 = (int)((float)ny / scale + 0.5f);
    int x, y, c;

    if (image_alloc(out, s, s, err)) return -1;
    if ((int64_t)nx3 * ny3 > (int64_t)s * s) {
        lv_image_free(out);
        return lv_errorf(err, "bilinear: bad size");
    }
    for (y = 0; y < ny3; y++)
        for (x = 0; x < nx3; x++)
            for (c = 0; c < 3; c++) {
                const float sx = ((float)x + 0.5f) * scale - 0.5f;
                const float sy = ((float)y + 0.5f) * scale - 0.5f;
                const int x0 = clampi((int)floorf(sx), 0, INT_MAX);
                const int y0 = clampi((int)floorf(sy), 0, INT_MAX);
                const int x1 = x0 + 1 < nx - 1 ? x0 + 1 : nx - 1;
                const int y1 = y0 + 1 < ny - 1 ? y0 + 1 : ny - 1;
                const float dx = sx - (float)x0, dy = sy - (float)y0;
                const float v00 = src->rgb[3 * ((size_t)y0 * nx + x0) + c];
                const float v01 = src->rgb[3 * ((size_t)y0 * nx + x1) + c];
                const float v10 = src->rgb[3 * ((size_t)y1 * nx + x0) + c];
                const float v11 = src->rgb[3 * ((size_t)y1 * nx + x1) + c];
                const float v0 = v00 * (1.0f - dx) + v01 * dx;
                const float v1 = v10 * (1.0f - dx) + v11 * dx;
                const float v2 = v0 * (1.0f - dy) + v1 * dy;
                out->rgb[3 * ((size_t)y * nx3 + x) + c] = round_u8(v2);
            }
    *written = nx3 * ny3;
    return 0;
}

int lv_image_resize_bilinear_llamacpp(const lv_image *src, int s, lv_image *out, lv_error *err)
{
    int written;
    return bilinear_llamacpp(src, s, out, &written, err);
}

/* One cubic step of clip.cpp's bicubic_resize: the coefficients are computed in
 * double (its constants are double) and stored to float; the polynomial in float. */
static float cubic_llamacpp(float pm1, float p0, float p1, float p2, float d)
{
    const float d0 = pm1 - p0, d2 = p1 - p0, d3 = p2 - p0, a0 = p0;
    const float a1 = (float)(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
    const float a2 = (float)(1.0 / 2 * d0 + 1.0 / 2 * d2);
    const float a3 = (float)(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
    return a0 + a1 * d + a2 * d * d + a3 * d * d * d;
}

int lv_image_resize_bicubic_llamacpp(const lv_image *src, int tw, int th, lv_image *out,
                                     lv_error *err)
{
    const int nx = src->w, ny = src->h;
    const float tx = (float)nx / (float)tw, ty = (float)ny / (float)th;
    int i, j, k, jj;

    if (image_alloc(out, tw, th, err)) return -1;
    for (i = 0; i < th; i++)
        for (j = 0; j < tw; j++) {
            const int x = (int)(tx * (float)j), y = (int)(ty * (float)i);
            const float dx = tx * (float)j - (float)x, dy = ty * (float)i - (float)y;
            const int xs[4] = { clampi(x - 1, 0, nx - 1), clampi(x, 0, nx - 1),
                                clampi(x + 1, 0, nx - 1), clampi(x + 2, 0, nx - 1) };
            for (k = 0; k < 3; k++) {
                float C[4];
                for (jj = 0; jj < 4; jj++) {
                    const uint8_t *row = src->rgb + (size_t)clampi(y - 1 + jj, 0, ny - 1) * nx * 3;
                    C[jj] = cubic_llamacpp(row[xs[0] * 3 + k], row[xs[1] * 3 + k],
                                           row[xs[2] * 3 + k], row[xs[3] * 3 + k], dx);
                }
                out->rgb[((size_t)i * tw + j) * 3 + k] =
                    round_u8(cubic_llamacpp(C[0], C[1], C[2], C[3], dy));
            }
        }
    return 0;
}

/* ==== Pillow bicubic (libImaging/Resample.c, 8 bits per channel) ================ */

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double pil_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Fixed-point coefficients for one axis: bounds[2i] = xmin, bounds[2i+1] = count,
 * kk[i·ksize + k] the Q22 weights. */
static int pil_coeffs(int in, int out, int **bounds, int32_t **kk, int *ksize, lv_error *err)
{
    double scale = (double)in / out, fscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * fscale, *pre;
    int ks = (int)ceil(support) * 2 + 1, i, x;

    *bounds = lv_malloc(sizeof(int) * 2 * (size_t)out);
    *kk = lv_calloc((size_t)out * (size_t)ks, sizeof(int32_t));
    pre = lv_calloc((size_t)ks, sizeof(double));
    if (!*bounds || !*kk || !pre) {
        lv_free(pre);
        return lv_errorf(err, "out of memory");
    }
    for (i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, ww = 0.0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        if (xmax > ks) xmax = ks;
        for (x = 0; x < xmax; x++) {
            double w = pil_bicubic((x + xmin - center + 0.5) * ss);
            pre[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++) {
            double w = ww != 0.0 ? pre[x] / ww : pre[x];
            (*kk)[(size_t)i * ks + x] = w < 0 ? (int32_t)(-0.5 + w * (1 << PIL_PRECISION_BITS))
                                              : (int32_t)(0.5 + w * (1 << PIL_PRECISION_BITS));
        }
        (*bounds)[2 * i] = xmin;
        (*bounds)[2 * i + 1] = xmax;
    }
    lv_free(pre);
    *ksize = ks;
    return 0;
}

static uint8_t pil_clip8(int32_t v)
{
    v >>= PIL_PRECISION_BITS;   /* arithmetic shift: floor */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One pass along x (horizontal) or y (vertical). */
static int pil_pass(const lv_image *src, int horizontal, int out_n, lv_image *out, lv_error *err)
{
    const int in_n = horizontal ? src->w : src->h;
    int *bounds = NULL, ks = 0, rc = -1, a, b, c, k;
    int32_t *kk = NULL;

    if (pil_coeffs(in_n, out_n, &bounds, &kk, &ks, err)) goto done;
    if (image_alloc(out, horizontal ? out_n : src->w, horizontal ? src->h : out_n, err))
        goto done;
    for (a = 0; a < out->h; a++)
        for (b = 0; b < out->w; b++) {
            const int i = horizontal ? b : a;   /* index along the resampled axis */
            const int xmin = bounds[2 * i], n = bounds[2 * i + 1];
            const int32_t *w = kk + (size_t)i * ks;
            for (c = 0; c < 3; c++) {
                int32_t acc = 1 << (PIL_PRECISION_BITS - 1);
                for (k = 0; k < n; k++) {
                    size_t at = horizontal ? ((size_t)a * src->w + xmin + k)
                                           : ((size_t)(xmin + k) * src->w + b);
                    acc += (int32_t)src->rgb[at * 3 + c] * w[k];
                }
                out->rgb[((size_t)a * out->w + b) * 3 + c] = pil_clip8(acc);
            }
        }
    rc = 0;
done:
    lv_free(bounds);
    lv_free(kk);
    return rc;
}

int lv_image_resize_bicubic_pil(const lv_image *src, int tw, int th, lv_image *out, lv_error *err)
{
    lv_image tmp = {0};
    int rc;
    memset(out, 0, sizeof *out);
    if (tw <= 0 || th <= 0) return lv_errorf(err, "bad resize target %dx%d", tw, th);
    if (tw == src->w && th == src->h) return image_copy(src, out, err);
    if (tw == src->w) return pil_pass(src, 0, th, out, err);
    if (th == src->h) return pil_pass(src, 1, tw, out, err);
    if (pil_pass(src, 1, tw, &tmp, err)) return -1;
    rc = pil_pass(&tmp, 0, th, out, err);
    lv_image_free(&tmp);
    return rc;
}

/* ==== preprocessing ============================================================ */

int lv_image_mode_from_name(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "llava") == 0) return LV_IMAGE_LLAVA;
    if (strcmp(name, "llama.cpp") == 0) return LV_IMAGE_LLAMACPP;
    return -1;
}

const char *lv_image_mode_name(lv_image_mode mode)
{
    return mode == LV_IMAGE_LLAMACPP ? "llama.cpp" : mode == LV_IMAGE_LLAVA ? "llava" : "?";
}

void lv_image_batch_free(lv_image_batch *b)
{
    if (!b) return;
    lv_free(b->pix);
    lv_free(b->u8);
    memset(b, 0, sizeof *b);
}

int lv_image_best_pinpoint(const lv_image_params *p, int w, int h, lv_image_mode mode)
{
    int best = -1, i;
    long long best_eff = 0, best_waste = LLONG_MAX;
    for (i = 0; i < p->n_pinpoints; i++) {
        const int W = p->pinpoints[i][0], H = p->pinpoints[i][1];
        long long dw, dh, eff, waste;
        if (mode == LV_IMAGE_LLAMACPP) {
            float sw = (float)W / (float)w, sh = (float)H / (float)h;
            float s = sw < sh ? sw : sh;
            dw = (long long)((float)w * s);
            dh = (long long)((float)h * s);
        } else {
            double sw = (double)W / w, sh = (double)H / h, s = sw < sh ? sw : sh;
            dw = (long long)(w * s);
            dh = (long long)(h * s);
        }
        eff = dw * dh < (long long)w * h ? dw * dh : (long long)w * h;
        waste = (long long)W * H - eff;
        if (eff > best_eff || (eff == best_eff && waste < best_waste)) {
            best_eff = eff;
            best_waste = waste;
            best = i;
        }
    }
    return best;
}

/* Normalizes an S×S u8 tile into f32 (§3.2 step 3; the same bits as HF's float32
 * rescale + normalize, §7.2). Only the first n_px pixels; the rest stay 0.0. */
static void normalize_tile(const uint8_t *u8, size_t n_px, const lv_image_params *p, float *out)
{
    size_t i;
    int c;
    for (i = 0; i < n_px; i++)
        for (c = 0; c < 3; c++)
            out[i * 3 + c] = ((float)u8[i * 3 + c] / 255.0f - p->mean[c]) / p->std[c];
}

/* Copies a w×h region of src at (sx, sy) into dst at (dx, dy); caller checks bounds. */
static void blit(const lv_image *src, int sx, int sy, int w, int h, lv_image *dst, int dx, int dy)
{
    int y;
    for (y = 0; y < h; y++)
        memcpy(dst->rgb + ((size_t)(dy + y) * dst->w + dx) * 3,
               src->rgb + ((size_t)(sy + y) * src->w + sx) * 3, (size_t)w * 3);
}

static int batch_alloc(lv_image_batch *b, int n_img, int s, lv_error *err)
{
    size_t n = (size_t)n_img * s * s * 3;
    b->n_img = n_img;
    b->size = s;
    b->pix = lv_calloc(n, sizeof(float));
    b->u8 = lv_calloc(n, 1);
    if (!b->pix || !b->u8) return lv_errorf(err, "out of memory for %d image tiles", n_img);
    return 0;
}

/* Pads img to a square of side max(w,h) with bg; centred (llava) or top-left. */
static int pad_square(const lv_image *img, const uint8_t bg[3], int centre, lv_image *out,
                      lv_error *err)
{
    int L = img->w > img->h ? img->w : img->h;
    size_t i;
    if (image_alloc(out, L, L, err)) return -1;
    for (i = 0; i < (size_t)L * L; i++) memcpy(out->rgb + i * 3, bg, 3);
    blit(img, 0, 0, img->w, img->h, out, centre ? (L - img->w) / 2 : 0,
         centre ? (L - img->h) / 2 : 0);
    return 0;
}

/* CLIPImageProcessor's resize + crop (§7.2 step 2): the short side becomes S and
 * the long side int(S·long/short), with PIL bicubic; then the centre S×S crop. */
static int clip_processor_resize_crop(const lv_image *in, int S, lv_image *out, lv_error *err)
{
    const int short_side = in->w <= in->h ? in->w : in->h;
    const int long_side = in->w <= in->h ? in->h : in->w;
    const int scaled = (int)((long long)S * long_side / short_side);   /* ≥ S */
    const int nw = in->w <= in->h ? S : scaled, nh = in->w <= in->h ? scaled : S;
    const int top = (nh - S) / 2, left = (nw - S) / 2;
    lv_image r = {0};
    if (lv_image_resize_bicubic_pil(in, nw, nh, &r, err)) return -1;
    if (image_alloc(out, S, S, err)) {
        lv_image_free(&r);
        return -1;
    }
    blit(&r, left, top, S, S, out, 0, 0);
    lv_image_free(&r);
    return 0;
}

/* llava-1.5 and flat models. */
static int preprocess_single(const lv_image *img, const lv_image_params *p, lv_image_mode mode,
                             lv_image_batch *b, lv_error *err)
{
    const int S = p->image_size;
    lv_image sq = {0}, rs = {0};
    const lv_image *in = img;
    /* pad_to_square is on unless the file says spatial_unpad (llava-gguf §3.2). */
    const int pad = !p->spatial_unpad;
    int rc = -1;
    size_t n_px = (size_t)S * S;

    if (batch_alloc(b, 1, S, err)) goto done;
    if (mode == LV_IMAGE_LLAMACPP) {
        static const uint8_t bg[3] = { 122, 116, 104 };
        int written;
        if (pad && img->w != img->h) {
            if (pad_square(img, bg, 0, &sq, err)) goto done;
            in = &sq;
        }
        if (bilinear_llamacpp(in, S, &rs, &written, err)) goto done;
        n_px = (size_t)written;
    } else {
        /* expand2square, then CLIPImageProcessor: shortest edge → S (PIL bicubic),
         * centre crop S×S. */
        if (pad && img->w != img->h) {
            uint8_t bg[3];
            int c;
            for (c = 0; c < 3; c++) {           /* int(255·mean), clamped (mean is checked) */
                double v = p->mean[c] * 255.0;
                bg[c] = (uint8_t)(v <= 0.0 ? 0 : v >= 255.0 ? 255 : (int)v);
            }
            if (pad_square(img, bg, 1, &sq, err)) goto done;
            in = &sq;
        }
        if (clip_processor_resize_crop(in, S, &rs, err)) goto done;
    }
    memcpy(b->u8, rs.rgb, (size_t)S * S * 3);
    normalize_tile(b->u8, n_px, p, b->pix);
    rc = 0;
done:
    lv_image_free(&sq);
    lv_image_free(&rs);
    return rc;
}

/* LLaVA-1.6 anyres: [base, tiles…]. */
static int preprocess_anyres(const lv_image *img, const lv_image_params *p, lv_image_mode mode,
                             lv_image_batch *b, lv_error *err)
{
    const int S = p->image_size;
    int best = lv_image_best_pinpoint(p, img->w, img->h, mode);
    int W, H, nw, nh, gx, gy, t, rc = -1;
    lv_image resized = {0}, canvas = {0}, base = {0};

    if (best < 0) return lv_errorf(err, "anyres: no grid pinpoints");
    W = p->pinpoints[best][0];
    H = p->pinpoints[best][1];
    if (W <= 0 || H <= 0 || W % S || H % S || W / S > LV_IMAGE_MAX_GRID || H / S > LV_IMAGE_MAX_GRID)
        return lv_errorf(err, "anyres: pinpoint %dx%d is not a multiple of %d up to %d tiles a side",
                         W, H, S, LV_IMAGE_MAX_GRID);
    if (mode == LV_IMAGE_LLAMACPP) {
        float sw = (float)W / (float)img->w, sh = (float)H / (float)img->h;
        if (sw < sh) {
            nw = W;
            nh = (int)ceilf((float)img->h * sw);
            if (nh > H) nh = H;
        } else {
            nh = H;
            nw = (int)ceilf((float)img->w * sh);
            if (nw > W) nw = W;
        }
        if (lv_image_resize_bicubic_llamacpp(img, nw, nh, &resized, err)) goto done;
        if (lv_image_resize_bicubic_llamacpp(img, S, S, &base, err)) goto done;
    } else {
        double sw = (double)W / img->w, sh = (double)H / img->h;
        if (sw < sh) {
            nw = W;
            nh = (int)ceil(img->h * sw);
            if (nh > H) nh = H;
        } else {
            nh = H;
            nw = (int)ceil(img->w * sh);
            if (nw > W) nw = W;
        }
        if (lv_image_resize_bicubic_pil(img, nw, nh, &resized, err)) goto done;
        if (lv_image_resize_bicubic_pil(img, S, S, &base, err)) goto done;
    }
    if (image_alloc(&canvas, W, H, err)) goto done;       /* black */
    b->paste_x = (W - nw) / 2;
    b->paste_y = (H - nh) / 2;
    blit(&resized, 0, 0, nw, nh, &canvas, b->paste_x, b->paste_y);

    b->grid_w = W / S;
    b->grid_h = H / S;
    if (batch_alloc(b, 1 + b->grid_w * b->grid_h, S, err)) goto done;
    memcpy(b->u8, base.rgb, (size_t)S * S * 3);
    t = 1;
    for (gy = 0; gy < b->grid_h; gy++)
        for (gx = 0; gx < b->grid_w; gx++, t++) {
            lv_image tile = { S, S, b->u8 + (size_t)t * S * S * 3 };
            blit(&canvas, gx * S, gy * S, S, S, &tile, 0, 0);
        }
    for (t = 0; t < b->n_img; t++)
        normalize_tile(b->u8 + (size_t)t * S * S * 3, (size_t)S * S, p,
                       b->pix + (size_t)t * S * S * 3);
    b->best_w = W;
    b->best_h = H;
    b->resized_w = nw;
    b->resized_h = nh;
    rc = 0;
done:
    lv_image_free(&resized);
    lv_image_free(&canvas);
    lv_image_free(&base);
    return rc;
}

int lv_image_preprocess(const lv_image *img, const lv_image_params *p, lv_image_mode mode,
                        lv_image_batch *out, lv_error *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return lv_errorf(err, "preprocess: empty image");
    if (p->image_size <= 0 || p->image_size > 4096 || p->patch_size <= 0 ||
        p->image_size % p->patch_size)
        return lv_errorf(err, "preprocess: bad image_size %d / patch_size %d", p->image_size,
                         p->patch_size);
    if (mode != LV_IMAGE_LLAVA && mode != LV_IMAGE_LLAMACPP)
        return lv_errorf(err, "preprocess: unknown mode %d", (int)mode);
    for (int c = 0; c < 3; c++)
        if (!(fabsf(p->mean[c]) <= LV_IMAGE_MAX_NORM) || !(fabsf(p->std[c]) <= LV_IMAGE_MAX_NORM) ||
            !(fabsf(p->std[c]) >= 1.0f / LV_IMAGE_MAX_NORM))
            return lv_errorf(err, "preprocess: image mean/std out of range");
    if (p->n_pinpoints < 0 || p->n_pinpoints > LV_IMAGE_MAX_PINPOINTS)
        return lv_errorf(err, "preprocess: bad pinpoint count %d", p->n_pinpoints);
    out->mode = mode;
    out->orig_w = img->w;
    out->orig_h = img->h;
    if (p->spatial_unpad && p->n_pinpoints > 0) {
        out->anyres = 1;
        rc = preprocess_anyres(img, p, mode, out, err);
    } else {
        rc = preprocess_single(img, p, mode, out, err);
    }
    if (rc) lv_image_batch_free(out);
    return rc;
}
