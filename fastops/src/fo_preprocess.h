/*
 * Fused image preprocessing, C side: uint8 HWC image -> resize (bilinear,
 * optionally antialiased as PyTorch's F.interpolate) -> center crop ->
 * x * scale[c] + bias[c] (that is (x/255 - mean) / std) -> float32 or
 * float16, NCHW or NHWC, for the output rows [y_begin, y_end) of one image.
 *
 * Separable filter, vertical taps first: each output row is one pass over
 * the source rows it needs (uint8 -> float, contiguous, vectorised), then
 * the horizontal taps read that L1-resident row and write the output
 * pixels, normalised, in the output layout.  Only cropped pixels are
 * computed.  Compiled per ISA with target_clones.
 */
#ifndef FO_PREPROCESS_H
#define FO_PREPROCESS_H

#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define FO_PP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FO_PP_CLONES
#endif

/* One source image: h x w pixels of `channels` (1, 3 or 4) uint8 at byte strides. */
typedef struct {
    const uint8_t *data;
    int64_t h, w, s_row, s_col, s_chan;
    int channels;
} fo_image;

/* What to produce from it. */
typedef struct {
    int64_t resized_h, resized_w;   /* size after resizing (== h, w: no resize) */
    int64_t top, left;              /* crop offset in the resized image */
    int64_t out_h, out_w;           /* crop size == output size */
    int antialias;
    int nchw;                       /* 1: planes (C, H, W); 0: (H, W, C) */
    int half;                       /* 1: float16 output; 0: float32 */
    int source_channel[3];          /* output channel c reads source channel [c] (BGR swap) */
    float scale[3], bias[3];        /* per output channel */
} fo_pp_plan;

/*
 * Taps of output index i along one axis, as PyTorch computes them
 * (aten/src/ATen/native/cpu/UpSampleKernel.cpp): antialiased triangle filter
 * widened by the scale when downscaling, or plain bilinear with half-pixel
 * centres.  Writes up to `max_taps` normalised weights; returns the count.
 */
