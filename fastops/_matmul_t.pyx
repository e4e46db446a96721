"""Kernels for R = (A @ B)^T, written straight into R's row-major layout.

Shapes per matrix: A is (m, k), B is (k, n), R is (n, m) C-contiguous.  Since
R = B^T @ A^T, every path treats R as a row-major GEMM whose left operand is
B^T (rows j, depth p) and whose right operand is A^T (depth p, columns i).

Paths (chosen by fastops/matmul_t.py, which validates everything first):
- blocked native GEMM: B^T / A^T packed into cache blocks (any strides, so no
  copies upstream), register tiles from src/fo_gemm.h, OpenMP over row blocks;
- small native kernel for tiny products (no packing of B);
- BLAS: the row-major CBLAS gemm NumPy loaded (src/fo_blas.h), when both
  operands have a unit stride;
and, for batches, OpenMP over batch entries with one thread per product.
"""

cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_New
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t, intptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from fastops._openmp_helpers cimport default_n_threads, note_threads, omp_get_thread_num

cnp.import_array()

cdef extern from "stdlib.h" nogil:
    void *aligned_alloc(size_t alignment, size_t size)

cdef extern from "src/fo_aligned.h":
    void *fo_aligned_handler_address "((void *)&fo_aligned_handler)"
    int fo_aligned_hugepages

cdef extern from "src/fo_gemm.h" nogil:
    ctypedef struct fo_prefetch:
        const char *next[2]
        const char *end[2]
        int64_t per_step
    void fo_prefetch_spread(fo_prefetch *pf, int64_t steps)
    void fo_prefetch_step(fo_prefetch *pf)
    enum: FO_ENTRIES_DIRECT, FO_ENTRIES_TINY_FULL, FO_ENTRIES_TINY_HALF, FO_ENTRIES_DOT, FO_ENTRIES_FEW

ctypedef void (*tile_s_fn)(int64_t, const float *, int64_t, const float *, float *,
                           int64_t, int, int, int) noexcept nogil
ctypedef void (*tile_d_fn)(int64_t, const double *, int64_t, const double *, double *,
                           int64_t, int, int, int) noexcept nogil
ctypedef void (*pack_s_fn)(int64_t, int64_t, const float *, int64_t, int64_t,
                           float *, int64_t) noexcept nogil
ctypedef void (*panel_s_fn)(int64_t, int64_t, const float *, int64_t, int64_t,
                            const float *, int64_t, int64_t, float *, float *,
                            int64_t, int64_t, int, fo_prefetch *) noexcept nogil
ctypedef void (*pack_d_fn)(int64_t, int64_t, const double *, int64_t, int64_t,
                           double *, int64_t) noexcept nogil
ctypedef void (*panel_d_fn)(int64_t, int64_t, const double *, int64_t, int64_t,
                            const double *, int64_t, int64_t, double *, double *,
                            int64_t, int64_t, int, fo_prefetch *) noexcept nogil

ctypedef void (*entries_s_fn)(int, int64_t, int64_t, int64_t, const float *,
                             const int64_t *, int64_t, int64_t, const float *, const float *,
                             const int64_t *, int64_t, int64_t, float *, int64_t, int64_t,
                             int, float *) noexcept nogil
ctypedef void (*entries_d_fn)(int, int64_t, int64_t, int64_t, const double *,
                             const int64_t *, int64_t, int64_t, const double *, const double *,
                             const int64_t *, int64_t, int64_t, double *, int64_t, int64_t,
                             int, double *) noexcept nogil
ctypedef void (*dot_s_fn)(int64_t, int64_t, const float *, int64_t, const float *, int64_t,
                          int64_t, float *, int64_t, int64_t, int64_t, int64_t, float *) noexcept nogil
ctypedef void (*dot_d_fn)(int64_t, int64_t, const double *, int64_t, const double *, int64_t,
                          int64_t, double *, int64_t, int64_t, int64_t, int64_t, double *) noexcept nogil
ctypedef void (*direct_s_fn)(int64_t, int64_t, const float *, int64_t, int64_t,
                             const float *, int64_t, float *,
                             int64_t, int64_t, int) noexcept nogil
ctypedef void (*few_s_fn)(int64_t, int64_t, const float *, int64_t, int64_t,
                          const float *, int64_t, float *, int64_t, int64_t, float *) noexcept nogil
ctypedef void (*direct_d_fn)(int64_t, int64_t, const double *, int64_t, int64_t,
                             const double *, int64_t, double *,
                             int64_t, int64_t, int) noexcept nogil
ctypedef void (*few_d_fn)(int64_t, int64_t, const double *, int64_t, int64_t,
                          const double *, int64_t, double *, int64_t, int64_t, double *) noexcept nogil

cdef extern from "src/fo_gemm.h" nogil:
    ctypedef struct fo_tile_kernel_s:
        int mr
        int nr
        int lanes
        int half
        int panel_rows
        int panel_bytes
        panel_s_fn panel_full
        panel_s_fn panel_half
        tile_s_fn tile
        pack_s_fn pack_t
        void (*pack_mr)(int64_t, int64_t, const float *, int64_t, float *) noexcept nogil
        void (*pack_t_mr)(int64_t, int64_t, const float *, int64_t, float *) noexcept nogil
        int direct_rows
        int direct_cols
        int direct_max_m
        direct_s_fn direct
        dot_s_fn dot
        few_s_fn few
        entries_s_fn entries
    ctypedef struct fo_tile_kernel_d:
        int mr
        int nr
        int lanes
        int half
        int panel_rows
        int panel_bytes
        panel_d_fn panel_full
        panel_d_fn panel_half
        tile_d_fn tile
        pack_d_fn pack_t
        void (*pack_mr)(int64_t, int64_t, const double *, int64_t, double *) noexcept nogil
        void (*pack_t_mr)(int64_t, int64_t, const double *, int64_t, double *) noexcept nogil
        int direct_rows
        int direct_cols
        int direct_max_m
        direct_d_fn direct
        dot_d_fn dot
        few_d_fn few
        entries_d_fn entries
    fo_tile_kernel_s fo_active_s
    fo_tile_kernel_d fo_active_d
    const fo_tile_kernel_s *fo_kernels_s[]
    const fo_tile_kernel_d *fo_kernels_d[]
    int fo_level_for(int64_t side_bytes)
    int fo_active_level
    int FO_SIMD_COUNT
    int FO_SIMD_AVX512
    const char *fo_simd_names[]
    int fo_simd_compiled(int level)
    int fo_simd_best()
    int fo_cpu_is_intel()
    int fo_cpu_family()
    enum: FO_DOT_PACK_BYTES           # scratch of the dot and few-rows kernels, per thread
    enum: FO_FEW_SUMS_BYTES
    void fo_simd_select(int level)

cdef extern from "src/fo_blas.h" nogil:
    void *fo_blas_gemm_s_ptr
    void *fo_blas_gemm_d_ptr
    int fo_blas_ilp64
    int (*fo_blas_threads_local)(int) noexcept nogil
    int fo_blas_set_threads(int n)
    void fo_blas_gemm_s(int trans_x, int trans_y, int64_t rows, int64_t cols,
                        int64_t inner, const float *x, int64_t ldx, const float *y,
                        int64_t ldy, float *c, int64_t ldc)
    void fo_blas_gemm_d(int trans_x, int trans_y, int64_t rows, int64_t cols,
                        int64_t inner, const double *x, int64_t ldx, const double *y,
                        int64_t ldy, double *c, int64_t ldc)

# Method codes shared with fastops/matmul_t.py.
METHOD_NATIVE = 1
METHOD_BLAS = 2

