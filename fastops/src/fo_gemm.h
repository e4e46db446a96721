/*
 * fastops GEMM building blocks, C side: register-tiled micro-kernels compiled
 * for several instruction sets in one binary, and the selection among them.
 *
 * Every variant is the same vector-extension code (fo_gemm_kernels.inc); each
 * instantiation picks the SIMD width and tile shape that fit its register
 * file, and a target attribute, so a `portable` build still runs AVX-512 code
 * on CPUs that have it.  The Cython layer packs panels, blocks for the caches
 * and parallelises; it calls each product's variant through the kernel tables
 * fo_kernels_s / _d (fo_level_for), the active one reported in fo_active_*.
 */
#ifndef FO_GEMM_H
#define FO_GEMM_H

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>      /* fo_cpu_family */
#include <immintrin.h>  /* the direct kernel's non-temporal stores */
#endif

/* Transpose masks (FO_TRANSPOSE_STAGE below): element i of the low / high
 * result of one butterfly stage of distance h, for W lanes. */
#define FO_LO(W, h, i) (((i) & (h)) ? (W) + (i) - (h) : (i))
#define FO_HI(W, h, i) (((i) & (h)) ? (W) + (i) : (i) + (h))
#define FO_IDX(W, F, h) FO_IDX_(W, F, h)
#define FO_IDX_(W, F, h) FO_IDX##W(F, W, h)
#define FO_IDX2(F, W, h) F(W, h, 0), F(W, h, 1)
#define FO_IDX4(F, W, h) FO_IDX2(F, W, h), F(W, h, 2), F(W, h, 3)
#define FO_IDX8(F, W, h) FO_IDX4(F, W, h), F(W, h, 4), F(W, h, 5), F(W, h, 6), F(W, h, 7)
#define FO_IDX16(F, W, h) FO_IDX8(F, W, h), F(W, h, 8), F(W, h, 9), F(W, h, 10), \
    F(W, h, 11), F(W, h, 12), F(W, h, 13), F(W, h, 14), F(W, h, 15)

/* One butterfly stage of in-register transposes of n x n blocks (n a power of
 * two, at most W) of the first n `rows`, vectors of type VEC with W lanes
 * (MASK: the same-size integer vector): swaps the off-diagonal h x h blocks
 * of every 2h x 2h block.  Stages h = n/2, ..., 1 transpose every n x n block
 * of lanes in place. */
#define FO_TRANSPOSE_STAGE(VEC, MASK, W, rows, n, h)                                    \
    if ((h) < (n)) {                                                                    \
        const MASK lo_ = {FO_IDX(W, FO_LO, h)}, hi_ = {FO_IDX(W, FO_HI, h)};            \
        for (int r_ = 0; r_ < (n); ++r_)                                                \
            if (!(r_ & (h))) {                                                          \
                const VEC x_ = rows[r_], y_ = rows[r_ + ((h) % (W))];                   \
                rows[r_] = __builtin_shuffle(x_, y_, lo_);                              \
                rows[r_ + ((h) % (W))] = __builtin_shuffle(x_, y_, hi_);                \
            }                                                                           \
    }
#define FO_TRANSPOSE_BLOCKS(VEC, MASK, W, rows, n)                                      \
    {                                                                                   \
        FO_TRANSPOSE_STAGE(VEC, MASK, W, rows, n, 8)                                    \
        FO_TRANSPOSE_STAGE(VEC, MASK, W, rows, n, 4)                                    \
        FO_TRANSPOSE_STAGE(VEC, MASK, W, rows, n, 2)                                    \
        FO_TRANSPOSE_STAGE(VEC, MASK, W, rows, n, 1)                                    \
    }

/* Memory to pull into L2 while a kernel computes: the next batch entry's
 * operands, up to two address ranges, spread over the current entry's blocks
 * (a burst of prefetches at the start of each entry fills the miss buffers
 * and stalls the kernel as the misses themselves would). */
typedef struct {
    const char *next[2], *end[2];
    int64_t per_step;       /* cache lines per fo_prefetch_step */
} fo_prefetch;

/* Spread the rest of pf's ranges evenly over `steps` calls of fo_prefetch_step. */
static inline void fo_prefetch_spread(fo_prefetch *pf, int64_t steps)
{
    const int64_t lines = (pf->end[0] - pf->next[0] + pf->end[1] - pf->next[1]) / 64 + 2;
    pf->per_step = (lines + steps - 1) / (steps > 0 ? steps : 1);
}