static int fo_pp_taps(int64_t in, int64_t out, int64_t i, int antialias, int max_taps,
                      int64_t *first, float *weights)
{
    const double scale = (double)in / (double)out;
    if (in == out) {
        *first = i;
        weights[0] = 1.0f;
        return 1;
    }
    if (antialias) {
        const double support = scale >= 1.0 ? scale : 1.0;
        const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
        const double center = scale * (i + 0.5);
        int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
        double total = 0.0;
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int n = (int)(hi - lo);
        if (n > max_taps) n = max_taps;   /* never: max_taps bounds 2 * support + 1 */
        for (int j = 0; j < n; ++j) {
            const double x = fabs((j + lo - center + 0.5) * invscale);
            weights[j] = (float)(x < 1.0 ? 1.0 - x : 0.0);
            total += weights[j];
        }
        for (int j = 0; j < n; ++j)
            weights[j] = total > 0.0 ? (float)(weights[j] / total) : 0.0f;
        *first = lo;
        return n;
    }
    double src = scale * (i + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    int64_t i0 = (int64_t)src;
    if (i0 > in - 1) i0 = in - 1;
    double lambda = src - (double)i0;
    if (lambda > 1.0) lambda = 1.0;
    *first = i0;
    if (i0 + 1 > in - 1) {
        weights[0] = 1.0f;
        return 1;
    }
    weights[0] = (float)(1.0 - lambda);
    weights[1] = (float)lambda;
    return 2;
}

/* Most taps any output index can have for this axis (the scratch stride). */
static int fo_pp_max_taps(int64_t in, int64_t out, int antialias)
{
    if (in == out) return 1;
    if (!antialias) return 2;
    const double scale = (double)in / (double)out;
    return (int)ceil(2.0 * (scale >= 1.0 ? scale : 1.0)) + 2;
}

/* Scratch bytes fo_pp_rows needs for this image and plan. */
static int64_t fo_pp_scratch_bytes(const fo_image *im, const fo_pp_plan *p)
{
    const int ty = fo_pp_max_taps(im->h, p->resized_h, p->antialias);
    const int tx = fo_pp_max_taps(im->w, p->resized_w, p->antialias);
    return (int64_t)sizeof(float) * (3 * im->w + 1 + 3 * p->out_w + p->out_w * tx + ty)
         + (int64_t)(sizeof(int64_t) + sizeof(int)) * p->out_w + 64;
}

/* float16 stores: one vcvtps2ph in the x86-64-v3/v4 clones (F16C), a libgcc
 * call in the baseline one. */
#define FO_PP_HALF(v) ((_Float16)(v))
#define FO_PP_FLOAT(v) (v)

typedef float fo_pp_rgbx __attribute__((vector_size(16), aligned(4), may_alias));

/* out row y (one channel plane, or the interleaved row) from 3 interleaved
 * values per pixel at `v`: o = CONV(v[source channel] * scale + bias). */
#define FO_PP_STORE_ROW(T, CONV)                                                          \
    for (int c = 0; c < 3; ++c) {                                                         \
        const float sc = p->scale[c], bs = p->bias[c];                                    \
        const float *vc = v + p->source_channel[c];                                       \
        if (p->nchw) {                                                                    \
            T *o = (T *)out + (c * p->out_h + y) * p->out_w;                              \
            for (int64_t x = 0; x < p->out_w; ++x)                                        \
                o[x] = CONV(vc[3 * x] * sc + bs);                                         \
        } else {                                                                          \
            T *o = (T *)out + y * p->out_w * 3 + c;                                       \
            for (int64_t x = 0; x < p->out_w; ++x)                                        \
                o[3 * x] = CONV(vc[3 * x] * sc + bs);                                     \
        }                                                                                 \
    }

FO_PP_CLONES static void
fo_pp_rows(const fo_image *im, const fo_pp_plan *p, int64_t y_begin, int64_t y_end,
           void *out, void *scratch)
{
    const int ty = fo_pp_max_taps(im->h, p->resized_h, p->antialias);
    const int tx = fo_pp_max_taps(im->w, p->resized_w, p->antialias);
    int64_t *x_first = (int64_t *)scratch;                  /* out_w */
    int *x_taps = (int *)(x_first + p->out_w);              /* out_w */
    float *row = (float *)(x_taps + p->out_w + 1);          /* 3 * w + 1: vertical result */
    float *pix = row + 3 * im->w + 1;                       /* 3 * out_w: horizontal */
    float *wx = pix + 3 * p->out_w;                         /* out_w * tx */
    float *wy = wx + p->out_w * tx;                         /* ty */

    /* horizontal taps of every output column, and the source columns they span */
    int64_t col_lo = im->w, col_hi = 0;
    for (int64_t x = 0; x < p->out_w; ++x) {
        x_taps[x] = fo_pp_taps(im->w, p->resized_w, x + p->left, p->antialias, tx,
                               &x_first[x], wx + x * tx);
        if (x_first[x] < col_lo) col_lo = x_first[x];
        if (x_first[x] + x_taps[x] > col_hi) col_hi = x_first[x] + x_taps[x];
    }
    const int64_t cols = col_hi - col_lo;
    const int contiguous = im->channels == 3 && im->s_chan == 1 && im->s_col == 3;
    const int resize_x = im->w != p->resized_w;

    for (int64_t y = y_begin; y < y_end; ++y) {
        int64_t y_first;
        const int ny = fo_pp_taps(im->h, p->resized_h, y + p->top, p->antialias, ty,
                                  &y_first, wy);
        /* vertical taps: row[3 * (col - col_lo) + c], c in source RGB order */
        if (contiguous) {
            const uint8_t *src = im->data + y_first * im->s_row + 3 * col_lo;
            const float w0 = wy[0];
            for (int64_t e = 0; e < 3 * cols; ++e)
                row[e] = w0 * (float)src[e];
            for (int j = 1; j < ny; ++j) {
                const uint8_t *sj = src + j * im->s_row;
                const float wj = wy[j];
                for (int64_t e = 0; e < 3 * cols; ++e)
                    row[e] += wj * (float)sj[e];
            }
        } else {
            for (int64_t col = 0; col < cols; ++col)
                for (int c = 0; c < 3; ++c) {
                    /* grayscale repeats its one channel; RGBA drops alpha */
                    const int64_t off = (col + col_lo) * im->s_col
                                      + (im->channels == 1 ? 0 : c) * im->s_chan;
                    float v = 0.0f;
                    for (int j = 0; j < ny; ++j)
                        v += wy[j] * (float)im->data[(y_first + j) * im->s_row + off];
                    row[3 * col + c] = v;
                }
        }
        /* horizontal taps (none without horizontal resizing) */
        const float *v = row;
        if (resize_x) {
            /* one 4-lane FMA a tap: lanes 0..2 are RGB, lane 3 (the next
             * pixel's R, or the row's padding) is ignored */
            for (int64_t x = 0; x < p->out_w; ++x) {
                const float *w = wx + x * tx;
                const float *r = row + 3 * (x_first[x] - col_lo);
                fo_pp_rgbx acc = {0.0f, 0.0f, 0.0f, 0.0f};
                for (int j = 0; j < x_taps[x]; ++j)
                    acc += w[j] * *(const fo_pp_rgbx *)(r + 3 * j);
                pix[3 * x] = acc[0];
                pix[3 * x + 1] = acc[1];
                pix[3 * x + 2] = acc[2];
            }
            v = pix;
        }
        /* normalisation, channel order, layout, dtype */
        if (p->half) {
            FO_PP_STORE_ROW(_Float16, FO_PP_HALF)
        } else {
            FO_PP_STORE_ROW(float, FO_PP_FLOAT)
        }
    }
}
#undef FO_PP_STORE_ROW
#undef FO_PP_FLOAT
#undef FO_PP_HALF

#endif /* FO_PREPROCESS_H */