# Cache blocking, in bytes of packed operand: KC depth steps per block, the
# packed B^T block (MC x KC) sized for L2, the packed A^T block (KC x NC) for
# L3.  Each depth block reads and writes the whole result once more, so a
# deeper block halves that traffic: KC = 512 against 256 on Zen 5, 2 threads,
# float64 768^2-2048^2 1.04-1.16x, 4096^2 1.02x, float32 1.00-1.04x (Zen 3
# had measured 384-512 no better than 256; MC_BYTES 768 KiB with KC = 512:
# 0.91-1.03x).  Where the tiles read B's columns in place (A^T one
# micro-panel, x @ W.T with few rows), the depth blocks are KC_IN_PLACE deep:
# each tile then reads 4x longer runs of W's rows, which the prefetchers
# follow (Intel Xeon, AVX-512, 2 threads, 5 rounds, depth 512 / 2048: (16,
# 4096) @ W.T with a 4096^2 W fp32 1.33 / fp64 1.11, (12, 4096) @ (11008,
# 4096).T fp32 1.49, (16, 11008) @ (4096, 11008).T 1.31 / 1.30, 32-64 rows
# 1.10-1.12; 1024 and 4096 deep did as well or less, all of k (11008) lost
# 0.41-0.58).  Products whose packed A^T fits the active variant's panel_bytes (32 KiB
# with AVX-512, 16 KiB with AVX2 and SSE) skip packing B and the blocking
# altogether (panel kernel).  Below PARALLEL_MIN_BYTES of multiply-adds times
# element size in all (96^3 in float32, 76^3 in float64, whose multiply-adds
# take twice as long), one thread does everything (waking a second thread
# costs about 3 us: on 2 cores, 2 threads lost below about 96^3 in float32;
# Zen 3 float64 80^3-88^3: 1.3-1.5x on 2 threads in 4 of 6 runs), unless the
# result takes more than half of one core's L2 (L2_BYTES), which also holds
# the operands: then one core's write bandwidth is the limit, and one thread
# per half L2 of result adds its own (the k = 1 outer product of the Llama
# node: 1.3-1.6x on 2 Zen 3 cores).  Below GIL_FREE_MIN_WORK multiply-adds in all, the kernels keep the
# GIL, as NumPy's small loops do: releasing and re-taking it (about 400
# instructions, and a wait for the GIL when other threads run Python) costs
# as much as such a product.  Scratch up to STACK_BYTES lives on the stack.
# In a batch, each thread prefetches its next entry's operands while it
# computes the current one, when they come to PREFETCH_MIN_BYTES (Zen 3, 2
# threads, prefetch off / on, median of 7-11 rounds: float64 32^3-128^3
# 1.04-1.17, float32 128^3 1.06-1.07, float32 40^3-64^3 0.90-1.10 (1.10-1.25
# on one thread); below 12 KiB 0.67-0.97, where the hardware prefetchers keep
# up and software prefetches only take miss buffers), up to half of one core's
# L2 ((16,256,256)^2, 512 KiB per float32 entry: 0.90).  L2_BYTES is the L2
# these thresholds were measured with: Zen 3's 512 KiB, and on Zen 5 (1 MiB)
# the same value, from an earlier lookup of the real size that always fell
# back to it (Python's os.sysconf has no SC_LEVEL2_CACHE_SIZE).  From
# STREAM_MIN_BYTES of result in one call, the direct kernel writes AVX-512
# float64 results with non-temporal stores (fo_gemm_direct.inc): results that
# large leave the caches before anyone reads them, and ordinary stores first
# read every line of R from memory and evict the operands.  Zen 4, 2
# threads, ordinary / streaming stores, 7 rounds: 8 MiB results, (1024,32,32)^2
# 1.30-1.45 (1 thread 1.48-1.60), (256,64,64)^2 1.15-1.20, (64,128,128)^2
# 1.04-1.05, 256x256 @ 256x8192 1.07; (2048,32,32)^2 1.52; the same calls
# followed by a pass over R (np.multiply into another array) or a second
# matmul_t reading it: 1.10-1.56, (64,128,128)^2 1.01-1.05.  4 MiB results
# ((512,32,32)^2): 0.99-1.03 alone, 0.93-0.94 followed by np.multiply, so
# smaller results keep ordinary stores.
cdef enum:
    KC = 512
    KC_IN_PLACE = 2048
    L2_BYTES = 512 * 1024
    MC_BYTES = 384 * 1024
    NC_BYTES = 4 * 1024 * 1024
    PARALLEL_MIN_BYTES = 96 * 96 * 96 * 4
    GIL_FREE_MIN_WORK = 16 * 16 * 16
    STACK_BYTES = 4096
    PREFETCH_MIN_BYTES = 12 * 1024
    STREAM_MIN_BYTES = 8 * 1024 * 1024
    ALIGNED_MIN_BYTES = 256 * 1024
    NARROW_MAX = 4
    DOT_MAX = 8
    FEW_CACHED_MAX = 8               # the few-rows kernel's most rows of A against a cached B
    FEW_GROUPED_MAX = 28             # its most rows of A (groups of up to FO_FEW_MAX = 16), float32
    FEW_GROUPED_MAX_F64 = 20         #   and float64 (each group a pass over B)
    FEW_MIN_COLS = 128
    FEW_CACHED_BYTES = 512 * 1024    # FO_FEW_CACHED: up to it, 2-4 rows of A take its strips
    B_STREAMED_BYTES = 16 * 1024 * 1024   # a B this large streams from memory
    STREAMED_KC = 64                 # depth and columns of B per cache block where one A^T
    STREAMED_MC = 2048               #   micro-panel meets a streamed B with contiguous rows
    DOT_LONG_K = 1024


cdef struct Geometry:
    const fo_tile_kernel_s *ks       # the kernels for this product (float32 or
    const fo_tile_kernel_d *kd       # float64; the other is NULL): fo_level_for
    int64_t m, n, k                  # A is (m, k), B is (k, n), R is (n, m)
    int64_t sa0, sa1, sb0, sb1       # element strides, any sign
    int level                        # the product's SIMD variant (index into fo_kernels_*)
    int64_t mr, nr                   # register tile of the product's SIMD variant
    int64_t width                    # panel kernel width for this m (lanes or half)
    int64_t panel_rows, panel_bytes  # rows of R per panel / direct kernel block, largest packed A^T
    bint direct                      # the direct kernel instead of the panel kernel
    bint tiny                        # products of m, k <= width: A^T in registers (tiny_batch)
    bint dot                         # the dot kernel: m or n at most DOT_MAX, A's rows
                                     # contiguous, B's columns too or copied
    bint few                         # the few-rows kernel: m below the direct kernel's rows, B's
                                     # rows contiguous
    bint stream                      # the direct kernel may write R past the caches
                                     # (STREAM_MIN_BYTES)
    bint rows_across_panels          # B beyond L2_BYTES: its B^T blocks packed a few rows of B
                                     # at a time across all micro-panels (_pack_panels)
    bint b_in_place                  # A^T one micro-panel, B's columns contiguous: the tiles
                                     # read B's columns in place (_block_rows)
    int64_t mc, nc, kc               # most rows / columns of R / depth steps per cache block
    int64_t ldr                      # row stride of R (m, or more for a slab of it)
    int64_t a_lo, a_len, b_lo, b_len # span of one A / B in elements (len 0: not dense)
    int64_t a_end                    # past the furthest element of the whole array A, from its
                                     # data (tiny products only)


cdef inline int64_t _round_up(int64_t x, int64_t to) noexcept nogil:
    return (x + to - 1) // to * to


cdef inline int64_t _cdiv(int64_t x, int64_t d) noexcept nogil:
    return (x + d - 1) // d


cdef inline int64_t _even_block(int64_t extent, int64_t cap, int64_t unit) noexcept nogil:
    """Size of equal blocks (a multiple of unit, at most cap) covering extent."""
    return min(cap, _round_up(_cdiv(extent, _cdiv(extent, cap)), unit))


cdef int64_t _tiny_width(floating *kind, int64_t m, int64_t k, int *level) noexcept nogil:
    """The narrowest full or half vector width, of the variants up to the
    active one, that holds m and k (a product whose A^T its registers hold),
    the widest variant among those with that width in `level`; 0 if none."""
    cdef int v
    cdef int64_t best = 0, w
    for v in range(fo_active_level, -1, -1):
        if floating is float:
            w = fo_kernels_s[v].half if max(m, k) <= fo_kernels_s[v].half else fo_kernels_s[v].lanes
        else:
            w = fo_kernels_d[v].half if max(m, k) <= fo_kernels_d[v].half else fo_kernels_d[v].lanes
        if max(m, k) <= w and (best == 0 or w < best):
            best, level[0] = w, v
    return best