/* Prefetch the next per_step lines of pf's ranges (pf NULL: nothing). */
static inline __attribute__((always_inline)) void fo_prefetch_step(fo_prefetch *pf)
{
    if (!pf)
        return;
    for (int64_t z = 0; z < pf->per_step; ++z) {
        const int i = pf->next[0] < pf->end[0] ? 0 : 1;
        if (pf->next[i] >= pf->end[i])
            return;
        __builtin_prefetch(pf->next[i], 0, 2);
        pf->next[i] = pf->end[i] - pf->next[i] > 64 ? pf->next[i] + 64 : pf->end[i];
    }
}

/* Scratch that the dot and few-rows kernels (fo_gemm_dot.inc) take from their
 * caller, per thread, instead of the stack, where 64 KiB frames overflowed
 * small thread stacks (Python's threading.stack_size(64 KiB), a tiny
 * OMP_STACKSIZE): B's columns copied contiguous (dot), and the sums of up to
 * 16 rows of A over a 4 KiB chunk of B's columns, each row a cache line
 * longer (few-rows). */
#define FO_DOT_PACK_BYTES (64 * 1024)
#define FO_FEW_SUMS_BYTES (16 * (4096 + 64))

/* Kernels that run batch entries in one call per thread (entries below). */
enum { FO_ENTRIES_DIRECT = 0, FO_ENTRIES_TINY_FULL = 1, FO_ENTRIES_TINY_HALF = 2, FO_ENTRIES_DOT = 3,
       FO_ENTRIES_FEW = 4 };

typedef void (*fo_entries_s_fn)(int, int64_t, int64_t, int64_t, const float *, const int64_t *,
                                int64_t, int64_t, const float *, const float *, const int64_t *, int64_t,
                                int64_t, float *, int64_t, int64_t, int, float *);
typedef void (*fo_panel_s_fn)(int64_t, int64_t, const float *, int64_t, int64_t,
                              const float *, int64_t, int64_t, float *, float *, int64_t, int64_t, int,
                              fo_prefetch *);
typedef struct {
    int mr, nr;             /* register tile of the micro-kernel */
    int lanes, half;        /* widths of the two panel kernels */
    int panel_rows;         /* rows of R per panel-kernel block */
    int panel_bytes;        /* largest packed A^T the panel kernel takes */
    fo_panel_s_fn panel_full, panel_half;
    /* the register tile; its left operand packed (a_row 0) or rows a_row apart */
    void (*tile)(int64_t, const float *, int64_t, const float *, float *, int64_t, int, int, int);
    /* transposing pack, lanes at a time (fo_gemm_panel.inc: pack_at) */
    void (*pack_t)(int64_t, int64_t, const float *, int64_t, int64_t, float *, int64_t);
    /* copies of full micro-panels of mr contiguous rows (fo_gemm_kernels.inc) */
    void (*pack_mr)(int64_t, int64_t, const float *, int64_t, float *);
    /* one micro-panel of mr rows whose depth is contiguous (fo_gemm_kernels.inc) */
    void (*pack_t_mr)(int64_t, int64_t, const float *, int64_t, float *);
    /* rows of R without packing, B's rows contiguous (fo_gemm_direct.inc),
     * by tiles of direct_rows rows of A by direct_cols columns of B; 0, or
     * the most rows of A for which it also takes single products and A^T
     * beyond panel_bytes (A up to 512 KiB: _matmul_t.pyx, L2_BYTES); its
     * last argument asks for non-temporal stores where they can be made */
    int direct_rows, direct_cols, direct_max_m;
    void (*direct)(int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t,
                   float *, int64_t, int64_t, int);
    /* a rectangle of R by dot products along A's rows (fo_gemm_dot.inc);
     * scratch of FO_DOT_PACK_BYTES where B's columns are strided */
    void (*dot)(int64_t, int64_t, const float *, int64_t, const float *, int64_t, int64_t, float *,
                int64_t, int64_t, int64_t, int64_t, float *);
    /* rows of R for fewer rows of A than the direct kernel takes, B's rows
     * contiguous (fo_gemm_dot.inc: few), with FO_FEW_SUMS_BYTES of scratch */
    void (*few)(int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, float *,
                int64_t, int64_t, float *);
    /* batch entries on the calling thread by the tiny, dot, few-rows or direct kernel
     * (fo_gemm_kernels.inc: entries), with the dot or few-rows kernel's scratch */
    fo_entries_s_fn entries;
} fo_tile_kernel_s;

typedef void (*fo_entries_d_fn)(int, int64_t, int64_t, int64_t, const double *, const int64_t *,
                                int64_t, int64_t, const double *, const double *, const int64_t *, int64_t,
                                int64_t, double *, int64_t, int64_t, int, double *);
