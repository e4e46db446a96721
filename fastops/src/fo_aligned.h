/*
 * A NumPy data-memory handler (NEP 49) whose blocks start on a 64-byte
 * boundary, a cache line: matmul_t allocates its larger results through it.
 * NumPy's default allocator gives 16-byte alignment (large blocks come 16 to
 * 48 bytes off a line), and a store-bound kernel then splits every vector
 * store across two lines (the Llama node's outer product: 1.18-1.24x slower
 * into a result 16 or 32 bytes off).  An array remembers its handler and is
 * freed, resized and copied through it, so it stays an ordinary NumPy array
 * (owndata, no base).
 *
 * Each block is over-allocated; the 64 bytes before the returned address hold
 * the address malloc gave and the block's size (for realloc).  Blocks from
 * 4 MiB ask Linux for transparent huge pages, as NumPy's own allocator does
 * (unless numpy._core.multiarray._set_madvise_hugepage turned that off
 * before fastops was imported): a 32 MiB result then takes 16 page faults,
 * not 8192.
 */
#ifndef FO_ALIGNED_H
#define FO_ALIGNED_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <numpy/ndarraytypes.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define FO_ALIGN 64
#define FO_HUGE_MIN ((size_t)1 << 22)   /* NumPy's threshold for huge pages */
#define FO_PAGE ((uintptr_t)4096)

/* 1: blocks from FO_HUGE_MIN are advised MADV_HUGEPAGE (set at import from
 * NumPy's setting, _matmul_t.pyx). */
static int fo_aligned_hugepages = 1;

typedef struct {
    void *raw;      /* what malloc / calloc returned */
    size_t size;    /* bytes asked for */
} fo_aligned_head;

/* The first line boundary in `raw` with room for the head before it. */
static void *fo_aligned_place(void *raw, size_t size)
{
    if (raw == NULL)
        return NULL;
    char *data = (char *)(((uintptr_t)raw + sizeof(fo_aligned_head) + FO_ALIGN - 1)
                          & ~(uintptr_t)(FO_ALIGN - 1));
    ((fo_aligned_head *)data)[-1] = (fo_aligned_head){raw, size};
    return data;
}

/* Ask for huge pages on the whole pages inside data[0:size], if it is large. */
static void *fo_aligned_advise(void *data, size_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (data != NULL && fo_aligned_hugepages && size >= FO_HUGE_MIN) {
        const uintptr_t start = ((uintptr_t)data + FO_PAGE - 1) & ~(FO_PAGE - 1);
        const uintptr_t end = ((uintptr_t)data + size) & ~(FO_PAGE - 1);
        if (end > start)
            madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#endif
    return data;
}

static int fo_aligned_fits(size_t size)
{
    return size <= SIZE_MAX - FO_ALIGN - sizeof(fo_aligned_head);
}

static void *fo_aligned_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (!fo_aligned_fits(size))
        return NULL;
    return fo_aligned_advise(fo_aligned_place(malloc(size + FO_ALIGN + sizeof(fo_aligned_head)), size),
                             size);
}

static void *fo_aligned_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    if (elsize && nelem > SIZE_MAX / elsize)
        return NULL;
    const size_t size = nelem * elsize;
    if (!fo_aligned_fits(size))
        return NULL;
    return fo_aligned_advise(fo_aligned_place(calloc(1, size + FO_ALIGN + sizeof(fo_aligned_head)), size),
                             size);
}

static void fo_aligned_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    if (ptr != NULL)
        free(((fo_aligned_head *)ptr)[-1].raw);
}

static void *fo_aligned_realloc(void *ctx, void *ptr, size_t new_size)
{
    if (ptr == NULL)
        return fo_aligned_malloc(ctx, new_size);
    void *moved = fo_aligned_malloc(ctx, new_size);
    if (moved == NULL)
        return NULL;     /* like realloc: the old block stays valid */
    const size_t old_size = ((fo_aligned_head *)ptr)[-1].size;
    memcpy(moved, ptr, old_size < new_size ? old_size : new_size);
    fo_aligned_free(ctx, ptr, old_size);
    return moved;
}

static PyDataMem_Handler fo_aligned_handler = {
    "fastops_aligned64", 1,
    {NULL, fo_aligned_malloc, fo_aligned_calloc, fo_aligned_realloc, fo_aligned_free}};

#endif /* FO_ALIGNED_H */