cdef Geometry _geometry(floating *kind, cnp.ndarray a, cnp.ndarray b, int64_t n_batch):
    """Matrix sizes, element strides and blocking for one product of the batch."""
    cdef Geometry g
    cdef int nd_a = cnp.PyArray_NDIM(a), nd_b = cnp.PyArray_NDIM(b)
    cdef cnp.npy_intp *sa = cnp.PyArray_STRIDES(a)
    cdef cnp.npy_intp *sb = cnp.PyArray_STRIDES(b)
    cdef int64_t size = sizeof(floating)
    cdef int64_t lanes, rows, cols, max_m
    cdef int level, d
    g.m = cnp.PyArray_DIMS(a)[nd_a - 2]
    g.k = cnp.PyArray_DIMS(a)[nd_a - 1]
    g.n = cnp.PyArray_DIMS(b)[nd_b - 1]
    g.sa0 = sa[nd_a - 2] // size
    g.sa1 = sa[nd_a - 1] // size
    g.sb0 = sb[nd_b - 2] // size
    g.sb1 = sb[nd_b - 1] // size
    # Results too small for the active variant's vectors take a narrower
    # variant's kernels (fo_level_for), except tiny products, batched or
    # single: they take the narrowest full or half vector width that holds m
    # and k, of the widest variant that has it (A^T in registers, one C loop
    # per thread: tiny_batch).  Single products took the dot or panel kernel
    # before (Zen 4, 1 thread, those / tiny, per call: float32 4x4 1.06, 8x8
    # 1.17, 16x16 1.10, 12x12 0.98; float64 2x2 to 8x8 1.06-1.19, 4x4 @
    # 4x1024 1.80; AVX2 under callgrind, instructions per call: float32 8x8
    # 3379 -> 1362, 4x4 1886 -> 1182).  Zen 5, 4096 entries, 1 thread, fo_level_for's
    # variant's time / this one's, when k had to equal the width: float32
    # 8x8 1.07, 4x4 1.09, 3x8 @ 8x5 2.53, 2x4 @ 4x9 1.29; float64 4x4 1.05,
    # 2x2 1.13, 3x8 @ 8x5 2.44.  Then k below the width, 2 threads, the
    # packed or direct kernels' time / the tiny kernel's: float32 3x3 5.1,
    # 5x5-7x7 2.4-2.8, 11x11-15x15 1.24-1.47, 7x1 @ 1x4 3.8, 8x3 @ 3x8 1.46,
    # 16x10 @ 10x16 0.98; float64 3x3 2.0, 5x5-7x7 1.2-1.8, 8x3 @ 3x8 1.21;
    # 9x9 @ 9x256 float32 1.28, 5x5 @ 5x1024 float64 2.0.
    cdef int64_t tiny_width = _tiny_width(kind, g.m, g.k, &level)
    g.tiny = tiny_width > 0
    if not g.tiny:
        level = fo_level_for(max(g.m, g.n) * size)
    g.level = level
    if floating is float:
        g.ks, g.kd = fo_kernels_s[level], NULL
        g.mr, g.nr = g.ks.mr, g.ks.nr
        g.width = tiny_width if g.tiny else g.ks.half if g.m <= g.ks.half else g.ks.lanes
        g.panel_rows, g.panel_bytes = g.ks.panel_rows, g.ks.panel_bytes
        lanes, rows, cols, max_m = g.ks.lanes, g.ks.direct_rows, g.ks.direct_cols, g.ks.direct_max_m
    else:
        g.ks, g.kd = NULL, fo_kernels_d[level]
        g.mr, g.nr = g.kd.mr, g.kd.nr
        g.width = tiny_width if g.tiny else g.kd.half if g.m <= g.kd.half else g.kd.lanes
        g.panel_rows, g.panel_bytes = g.kd.panel_rows, g.kd.panel_bytes
        lanes, rows, cols, max_m = g.kd.lanes, g.kd.direct_rows, g.kd.direct_cols, g.kd.direct_max_m
    # The direct kernel for products whose B rows are contiguous and whose
    # tiles are mostly full, but not the panel kernel's special cases (A^T in
    # registers, k = 1): batch entries the panel kernel would take (Zen 3,
    # AVX2, 2 threads, panel / direct time: batches of 16^3-40^3 products
    # 1.1-1.7, (4096,8,8)^2 float64 1.33; single products 0.73-1.20) and,
    # where the variant says so (max_m, fo_gemm.h), single products and
    # larger entries with up to max_m rows and A in L2_BYTES (512 KiB; Zen 5,
    # A of 256-512 KiB, blocked GEMM / direct: 64x2048 @ 2048x64 fp32 1.28,
    # 256^2 fp64 1.05, (16,256,256)^2 fp64 1.23, 128x1024 @ 1024x128 fp32 1.00).
    # Matrix-vector and vector-matrix products: the dot kernel where m or n
    # is at most DOT_MAX and A's rows and B's columns are contiguous (B's
    # columns copied first when there are at most DOT_MAX of them, of
    # FO_DOT_PACK_BYTES in all, fo_gemm.h); 5 to 8 rows of A
    # against many columns of B only from k = DOT_LONG_K, where the sums
    # across lanes amortise (Zen 5, 2 threads, blocked GEMM time / dot time:
    # 5 x 4096 @ 4096 x 4096 2.2-3.0; 32 x (8 x 128 @ 128 x 512) 0.40-0.51,
    # 32 x (6 x 128 @ 128 x 2048) 0.46-0.62); 5 to 8 columns of B at any k
    # (32 x (128 x 128 @ 128 x 7) 1.9-2.5, 1024^2 @ 1024 x 6 1.35-1.54,
    # 4096 x 1024 @ 1024 x 8 1.5-2.6); else the few-rows
    # kernel for fewer rows of A than the direct kernel takes and B's rows
    # contiguous; the panel kernel and the blocked GEMM vectorise along m or
    # n, where a vector would hold a few elements at most.  From 5 rows of A
    # (up to 7 with AVX-512), only for B beyond a quarter of L2_BYTES and 16
    # vectors wide: the panel kernel keeps the others (Zen 5, 2 threads,
    # panel time / few-rows time: 7 x 512 @ 512 x 37 float32 (74 KiB) 0.67,
    # float64 (148 KiB) 0.72, 6 x 256 @ 256 x 256 float32 1.84, 32 x (7 x 128
    # @ 128 x 512) float32 (256 KiB) 1.77, float64 1.56, 6 x 4096 @ 4096 x
    # 4096 2.4-2.9, 5 x 1024 @ 1024 x 1024 3.3-4.3).  With AVX2 and SSE (4
    # rows in the direct kernel) the same goes for 4 to 7 rows of A, B's rows
    # of FEW_MIN_COLS columns at least, except batch entries with 4 rows
    # whose B fits FEW_CACHED_BYTES (the few-rows kernel's strips, as in
    # fo_gemm_dot.inc; there they read B down its columns from memory: direct
    # time / few-rows time 0.76-0.82).  Zen 3, 2 threads, blocked GEMM,
    # panel or direct time / few-rows time, 60 shapes of m = 4, 5, 7 by k x n
    # of 128 x 512 to 64 x 2048, single and 64 entries: 1.08-3.99 (median
    # 2.2); 4096^2 B (memory-bound) 2.8-3.6, 6 x 256 @ 256 x 256 float32
    # 1.6-1.75, 256 x (6 x 128 @ 128 x 512) 1.8-2.2; float64 with 64-column
    # rows of B 0.77-0.98 (so FEW_MIN_COLS).  8 rows of A (FEW_CACHED_MAX) too with
    # AVX2 and SSE, except single float64 products whose B fits L2_BYTES
    # (Zen 3, 2 threads, blocked GEMM or panel time / few-rows time, best of
    # 9-15 rounds: float32 8 x k @ k x n, 128-4096 by 128-4096, 1.08-2.05,
    # 8 x 4096 @ 4096^2 1.38-1.75; float64 with B beyond L2 0.84-1.58 (ties
    # at 2-8 MiB, 1.25-1.5 from 1024^2), float64 batches of 16-128 entries 1.43-1.69;
    # single float64 products with B of 512 KiB 0.87-0.96).  With AVX-512 (8
    # rows in the direct kernel), 8 rows of A take the few-rows kernel where B
    # comes to B_STREAMED_BYTES: the direct kernel reads B's rows 3 vectors at
    # a time, each k step on another page, which the prefetchers do not
    # follow (Xeon, 2 threads, 7 rounds, direct time / few-rows time: 8 x
    # 4096 @ 4096^2 fp32 2.61, fp64 3.23, 8 x 4096 @ 4096 x 11008 fp32 2.83,
    # 8 x 2048 @ 2048^2 fp32 1.20, fp64 1.66, 8 x 1536 @ 1536^2 fp64 1.34, 8 x
    # 1024 @ 1024 x 4096 fp64 1.45, 8 x 4096 @ 4096 x 1024 fp32 1.01; below 16
    # MiB 0.85-0.98).  So do 9 to 16 rows of A against such a B, with
    # every variant (Zen 5, 2 threads, 7 rounds, blocked GEMM time / few-rows
    # time: 12 or 16 x 2048 @ 2048^2 fp32 2.43 / 2.31, fp64 1.68 / 1.54, 12
    # x 4096 @ 4096 x 11008 fp32 3.41, 16 x 4096 @ 4096^2 fp32 1.81, fp64
    # 1.31, 12 or 16 x 2048 @ 2048 x 1024 fp64 2.15 / 1.77; AVX2, 5 rounds:
    # 12 or 16 rows against 2048^2 and 4096^2, fp32 and fp64, 1.27-1.89);
    # against a B of 4-8 MiB (in L3) the direct kernel stays ahead (direct
    # time / few-rows time 0.62-0.91 for 12 and 16 rows, 0.43-0.61 for
    # batches of 8 entries of (m, 512) @ (512, 512) fp32), and so does it
    # where A^T fits the panel kernel (16 x 512 @ 512 x 8192 fp32, 0.58: k
    # is short enough for a strip of B to stay in L1 across A's row groups).
    # Beyond 16 rows (FO_FEW_MAX) the kernel takes A's rows in two even groups, each
    # a pass over B, up to FEW_GROUPED_MAX rows in float32 and
    # FEW_GROUPED_MAX_F64 in float64 (Zen 5, 2 threads, 5-7 rounds, blocked
    # GEMM time / grouped few-rows time, x 4096 @ 4096^2, AVX-512 / AVX2:
    # 17 rows fp32 1.79 / 1.63, fp64 1.21 / 1.33; 20 rows fp32 1.53 / 1.57,
    # fp64 1.03 / 1.00; 24 rows fp32 1.45 / 1.24, fp64 1.03 / 0.93; 28 rows
    # fp32 1.28 / 1.10; 32 rows fp32 1.14 / 0.99, fp64 0.89 / 0.85; (24,
    # 4096) @ (4096, 11008) fp32 1.86).
    # For the same reason (and, where rows of B are a
    # multiple of 16 KiB apart, because they share L2 sets, so that a strip of
    # B is read from memory again for every group of rows of A), no product
    # or batch entry against such a B takes the direct kernel, unless the panel
    # kernel would take it instead (9 x 512 @ 512 x 8192 fp32, direct / panel
    # 0.80): the blocked GEMM packs B.  Where A^T is one micro-panel and B's
    # rows are contiguous (from 17 rows of A, or fewer where the few-rows
    # kernel does not take them), each packed B^T block is used once, and its blocks
    # are STREAMED_MC columns of B wide and STREAMED_KC deep, so that its
    # packing reads long runs of B's rows (the default 192-384 columns by 512
    # read 768 B-1.5 KiB of each row).  Xeon, 2 threads, direct time / blocked
    # GEMM time with these blocks: (12, 4096) @ (4096, 11008) fp32 2.47, (16,
    # 4096) @ (4096, 11008) fp64 2.88, 16 x 4096 @ 4096 x 2048 fp32 1.11, 12 x
    # 3072 @ 3072^2 fp32 1.11, 32 x 1000 @ 1000 x 3000 fp64 1.37, 64 x 2000 @
    # 2000 x 4000 fp32 1.52; the default blocks / these: 16 x 4096 @ 4096^2
    # fp32 1.44, fp64 1.16, 16 x 2048 @ 2048 x 4096 fp32 1.48 (128-deep
    # blocks 0.82-1.04 against 64; 4096 or 8192 columns wide against 2048:
    # 0.93-1.06).
    # Few columns of B in batch entries whose A^T fits the panel kernel stay
    # with it or the direct kernel: there the dot kernel's sums across lanes
    # outweigh its FMAs (Zen 3, AVX2, 2 threads, 256 or 4096 entries, dot
    # time / theirs: float64 (8,8)@(8,5..8) 2.8-4.9, (16,32)@(32,5..8)
    # 1.9-2.8, (6,6)@(6,6) 3.4, (8,8)@(8,4) 2.3, (16,16)@(16,4) 2.4; float32
    # (16,32)@(32,5..8) 1.8-3.3, (16,16)@(16,4) 2.1; entries of 64x128 and
    # more, which keep the dot kernel, read 0.41-1.36).
    cdef int64_t b_bytes = g.k * g.n * size      # one B (batch entry)
    cdef bint small_entry = n_batch > 1 and _fits_panel(&g, size)
    cdef bint few_cols = g.n <= DOT_MAX and not small_entry
    g.dot = (not g.tiny and g.sa1 == 1 and g.k >= lanes
             and (g.sb0 == 1 and (min(g.m, g.n) <= NARROW_MAX or few_cols
                                  or g.m <= DOT_MAX and g.k >= DOT_LONG_K)
                  or few_cols and b_bytes <= FO_DOT_PACK_BYTES))
    cdef bint wide_b = g.n >= 16 * lanes and b_bytes > L2_BYTES // 4
    cdef bint strips = g.m <= NARROW_MAX and b_bytes <= FEW_CACHED_BYTES
    cdef bint streamed_b = b_bytes >= B_STREAMED_BYTES
    cdef bint eight_rows = (g.m == FEW_CACHED_MAX and rows < FEW_CACHED_MAX
                            and (size == 4 or n_batch > 1 or b_bytes > L2_BYTES))
    cdef bint rows_vs_streamed_b = streamed_b and (
        g.m == FEW_CACHED_MAX or FEW_CACHED_MAX < g.m and not _fits_panel(&g, size)
        and g.m <= (FEW_GROUPED_MAX_F64 if size == 8 else FEW_GROUPED_MAX))
    g.few = (not g.tiny and not g.dot and g.sb1 == 1 and g.n >= lanes
             and (g.m < rows and (g.m <= NARROW_MAX or wide_b)
                  or (g.m < FEW_CACHED_MAX or eight_rows or rows_vs_streamed_b)
                  and wide_b and g.n >= FEW_MIN_COLS
                  and not (n_batch > 1 and strips)))
    g.direct = (not g.dot and not g.few and g.sb1 == 1 and g.m >= rows and g.n >= lanes and g.k > 1
                and not (g.m <= g.width and g.k == g.width)
                and (small_entry
                     or g.m <= max_m and g.m * g.k * size <= L2_BYTES
                     and not (streamed_b and not _fits_panel(&g, size))))
    if g.direct:
        g.panel_rows = cols
    g.stream = g.direct and n_batch * g.n * g.m * size >= STREAM_MIN_BYTES
    g.rows_across_panels = b_bytes > L2_BYTES
    cdef bint one_a_panel = g.m <= g.nr    # so each B^T block is used once
    g.b_in_place = one_a_panel and g.sb0 == 1 and g.sb1 != 0
    g.kc = KC_IN_PLACE if g.b_in_place else KC
    g.mc = min(max(g.mr, MC_BYTES // (KC * size) // g.mr * g.mr), _round_up(g.n, g.mr))
    if one_a_panel and not g.b_in_place and g.sb1 == 1 and streamed_b:
        g.kc = STREAMED_KC
        g.mc = min(STREAMED_MC // g.mr * g.mr, _round_up(g.n, g.mr))
    g.nc = min(max(g.nr, NC_BYTES // (KC * size) // g.nr * g.nr), _round_up(g.m, g.nr))
    g.ldr = g.m
    _span(g.m, g.k, g.sa0, g.sa1, &g.a_lo, &g.a_len)
    g.a_end = 0                        # only the tiny kernel reads up to it
    if g.tiny:
        g.a_end = 1
        for d in range(nd_a):
            g.a_end += max(0, (cnp.PyArray_DIMS(a)[d] - 1) * sa[d] // size)
    _span(g.k, g.n, g.sb0, g.sb1, &g.b_lo, &g.b_len)
    return g


cdef void _span(int64_t rows, int64_t cols, int64_t s0, int64_t s1,
                int64_t *lo, int64_t *length) noexcept nogil:
    """Elements [lo, lo + length) relative to its first element that a
    rows x cols operand spans; length 0 if empty or over twice its elements
    (too sparse to prefetch whole)."""
    lo[0] = min(0, (rows - 1) * s0) + min(0, (cols - 1) * s1)
    length[0] = max(0, (rows - 1) * s0) + max(0, (cols - 1) * s1) + 1 - lo[0]
    if rows * cols == 0 or length[0] > 2 * rows * cols:
        length[0] = 0


# ---------------------------------------------------------------- packing --

cdef inline int64_t _half(const Geometry *g, const floating *kind) noexcept nogil:
    """Half SIMD width, in elements, of the product's variant."""
    if floating is float:
        return g.ks.half
    return g.kd.half


cdef inline bint _pack_simd(const Geometry *g, const floating *src, int64_t s_row, int64_t s_col,
                            int64_t rows, int64_t depth, int64_t width,
                            floating *dst) noexcept nogil:
    """_pack_panel by the product's SIMD variant, where it has a kernel for the
    layout: in-register transposes when the depth is contiguous (width a
    multiple of its lanes, or its register tile's rows: pack_t_mr),
    fixed-size copies for a full panel of contiguous rows (_packs_mr).  False
    if none applies."""
    if floating is float:
        if s_col == 1 and width % g.ks.lanes == 0:
            g.ks.pack_t(rows, depth, src, s_row, 1, dst, width)
            return True
        if s_col == 1 and width == g.mr:
            g.ks.pack_t_mr(rows, depth, src, s_row, dst)
            return True
    else:
        if s_col == 1 and width % g.kd.lanes == 0:
            g.kd.pack_t(rows, depth, src, s_row, 1, dst, width)
            return True
        if s_col == 1 and width == g.mr:
            g.kd.pack_t_mr(rows, depth, src, s_row, dst)
            return True
    if _packs_mr(g, s_row, rows, width):
        _pack_mr(g, depth, 1, src, s_col, dst)
        return True
    return False


cdef inline bint _packs_mr(const Geometry *g, int64_t s_row, int64_t rows,
                           int64_t width) noexcept nogil:
    """Does the SIMD variant's pack_mr take panels of `rows` rows, `width` wide?"""
    return s_row == 1 and rows == width and width == g.mr


cdef inline void _pack_mr(const Geometry *g, int64_t depth, int64_t panels, const floating *src,
                          int64_t s_col, floating *dst) noexcept nogil:
    """`panels` full micro-panels of g.mr contiguous rows by the SIMD variant's
    copies, a few source rows at a time across them all (fo_gemm_kernels.inc)."""
    if floating is float:
        g.ks.pack_mr(depth, panels, src, s_col, dst)
    else:
        g.kd.pack_mr(depth, panels, src, s_col, dst)


cdef void _pack_panel(const Geometry *g, const floating *src, int64_t s_row, int64_t s_col,
                      int64_t rows, int64_t depth, int64_t width,
                      floating *dst) noexcept nogil:
    """dst[p * width + r] = src[r * s_row + p * s_col]; rows..width zero-padded.

    One micro-panel: `rows` (<= width) rows of `depth` elements, stored
    depth-major so the micro-kernel reads it sequentially.
    """
    cdef int64_t r, p
    if _pack_simd(g, src, s_row, s_col, rows, depth, width, dst):
        return
    for p in range(depth):
        for r in range(rows):
            dst[p * width + r] = src[r * s_row + p * s_col]
    if rows < width:
        for p in range(depth):
            for r in range(rows, width):
                dst[p * width + r] = 0


cdef inline void _pack_panels(const Geometry *g, const floating *src, int64_t s_row, int64_t s_col,
                              int64_t rows, int64_t depth, int64_t width,
                              int64_t first, int64_t last,
                              floating *dst) noexcept nogil:
    """Micro-panels first..last-1 of a rows x depth block (see _pack_panel);
    the full ones in one call across them all where pack_mr takes them and
    g.rows_across_panels.  Zen 3, 2 threads, panel by panel / across:
    (8..32, 4096) @ (4096, 4096) fp32 1.26-1.81, fp64 1.65-2.2, (64, 4096) @
    (4096, 4096) fp32 1.14, (16, 1024) @ (1024, 1024) fp32 1.09-1.18, squares
    1024-4096 0.95-1.10 (ties).  Where B fits L2 it gained nothing (the
    (8,128,64) @ (64,256) batch 0.91-1.20, 128^3 entries 0.95-1.02, against
    0.96 for two copies of one build): those keep panel by panel."""
    cdef int64_t q, r0, full = min(last, rows // width)
    if full > first and g.rows_across_panels and _packs_mr(g, s_row, width, width):
        _pack_mr(g, depth, full - first, src + first * width, s_col, dst + first * width * depth)
        first = full
    for q in range(first, last):
        r0 = q * width
        _pack_panel(g, src + r0 * s_row, s_row, s_col, min(width, rows - r0),
                    depth, width, dst + q * width * depth)


# --------------------------------------------------------- blocked kernel --

cdef inline void _tile(const Geometry *g, int64_t kc, const floating *ap, int64_t a_row,
                       const floating *bp, floating *c, int64_t ldc, bint accumulate,
                       int64_t mr, int64_t nr) noexcept nogil:
    """One register tile; a_row 0: ap is a packed micro-panel, else its mr
    rows themselves, a_row apart, depth contiguous (fo_gemm_kernels.inc)."""
    if floating is float:
        g.ks.tile(kc, ap, a_row, bp, c, ldc, accumulate, <int>mr, <int>nr)
    else:
        g.kd.tile(kc, ap, a_row, bp, c, ldc, accumulate, <int>mr, <int>nr)


cdef void _block_rows(const Geometry *g, const floating *b, floating *r,
                      int64_t ic, int64_t mc, int64_t jc, int64_t nc, int64_t pc,
                      int64_t kc, const floating *bt_cols, floating *at_rows,
                      fo_prefetch *pf) noexcept nogil:
    """Rows ic..ic+mc of R, columns jc..jc+nc, depth pc..pc+kc.

    Packs the B^T block (rows of R) into `at_rows`, then runs the register
    tiles against the already packed A^T block `bt_cols`, a prefetch step
    (pf, or NULL) after each.  Where the A^T block is one micro-panel (nc <=
    nr) and B's columns are contiguous (x @ W.T), each B^T micro-panel would
    be used once: the tiles read B's columns in place instead (Zen 3, AVX2,
    2 threads, packed / in place: (12..16, 4096) @ W.T fp32 1.23-1.29,
    (16, 1024) @ (1024^2).T 1.60-1.79, (16, 4096) @ (11008, 4096).T 1.24-1.37).
    That is every block of a product with g.b_in_place (whose depth blocks
    are then KC_IN_PLACE deep), and a last, narrow block of a slab of R's
    columns.
    """
    cdef int64_t ir, jr, q, w
    cdef const floating *block = b + ic * g.sb1 + pc * g.sb0
    if nc <= g.nr and g.sb0 == 1 and g.sb1 != 0:   # one A^T micro-panel: B^T ones used once, read in place
        for w in range(_cdiv(mc, g.mr)):
            ir = w * g.mr
            _tile(g, kc, block + ir * g.sb1, g.sb1, bt_cols, r + (ic + ir) * g.ldr + jc, g.ldr,
                  pc > 0, min(g.mr, mc - ir), nc)
            fo_prefetch_step(pf)
        return
    _pack_panels(g, block, g.sb1, g.sb0, mc, kc, g.mr, 0, _cdiv(mc, g.mr), at_rows)
    for q in range(_cdiv(nc, g.nr)):
        jr = q * g.nr
        for w in range(_cdiv(mc, g.mr)):
            ir = w * g.mr
            _tile(g, kc, at_rows + ir * kc, 0, bt_cols + jr * kc,
                  r + (ic + ir) * g.ldr + jc + jr, g.ldr, pc > 0,
                  min(g.mr, mc - ir), min(g.nr, nc - jr))
            fo_prefetch_step(pf)


cdef void _gemm_serial(const Geometry *g, const floating *a, const floating *b,
                       floating *r, floating *scratch_rows, floating *scratch_cols,
                       fo_prefetch *pf) noexcept nogil:
    """One product on the calling thread, blocked for the caches; pf (or
    NULL) spread over its register tiles."""
    cdef int64_t mc = _even_block(g.n, g.mc, g.mr), nc_even = _even_block(g.m, g.nc, g.nr)
    cdef int64_t jc, nc, pc, kc, u, v, t
    if pf != NULL:
        fo_prefetch_spread(pf, _cdiv(g.m, g.nr) * _cdiv(g.n, g.mr) * _cdiv(g.k, g.kc))
    for u in range(_cdiv(g.m, nc_even)):
        jc = u * nc_even
        nc = min(nc_even, g.m - jc)
        for v in range(_cdiv(g.k, g.kc)):
            pc = v * g.kc
            kc = min(g.kc, g.k - pc)
            _pack_panels(g, a + jc * g.sa0 + pc * g.sa1, g.sa0, g.sa1, nc, kc, g.nr,
                         0, _cdiv(nc, g.nr), scratch_cols)
            for t in range(_cdiv(g.n, mc)):
                _block_rows(g, b, r, t * mc, min(mc, g.n - t * mc), jc, nc, pc, kc,
                            scratch_cols, scratch_rows, pf)


cdef void _gemm_slab(const Geometry *g, const floating *a, const floating *b,
                     floating *r, bint by_rows, int64_t first, int64_t count,
                     floating *scratch_rows, floating *scratch_cols) noexcept nogil:
    """Rows (by_rows) or columns first..first+count-1 of R, as a serial GEMM."""
    cdef Geometry s = g[0]
    if by_rows:
        s.n = count
        _gemm_serial(&s, a, b + first * g.sb1, r + first * g.ldr, scratch_rows, scratch_cols, NULL)
    else:
        s.m = count
        _gemm_serial(&s, a + first * g.sa0, b, r + first, scratch_rows, scratch_cols, NULL)


cdef void _gemm_parallel(const Geometry *g, const floating *a, const floating *b,
                         floating *r, floating *scratch, int64_t per_thread,
                         int64_t rows_len, int n_threads) noexcept nogil:
    """One product on n_threads threads, each a serial GEMM on its own slab of R.

    Slabs are rows of R when A^T (m x k, packed by every thread) is the
    smaller operand, else columns.  Nothing is shared, so there is no barrier
    between cache blocks (sharing one packed A^T block and splitting its rows
    measured 7% slower on 2 cores at 4096^2).
    """
    cdef bint by_rows = g.m <= g.n
    cdef int64_t extent = g.n if by_rows else g.m
    cdef int64_t chunk = _round_up(_cdiv(extent, n_threads), g.mr if by_rows else g.nr), c
    cdef floating *mine
    for c in prange(_cdiv(extent, chunk), schedule="static", num_threads=n_threads):
        mine = scratch + omp_get_thread_num() * per_thread
        _gemm_slab(g, a, b, r, by_rows, c * chunk, min(chunk, extent - c * chunk),
                   mine, mine + rows_len)


cdef inline int64_t _panel_len(const Geometry *g) noexcept nogil:
    """Elements of packed A^T the panel kernel needs (rows padded to its width)."""
    return g.k * _round_up(g.m, g.width)


cdef inline int64_t _kernel_scratch(const Geometry *g, int64_t size) noexcept nogil:
    """Scratch elements (of `size` bytes) per thread of the panel kernel (its
    packed A^T), the few-rows kernel (its sums, for 2 or more rows of A) and
    the dot kernel (B's columns, where they are strided); the direct kernel
    needs none."""
    if g.few:
        return FO_FEW_SUMS_BYTES // size if g.m > 1 else 0
    if g.dot:
        return FO_DOT_PACK_BYTES // size if g.sb0 != 1 else 0
    return 0 if g.direct else _panel_len(g)


cdef inline bint _fits_panel(const Geometry *g, int64_t size) noexcept nogil:
    return _panel_len(g) * size <= g.panel_bytes


cdef void _panel(const Geometry *g, const floating *a, const floating *b,
                 floating *r, floating *at, int64_t j_begin, int64_t j_end,
                 bint pack, fo_prefetch *pf) noexcept nogil:
    """Rows j_begin..j_end-1 of R by the direct kernel or the
    panel kernel (A^T packed into `at`; pf, or NULL, prefetched along the way).
    The direct kernel takes no pf: the hardware prefetchers follow its
    row-by-row reads, and prefetching there measured 0.94-1.05x."""
    if g.direct:
        if floating is float:
            g.ks.direct(g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, r, j_begin, j_end, g.stream)
        else:
            g.kd.direct(g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, r, j_begin, j_end, g.stream)
    elif floating is float:
        (g.ks.panel_half if g.width == g.ks.half else g.ks.panel_full)(
            g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, g.sb1, r, at, j_begin, j_end, pack, pf)
    else:
        (g.kd.panel_half if g.width == g.kd.half else g.kd.panel_full)(
            g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, g.sb1, r, at, j_begin, j_end, pack, pf)


cdef inline void _entries(const Geometry *g, const floating *pa, const floating *pb,
                          floating *pr, const int64_t *a_off, const int64_t *b_off,
                          int64_t t_begin, int64_t t_end, floating *scratch) noexcept nogil:
    """Batch entries t_begin..t_end-1 on the calling thread, in one C call: by
    the tiny (g.tiny), dot (g.dot), few-rows (g.few) or direct kernel, with
    this thread's scratch (_kernel_scratch)."""
    cdef int kind = FO_ENTRIES_DOT if g.dot else FO_ENTRIES_FEW if g.few else FO_ENTRIES_DIRECT
    if g.tiny:
        kind = FO_ENTRIES_TINY_HALF if g.width == _half(g, pa) else FO_ENTRIES_TINY_FULL
    if floating is float:
        g.ks.entries(kind, g.m, g.k, g.n, pa, a_off, g.sa0, g.sa1,
                     pa + g.a_end, pb, b_off, g.sb0, g.sb1, pr, t_begin, t_end, g.stream, scratch)
    else:
        g.kd.entries(kind, g.m, g.k, g.n, pa, a_off, g.sa0, g.sa1,
                     pa + g.a_end, pb, b_off, g.sb0, g.sb1, pr, t_begin, t_end, g.stream, scratch)


cdef void _narrow_parallel(const Geometry *g, const floating *a, const floating *b,
                           floating *r, floating *scratch, int64_t per_thread,
                           int n_threads) noexcept nogil:
    """One product by the dot or few-rows kernel, the longer of R's sides
    split among n_threads (R's rows: columns of B; else its columns: rows of
    A, for the dot kernel only), each with per_thread elements of scratch."""
    cdef bint by_rows = g.few or g.n >= g.m
    cdef int64_t extent = g.n if by_rows else g.m
    cdef int64_t chunk = _round_up(_cdiv(extent, n_threads), 64), c, lo, hi
    cdef floating *mine
    for c in prange(_cdiv(extent, chunk), schedule="static", num_threads=n_threads):
        lo = c * chunk
        hi = min(extent, lo + chunk)
        mine = scratch + omp_get_thread_num() * per_thread
        if floating is float:
            if g.few:
                g.ks.few(g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, r, lo, hi, mine)
            else:
                g.ks.dot(g.m, g.k, a, g.sa0, b, g.sb0, g.sb1, r, 0 if by_rows else lo,
                         g.m if by_rows else hi, lo if by_rows else 0, hi if by_rows else g.n, mine)
        else:
            if g.few:
                g.kd.few(g.m, g.k, a, g.sa0, g.sa1, b, g.sb0, r, lo, hi, mine)
            else:
                g.kd.dot(g.m, g.k, a, g.sa0, b, g.sb0, g.sb1, r, 0 if by_rows else lo,
                         g.m if by_rows else hi, lo if by_rows else 0, hi if by_rows else g.n, mine)


cdef void _panel_parallel(const Geometry *g, const floating *a, const floating *b,
                          floating *r, floating *scratch, int64_t per_thread,
                          int n_threads) noexcept nogil:
    """One product by the panel kernel, rows of R split among n_threads."""
    cdef int64_t chunk = _round_up(_cdiv(g.n, n_threads), g.panel_rows), c
    for c in prange(_cdiv(g.n, chunk), schedule="static", num_threads=n_threads):
        _panel(g, a, b, r, scratch + omp_get_thread_num() * per_thread,
               c * chunk, min(g.n, (c + 1) * chunk), True, NULL)


cdef void _native_entry(const Geometry *g, bint panel, const floating *pa,
                        const floating *pb, floating *pr, const int64_t *a_off,
                        const int64_t *b_off, int64_t t, int64_t n_batch,
                        floating *rows_buf, floating *cols_buf) noexcept nogil:
    """Batch entry t on the calling thread, by the panel kernel or the blocked
    GEMM (tiny and direct entries go through _entries).  Both prefetch entry
    t + 1's A and B into L2 as they go where those differ from entry t's, are
    dense and come to PREFETCH_MIN_BYTES, up to half of L2 (more would evict
    the current entry's packed blocks)."""
    cdef fo_prefetch pf
    cdef fo_prefetch *next_entry = NULL
    cdef const floating *a = pa + a_off[t]
    cdef const floating *b = pb + b_off[t]
    cdef int64_t a_bytes = 0, b_bytes = 0
    if t + 1 < n_batch:
        if a_off[t + 1] != a_off[t]:
            a_bytes = g.a_len * sizeof(floating)
        if b_off[t + 1] != b_off[t]:
            b_bytes = g.b_len * sizeof(floating)
        if PREFETCH_MIN_BYTES <= a_bytes + b_bytes <= L2_BYTES // 2:
            next_entry = &pf
            pf.next[0] = <const char *>(pa + a_off[t + 1] + g.a_lo)
            pf.end[0] = pf.next[0] + a_bytes
            pf.next[1] = <const char *>(pb + b_off[t + 1] + g.b_lo)
            pf.end[1] = pf.next[1] + b_bytes
    if panel:
        _panel(g, a, b, pr + t * g.n * g.m, rows_buf, 0, g.n, True, next_entry)
    else:
        _gemm_serial(g, a, b, pr + t * g.n * g.m, rows_buf, cols_buf, next_entry)


# ------------------------------------------------------------------- BLAS --

cdef bint _blas_operand(int64_t rows, int64_t cols, int64_t s_row, int64_t s_col,
                        int *trans, int64_t *ld) noexcept nogil:
    """Can a rows x cols operand with these strides go to row-major CBLAS?

    Sets `trans` and the leading dimension `ld`.  A dimension of length 1
    takes any stride, so it is normalised first.
    """
    cdef int64_t row = s_row if rows > 1 else max(cols, 1)
    cdef int64_t col = s_col if cols > 1 else 1
    if col == 1 and row >= max(cols, 1):
        trans[0] = 0
        ld[0] = row
        return True
    row = s_row if rows > 1 else 1
    col = s_col if cols > 1 else max(rows, 1)
    if row == 1 and col >= max(rows, 1):
        trans[0] = 1
        ld[0] = col
        return True
    return False


cdef inline bint _blas_fits(int64_t x) noexcept nogil:
    return fo_blas_ilp64 or x < 2147483647


cdef bint _blas_layout(const Geometry *g, int *tx, int64_t *ldx, int *ty,
                       int64_t *ldy) noexcept nogil:
    """Can R = B^T @ A^T go to CBLAS as is?  Sets the operands' trans and ld."""
    return (_blas_operand(g.n, g.k, g.sb1, g.sb0, tx, ldx)
            and _blas_operand(g.k, g.m, g.sa1, g.sa0, ty, ldy)
            and _blas_fits(max(ldx[0], ldy[0])) and _blas_fits(g.m * g.n))


cdef void _blas_one(const Geometry *g, const floating *a, const floating *b,
                    floating *r) noexcept nogil:
    """R = B^T @ A^T through CBLAS, a layout _blas_layout accepts."""
    cdef int tx, ty
    cdef int64_t ldx, ldy
    _blas_layout(g, &tx, &ldx, &ty, &ldy)
    if floating is float:
        fo_blas_gemm_s(tx, ty, g.n, g.m, g.k, b, ldx, a, ldy, r, g.m)
    else:
        fo_blas_gemm_d(tx, ty, g.n, g.m, g.k, b, ldx, a, ldy, r, g.m)


# ------------------------------------------------------------- batch loop --

cdef inline bint _worth_releasing_gil(int64_t work) noexcept nogil:
    """Is `work` multiply-adds in all enough to release the GIL for?"""
    return work >= GIL_FREE_MIN_WORK


cdef inline bint _worth_threads(int64_t work, int64_t size) noexcept nogil:
    """Is `work` multiply-adds of `size`-byte elements enough to wake more threads?"""
    return work * size >= PARALLEL_MIN_BYTES


cdef inline bint _split_batch(int64_t n_batch, int n_threads, int64_t work,
                              int64_t size) noexcept nogil:
    """Thread over batch entries (one product per thread) rather than inside each?

    Yes when the entries divide evenly among the threads, are many, or are
    too small to split.
    """
    return n_batch > 1 and n_batch >= n_threads and (
        n_batch % n_threads == 0 or n_batch >= 4 * n_threads or not _worth_threads(work, size))


# The kernel a plan runs (plan() names them: KERNEL_NAMES), and how it
# shares the threads: one thread, one product per thread, or threads inside
# each product in turn.
cdef enum:
    KERNEL_BLAS = 0
    KERNEL_TINY = 1                  # KERNEL_TINY .. KERNEL_DIRECT: whole batch entries
    KERNEL_DOT = 2                   # per C call (_entries) unless split inside products
    KERNEL_FEW = 3
    KERNEL_DIRECT = 4
    KERNEL_PANEL = 5
    KERNEL_GEMM = 6
    SPLIT_NONE = 0
    SPLIT_BATCH = 1
    SPLIT_PRODUCT = 2

KERNEL_NAMES = ("blas", "tiny", "dot", "few-rows", "direct", "panel", "blocked-gemm")
SPLIT_NAMES = ("none", "batch", "product")


cdef struct Plan:
    int kernel                       # KERNEL_*
    int split                        # SPLIT_*
    int threads                      # threads it runs on (BLAS: it may take fewer)


cdef Plan _plan(const Geometry *g, int64_t n_batch, bint blas, int n_threads) noexcept nogil:
    """What runs every product of the batch, on how many threads, split how.

    BLAS (blas: method METHOD_BLAS, and a layout it takes): over batch entries with
    one BLAS thread each where _split_batch says so and the BLAS can set its
    threads per caller, else n_threads inside each call.  Native: the kernel
    _geometry chose (tiny, dot, few-rows or direct), else the panel kernel if
    A^T fits it, else the blocked GEMM; on n_threads, or for too little work
    one thread per half of L2 the results fill (_worth_threads).  Threads
    inside one product run the dot / few-rows kernels over R's longer side and
    the tiny products' panel kernel (or the direct kernel, where _geometry
    chose it) over R's rows.
    """
    cdef Plan p
    cdef int tx, ty
    cdef int64_t ldx, ldy, size = sizeof(float) if g.ks != NULL else sizeof(double)
    cdef int64_t work = g.m * g.n * g.k
    cdef int64_t halves_of_l2 = _cdiv(2 * g.n * g.m * n_batch * size, L2_BYTES)
    if blas and _blas_layout(g, &tx, &ldx, &ty, &ldy):
        p.kernel, p.threads = KERNEL_BLAS, n_threads
        if (n_threads > 1 and _split_batch(n_batch, n_threads, work, size)
                and fo_blas_threads_local != NULL):
            p.split = SPLIT_BATCH
        else:
            p.split = SPLIT_PRODUCT if n_threads > 1 else SPLIT_NONE
        return p
    p.threads = (n_threads if _worth_threads(work * n_batch, size)
                 else <int>min(n_threads, halves_of_l2))
    if p.threads > 1 and _split_batch(n_batch, p.threads, work, size):
        p.split = SPLIT_BATCH
    else:
        p.split = SPLIT_PRODUCT if p.threads > 1 else SPLIT_NONE
    if g.tiny and p.split != SPLIT_PRODUCT:
        p.kernel = KERNEL_TINY
    elif g.dot:
        p.kernel = KERNEL_DOT
    elif g.few:
        p.kernel = KERNEL_FEW
    elif g.direct:
        p.kernel = KERNEL_DIRECT
    elif _fits_panel(g, size):
        p.kernel = KERNEL_PANEL
    else:
        p.kernel = KERNEL_GEMM
    return p


cdef void _run_blas(const Geometry *g, const Plan *p, const floating *pa, const floating *pb,
                    floating *pr, const int64_t *a_off, const int64_t *b_off,
                    int64_t n_batch) noexcept nogil:
    """Every product through CBLAS (p.kernel is KERNEL_BLAS)."""
    cdef int64_t t, stride_r = g.n * g.m
    cdef int previous = fo_blas_set_threads(1 if p.split == SPLIT_BATCH else p.threads)
    if p.split == SPLIT_BATCH:
        for t in prange(n_batch, schedule="static", num_threads=p.threads):
            fo_blas_set_threads(1)
            _blas_one(g, pa + a_off[t], pb + b_off[t], pr + t * stride_r)
    else:
        for t in range(n_batch):
            _blas_one(g, pa + a_off[t], pb + b_off[t], pr + t * stride_r)
    if previous > 0:
        fo_blas_set_threads(previous)


cdef void _native_all(const Geometry *g, const Plan *p, const floating *pa,
                      const floating *pb, floating *pr, const int64_t *a_off,
                      const int64_t *b_off, int64_t n_batch,
                      floating *scratch, int64_t per_thread,
                      int64_t rows_len) noexcept nogil:
    """Every product of the batch by the native kernels, as planned (_plan);
    scratch holds per_thread elements per thread."""
    cdef int64_t t, stride_r = g.n * g.m
    cdef int nt = p.threads
    cdef bint whole_entries = p.kernel <= KERNEL_DIRECT, panel = p.kernel != KERNEL_GEMM
    if whole_entries and p.split == SPLIT_BATCH:
        for t in prange(nt, schedule="static", num_threads=nt):
            _entries(g, pa, pb, pr, a_off, b_off, t * n_batch // nt, (t + 1) * n_batch // nt,
                     scratch + omp_get_thread_num() * per_thread)
    elif whole_entries and p.split == SPLIT_NONE:
        _entries(g, pa, pb, pr, a_off, b_off, 0, n_batch, scratch)
    elif p.split == SPLIT_BATCH:
        for t in prange(n_batch, schedule="static", num_threads=nt):
            _native_entry(g, panel, pa, pb, pr, a_off, b_off, t, n_batch,
                          scratch + omp_get_thread_num() * per_thread,
                          scratch + omp_get_thread_num() * per_thread + rows_len)
    elif p.split == SPLIT_NONE:
        for t in range(n_batch):
            _native_entry(g, panel, pa, pb, pr, a_off, b_off, t, n_batch,
                          scratch, scratch + rows_len)
    elif p.kernel == KERNEL_DOT or p.kernel == KERNEL_FEW:
        for t in range(n_batch):
            _narrow_parallel(g, pa + a_off[t], pb + b_off[t], pr + t * stride_r,
                             scratch, per_thread, nt)
    elif panel:
        for t in range(n_batch):
            _panel_parallel(g, pa + a_off[t], pb + b_off[t], pr + t * stride_r,
                            scratch, per_thread, nt)
    else:
        for t in range(n_batch):
            _gemm_parallel(g, pa + a_off[t], pb + b_off[t], pr + t * stride_r,
                           scratch, per_thread, rows_len, nt)


cdef int _run_native(const Geometry *g, const Plan *p, const floating *pa, const floating *pb,
                     floating *pr, const int64_t *a_off, const int64_t *b_off,
                     int64_t n_batch) except -1:
    """Every product through the native kernels, as planned.

    Scratch per thread: packed B^T rows and a packed A^T block (blocked
    GEMM), or what _kernel_scratch says.  Up to STACK_BYTES in all, it lives
    on the stack.
    """
    cdef int64_t rows_len, cols_len, per_thread
    cdef char stack[STACK_BYTES + 64]
    cdef floating *scratch
    cdef size_t total
    if p.kernel != KERNEL_GEMM:
        rows_len, cols_len = _round_up(_kernel_scratch(g, sizeof(floating)), 16), 0
    else:
        rows_len = 0 if g.b_in_place else _round_up(g.mc * min(g.k, g.kc), 16)
        cols_len = _round_up(g.nc * min(g.k, g.kc), 16)
    per_thread = rows_len + cols_len
    total = per_thread * p.threads * sizeof(floating)
    if total <= STACK_BYTES:
        scratch = <floating *>(<intptr_t>(stack + 63) & ~(<intptr_t>63))
    else:
        scratch = <floating *>aligned_alloc(64, _round_up(total, 64))
        if scratch == NULL:
            raise MemoryError("fastops.matmul_t: cannot allocate packing buffers")
    if _worth_releasing_gil(g.m * g.n * g.k * n_batch):
        with nogil:
            _native_all(g, p, pa, pb, pr, a_off, b_off, n_batch, scratch, per_thread, rows_len)
    else:
        _native_all(g, p, pa, pb, pr, a_off, b_off, n_batch, scratch, per_thread, rows_len)
    if total > STACK_BYTES:
        free(scratch)
    return 0


cdef int _run(floating *kind, cnp.ndarray a, cnp.ndarray b, cnp.ndarray out,
              const int64_t *a_off, const int64_t *b_off, int64_t n_batch,
              int method, int n_threads) except -1:
    cdef Geometry g = _geometry(kind, a, b, n_batch)
    cdef Plan p = _plan(&g, n_batch, method == METHOD_BLAS, n_threads)
    cdef const floating *pa = <const floating *>cnp.PyArray_DATA(a)
    cdef const floating *pb = <const floating *>cnp.PyArray_DATA(b)
    cdef floating *pr = <floating *>cnp.PyArray_DATA(out)
    note_threads(p.threads)             # a team of p.threads, OpenMP's (or OpenBLAS's)
    if p.kernel != KERNEL_BLAS:
        _run_native(&g, &p, pa, pb, pr, a_off, b_off, n_batch)
    elif _worth_releasing_gil(g.m * g.n * g.k * n_batch):
        with nogil:
            _run_blas(&g, &p, pa, pb, pr, a_off, b_off, n_batch)
    else:
        _run_blas(&g, &p, pa, pb, pr, a_off, b_off, n_batch)
    return 0


cdef int64_t _zero = 0


class UnalignedError(ValueError):
    """An operand's data or strides are not aligned to its element size."""


cdef int64_t *_batch_offsets(cnp.ndarray x, cnp.ndarray out, int64_t n_batch) except NULL:
    """Element offset of each batch entry of x broadcast to out's batch dimensions
    (out's shape without its last two), in C order; a malloc'd array."""
    cdef int nb = cnp.PyArray_NDIM(out) - 2, lead = nb - (cnp.PyArray_NDIM(x) - 2), d
    cdef int64_t size[64]
    cdef int64_t step[64]
    cdef int64_t count[64]
    cdef int64_t t, offset = 0
    cdef int64_t *offsets = <int64_t *>malloc(max(n_batch, 1) * sizeof(int64_t))
    if offsets == NULL:
        raise MemoryError("fastops.matmul_t: cannot allocate batch offsets")
    for d in range(nb):
        size[d] = cnp.PyArray_DIMS(out)[d]
        count[d] = 0
        step[d] = 0
        if d >= lead and cnp.PyArray_DIMS(x)[d - lead] != 1:
            step[d] = cnp.PyArray_STRIDES(x)[d - lead] // cnp.PyArray_ITEMSIZE(x)
    for t in range(n_batch):
        offsets[t] = offset
        d = nb - 1
        while d >= 0:                     # next index, last dimension fastest
            count[d] += 1
            offset += step[d]
            if count[d] < size[d]:
                break
            offset -= step[d] * size[d]
            count[d] = 0
            d -= 1
    return offsets


#: NumPy memory handler for results from ALIGNED_MIN_BYTES: data on a 64-byte
#: boundary (src/fo_aligned.h)
_ALIGNED_HANDLER = PyCapsule_New(fo_aligned_handler_address, "mem_handler", NULL)


def _numpy_advises_hugepages() -> bool:
    """NumPy's setting for huge pages on large arrays (it has a setter only,
    which returns the previous value)."""
    from numpy._core.multiarray import _set_madvise_hugepage
    enabled = _set_madvise_hugepage(True)
    _set_madvise_hugepage(enabled)
    return bool(enabled)


def aligned_results_use_hugepages() -> bool:
    """True if results from 4 MiB are advised MADV_HUGEPAGE (NumPy's setting
    when fastops was imported)."""
    return fo_aligned_hugepages != 0


fo_aligned_hugepages = _numpy_advises_hugepages()


cdef cnp.ndarray _new_result(tuple shape, int typenum):
    """An uninitialised C-contiguous array of `shape` (at most 64 dimensions),
    from ALIGNED_MIN_BYTES on a 64-byte boundary."""
    cdef cnp.npy_intp dims[64]
    cdef int d, nd = len(shape)
    cdef cnp.npy_intp nbytes = 4 if typenum == cnp.NPY_FLOAT32 else 8
    for d in range(nd):
        dims[d] = shape[d]
        nbytes *= dims[d]
    if nbytes < ALIGNED_MIN_BYTES:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    default = cnp.PyDataMem_SetHandler(_ALIGNED_HANDLER)
    try:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        cnp.PyDataMem_SetHandler(default)


def matmul_t_into(cnp.ndarray a, cnp.ndarray b, out, tuple shape, int method,
                  int num_threads):
    """Fill `out` (C-contiguous, `shape` = (..., n, m)) with (A @ B)^T for every
    batch entry, and return it; `out` None: a new array.

    `a` (..., m, k) and `b` (..., k, n) share out's dtype (float32/float64), are
    aligned (else UnalignedError: the caller copies them) and their batch
    dimensions broadcast to `shape`'s.  An empty result is returned as is, and
    k = 0 gives zeros.  `num_threads` 0: OpenMP's default, capped by the usable
    CPUs.  Validation is the caller's job (fastops/matmul_t.py).
    """
    cdef cnp.ndarray r = _new_result(shape, cnp.PyArray_TYPE(a)) if out is None else out
    if cnp.PyArray_SIZE(r) == 0:
        return r
    if cnp.PyArray_DIMS(a)[cnp.PyArray_NDIM(a) - 1] == 0:
        memset(cnp.PyArray_DATA(r), 0, cnp.PyArray_NBYTES(r))
        return r
    if not (cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISALIGNED(b)):
        raise UnalignedError("operands must have strides in whole elements")
    if num_threads == 0:
        num_threads = default_n_threads()
    cdef int64_t n_batch = 1
    cdef int d
    for d in range(cnp.PyArray_NDIM(r) - 2):
        n_batch *= cnp.PyArray_DIMS(r)[d]
    if n_batch == 1:
        _run_typed(a, b, r, &_zero, &_zero, 1, method, num_threads)
        return r
    cdef int64_t *ao = _batch_offsets(a, r, n_batch)
    cdef int64_t *bo = NULL
    try:
        bo = _batch_offsets(b, r, n_batch)
        _run_typed(a, b, r, ao, bo, n_batch, method, num_threads)
    finally:
        free(ao)
        free(bo)
    return r


def plan(cnp.ndarray a, cnp.ndarray b, tuple shape, int method, int num_threads) -> dict:
    """What matmul_t_into(a, b, None, shape, method, num_threads) would run,
    computing nothing: a dict of "kernel" (one of KERNEL_NAMES, or "none" for
    an empty result, "zeros" for k = 0), "simd" (the native kernels' variant;
    None for BLAS and the two above), "threads", "split" (SPLIT_NAMES: one
    thread, one batch entry per thread, or threads inside each product) and
    "gil_released".  UnalignedError as matmul_t_into."""
    cdef int64_t size = 1, work
    cdef int64_t n_batch = 1
    cdef int d
    cdef Geometry g
    cdef Plan p
    for d in range(len(shape)):
        size *= shape[d]
        if d < len(shape) - 2:
            n_batch *= shape[d]
    if size == 0 or cnp.PyArray_DIMS(a)[cnp.PyArray_NDIM(a) - 1] == 0:
        return {"kernel": "zeros" if size else "none", "simd": None,
                "threads": 1, "split": SPLIT_NAMES[SPLIT_NONE], "gil_released": False}
    if not (cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISALIGNED(b)):
        raise UnalignedError("operands must have strides in whole elements")
    if num_threads == 0:
        num_threads = default_n_threads()
    if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32:
        g = _geometry(<float *>NULL, a, b, n_batch)
    else:
        g = _geometry(<double *>NULL, a, b, n_batch)
    p = _plan(&g, n_batch, method == METHOD_BLAS, num_threads)
    work = g.m * g.n * g.k * n_batch
    return {"kernel": KERNEL_NAMES[p.kernel],
            "simd": None if p.kernel == KERNEL_BLAS else fo_simd_names[g.level].decode(),
            "threads": p.threads, "split": SPLIT_NAMES[p.split],
            "gil_released": _worth_releasing_gil(work)}


cdef int _run_typed(cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, const int64_t *ao,
                    const int64_t *bo, int64_t n_batch, int method, int num_threads) except -1:
    if cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT32:
        return _run(<float *>NULL, a, b, out, ao, bo, n_batch, method, num_threads)
    return _run(<double *>NULL, a, b, out, ao, bo, n_batch, method, num_threads)


cdef void _extent(cnp.ndarray x, char **low, char **high):
    """Lowest and one-past-highest byte any element of x occupies."""
    cdef char *lo = <char *>cnp.PyArray_DATA(x)
    cdef char *hi = lo + cnp.PyArray_ITEMSIZE(x)
    cdef int d
    cdef cnp.npy_intp span
    for d in range(cnp.PyArray_NDIM(x)):
        if cnp.PyArray_DIMS(x)[d] == 0:
            low[0] = high[0] = lo
            return
        span = (cnp.PyArray_DIMS(x)[d] - 1) * cnp.PyArray_STRIDES(x)[d]
        if span < 0:
            lo += span
        else:
            hi += span
    low[0], high[0] = lo, hi


cdef bint _extents_overlap(cnp.ndarray x, cnp.ndarray y):
    """True if the memory extents of x and y intersect (np.may_share_memory, in C)."""
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    _extent(x, &xl, &xh)
    _extent(y, &yl, &yh)
    return xl < yh and yl < xh and xl < xh and yl < yh


# Bits of out_flaws(), for fastops/matmul_t.py's error messages.
OUT_NOT_C_CONTIGUOUS = 1
OUT_READ_ONLY = 2
OUT_NEAR_A = 4
OUT_NEAR_B = 8


def out_flaws(cnp.ndarray out, cnp.ndarray a, cnp.ndarray b) -> int:
    """What keeps `out` from taking the result, as OUT_* bits (0: nothing):
    not C-contiguous, read-only, memory extent meeting a's or b's (they may
    share memory: np.shares_memory decides)."""
    return ((0 if cnp.PyArray_IS_C_CONTIGUOUS(out) else OUT_NOT_C_CONTIGUOUS)
            | (0 if cnp.PyArray_ISWRITEABLE(out) else OUT_READ_ONLY)
            | (OUT_NEAR_A if _extents_overlap(out, a) else 0)
            | (OUT_NEAR_B if _extents_overlap(out, b) else 0))


# ------------------------------------------------------ runtime selection --

def simd_variants() -> list:
    """Names of the micro-kernel variants compiled into this build."""
    return [fo_simd_names[i].decode() for i in range(FO_SIMD_COUNT) if fo_simd_compiled(i)]


def simd_supported() -> list:
    """Compiled variants this CPU can run, best last."""
    return simd_variants()[: fo_simd_best() + 1]


def active_simd() -> str:
    """The variant the kernels use now."""
    return fo_simd_names[fo_active_level].decode()


def active_simd_is_avx512() -> bool:
    """True when the AVX-512 variant is active (matmul_t's auto policy differs)."""
    return fo_active_level == FO_SIMD_AVX512


def cpu_is_intel() -> bool:
    """True on an Intel CPU (matmul_t's auto policy differs)."""
    return fo_cpu_is_intel() != 0


def cpu_family() -> int:
    """The CPU's x86 family (25: AMD Zen 3 and Zen 4, 26: Zen 5; 0 off x86)."""
    return fo_cpu_family()


def select_simd(name: str) -> None:
    """Use variant `name` (one of simd_supported()); for benchmarks and tests."""
    supported = simd_supported()
    if name not in supported:
        raise ValueError(f"SIMD variant {name!r} is not usable here; choose from {supported}")
    fo_simd_select(supported.index(name))


def simd_for(dtype_char: str, side: int) -> str:
    """The SIMD variant whose kernels compute a product with max(m, n) = side
    ("f": float32, "d": float64): the active one, or a narrower one for
    results too small to fill its vectors."""
    return fo_simd_names[fo_level_for(side * (4 if dtype_char == "f" else 8))].decode()


def tile_shape(dtype_char: str) -> tuple:
    """(MR, NR) register tile of the active variant for 'f' or 'd' (products
    too small for its vectors use a narrower variant's: simd_for)."""
    return (fo_active_s.mr, fo_active_s.nr) if dtype_char == "f" else (fo_active_d.mr, fo_active_d.nr)


def bind_blas(intptr_t gemm_s, intptr_t gemm_d, intptr_t threads_local, bint ilp64) -> None:
    """Bind the CBLAS sgemm/dgemm (and optional openblas_set_num_threads_local) addresses."""
    global fo_blas_gemm_s_ptr, fo_blas_gemm_d_ptr, fo_blas_threads_local, fo_blas_ilp64
    fo_blas_gemm_s_ptr = <void *>gemm_s
    fo_blas_gemm_d_ptr = <void *>gemm_d
    fo_blas_threads_local = <int (*)(int) noexcept nogil>threads_local
    fo_blas_ilp64 = ilp64


fo_simd_select(fo_simd_best())