typedef void (*fo_panel_d_fn)(int64_t, int64_t, const double *, int64_t, int64_t,
                              const double *, int64_t, int64_t, double *, double *, int64_t, int64_t, int,
                              fo_prefetch *);
typedef struct {
    int mr, nr;             /* register tile of the micro-kernel */
    int lanes, half;        /* widths of the two panel kernels */
    int panel_rows;         /* rows of R per panel-kernel block */
    int panel_bytes;        /* largest packed A^T the panel kernel takes */
    fo_panel_d_fn panel_full, panel_half;
    /* the register tile; its left operand packed (a_row 0) or rows a_row apart */
    void (*tile)(int64_t, const double *, int64_t, const double *, double *, int64_t, int, int, int);
    /* transposing pack, lanes at a time (fo_gemm_panel.inc: pack_at) */
    void (*pack_t)(int64_t, int64_t, const double *, int64_t, int64_t, double *, int64_t);
    /* copies of full micro-panels of mr contiguous rows (fo_gemm_kernels.inc) */
    void (*pack_mr)(int64_t, int64_t, const double *, int64_t, double *);
    /* one micro-panel of mr rows whose depth is contiguous (fo_gemm_kernels.inc) */
    void (*pack_t_mr)(int64_t, int64_t, const double *, int64_t, double *);
    /* rows of R without packing, B's rows contiguous (fo_gemm_direct.inc),
     * by tiles of direct_rows rows of A by direct_cols columns of B; 0, or
     * the most rows of A for which it also takes single products and A^T
     * beyond panel_bytes (A up to 512 KiB: _matmul_t.pyx, L2_BYTES); its
     * last argument asks for non-temporal stores where they can be made */
    int direct_rows, direct_cols, direct_max_m;
    void (*direct)(int64_t, int64_t, const double *, int64_t, int64_t, const double *, int64_t,
                   double *, int64_t, int64_t, int);
    /* a rectangle of R by dot products along A's rows (fo_gemm_dot.inc);
     * scratch of FO_DOT_PACK_BYTES where B's columns are strided */
    void (*dot)(int64_t, int64_t, const double *, int64_t, const double *, int64_t, int64_t, double *,
                int64_t, int64_t, int64_t, int64_t, double *);
    /* rows of R for fewer rows of A than the direct kernel takes, B's rows
     * contiguous (fo_gemm_dot.inc: few), with FO_FEW_SUMS_BYTES of scratch */
    void (*few)(int64_t, int64_t, const double *, int64_t, int64_t, const double *, int64_t, double *,
                int64_t, int64_t, double *);
    /* batch entries on the calling thread by the tiny, dot, few-rows or direct kernel
     * (fo_gemm_kernels.inc: entries), with the dot or few-rows kernel's scratch */
    fo_entries_d_fn entries;
} fo_tile_kernel_d;

enum { FO_SIMD_BASELINE = 0, FO_SIMD_AVX2 = 1, FO_SIMD_AVX512 = 2, FO_SIMD_COUNT = 3 };
static const char *const fo_simd_names[FO_SIMD_COUNT] = {"baseline", "avx2", "avx512"};

#if defined(__x86_64__) && defined(__GNUC__)
#define FO_HAVE_X86_VARIANTS 1
#else
#define FO_HAVE_X86_VARIANTS 0
#endif

/* ---- baseline: whatever the build's -march gives (SSE2 for portable) ---- */
#define FO_ISA base
#define FO_TARGET
#define FO_VBYTES 16
#define FO_NV 2
#define FO_MR_S 4
#define FO_MR_D 4
#define FO_LANES_S 4
#define FO_HALF_S 2
#define FO_LANES_D 2
#define FO_HALF_D 2
#define FO_PANEL_ROWS 4
#define FO_PANEL_BYTES (16 * 1024)
#define FO_DIRECT_ROWS 4
#define FO_DIRECT_MAX_M 0
#include "fo_gemm_isa.inc"

#if FO_HAVE_X86_VARIANTS
/* ---- AVX2 + FMA: 16 ymm registers -> 6 x 2 accumulators in the tile; the
 * panel kernel takes 4 rows x 2 vectors (8 x 2 spilled three accumulators to
 * the stack; on Zen 3, 4 rows beat 6 on 16-32-sized products, which 4
 * divides), and only up to 16 KiB of A^T (Zen 3, 16-32 KiB: the blocked GEMM
 * 1.15-1.45x faster) ---- */
#define FO_ISA avx2
#define FO_TARGET __attribute__((target("avx2,fma")))
#define FO_VBYTES 32
#define FO_NV 2
#define FO_MR_S 6
#define FO_MR_D 6
#define FO_LANES_S 8
#define FO_HALF_S 4
#define FO_LANES_D 4
#define FO_HALF_D 2
#define FO_PANEL_ROWS 4
#define FO_PANEL_BYTES (16 * 1024)
#define FO_DIRECT_ROWS 4
#define FO_DIRECT_MAX_M 0
#include "fo_gemm_isa.inc"

/* ---- AVX-512: 32 zmm registers -> 6 x 4 accumulators (measured best of
 * 14x2, 8x3, 6x4 on Zen 5: fewer broadcasts per FMA); the direct kernel also
 * takes single products and larger batch entries, up to m = 256 (Zen 5,
 * 2 threads, blocked GEMM / direct: batches of 96^3-256^3 1.2-1.65, single
 * products 64^2-256^2 1.05-1.9; A with 1024-2048 rows of float32 0.47-0.87,
 * perhaps as a tile's 48 stores hit rows of R a power of two apart) ---- */
#define FO_ISA avx512
#define FO_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#include "fo_gemm_avx512_shape.inc"
#include "fo_gemm_isa.inc"
#endif

static fo_tile_kernel_s fo_active_s;
static fo_tile_kernel_d fo_active_d;
static int fo_active_level = -1;

#if FO_HAVE_X86_VARIANTS
static const fo_tile_kernel_s *const fo_kernels_s[FO_SIMD_COUNT] = {
    &fo_s_base_kernel, &fo_s_avx2_kernel, &fo_s_avx512_kernel};
static const fo_tile_kernel_d *const fo_kernels_d[FO_SIMD_COUNT] = {
    &fo_d_base_kernel, &fo_d_avx2_kernel, &fo_d_avx512_kernel};
#else
static const fo_tile_kernel_s *const fo_kernels_s[1] = {&fo_s_base_kernel};
static const fo_tile_kernel_d *const fo_kernels_d[1] = {&fo_d_base_kernel};
#endif

/* The variant for a product whose result's longer side (max(m, n)) takes
 * `side_bytes` (elements times element size): the active one or, where the
 * side is shorter than its vectors, the widest one below it whose vectors the
 * side fills (the baseline at the least).  Every variant below the active one
 * runs on this CPU.  Zen 5, batches of 4096 square entries, 1 thread,
 * AVX-512 time / this choice's: sides 2-7 1.1-3.6, 8 and 12 float32 1.4-1.9;
 * fp64 4x4 0.85 (AVX-512's A^T in registers). */
static int fo_level_for(int64_t side_bytes)
{
    int level = fo_active_level;
    while (level > FO_SIMD_BASELINE
           && fo_kernels_s[level]->lanes * (int64_t)sizeof(float) > side_bytes)
        --level;
    return level;
}

/* 1 if variant `level` was compiled into this binary. */
static int fo_simd_compiled(int level)
{
    return level == FO_SIMD_BASELINE || (FO_HAVE_X86_VARIANTS && level < FO_SIMD_COUNT);
}

/* Best variant that is compiled in and that this CPU can run. */
static int fo_simd_best(void)
{
#if FO_HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return FO_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FO_SIMD_AVX2;
#endif
    return FO_SIMD_BASELINE;
}

/* 1 on an Intel CPU: there matmul_t's auto policy keeps the native kernels
 * for large products (README, "How auto chooses"). */
static int fo_cpu_is_intel(void)
{
#if FO_HAVE_X86_VARIANTS
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
#else
    return 0;
#endif
}

/* The CPU's x86 family (base + extended, CPUID leaf 1), 0 off x86: 25 on
 * AMD Zen 3 and Zen 4, 26 on Zen 5.  With AVX-512 on AMD, it tells Zen 4's
 * 256-bit datapaths from Zen 5's 512-bit ones (matmul_t's auto policy). */
static int fo_cpu_family(void)
{
#if FO_HAVE_X86_VARIANTS
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    const unsigned int base = (eax >> 8) & 0xf;
    return (int)(base == 0xf ? base + ((eax >> 20) & 0xff) : base);
#else
    return 0;
#endif
}

/* Make `level` the active variant; the caller checked it is runnable here. */
static void fo_simd_select(int level)
{
    switch (level) {
#if FO_HAVE_X86_VARIANTS
    case FO_SIMD_AVX512: fo_active_s = fo_s_avx512_kernel; fo_active_d = fo_d_avx512_kernel; break;
    case FO_SIMD_AVX2:   fo_active_s = fo_s_avx2_kernel;   fo_active_d = fo_d_avx2_kernel;   break;
#endif
    default: level = FO_SIMD_BASELINE;
             fo_active_s = fo_s_base_kernel;   fo_active_d = fo_d_base_kernel;
    }
    fo_active_level = level;
}

#endif /* FO_GEMM_H */
