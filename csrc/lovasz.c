/* lovasz.c -- lovasz_softmax (the driver is lovasz_impl.h). */
#include "pyloss.h"
#include "common.h"

#define PL_LV_BITS 11
#define PL_LV_RADIX (1 << PL_LV_BITS)

/* Stable LSD radix sort of key[0..n) ascending by bits [lo, hi) of the key,
 * carrying idx along when non-NULL (tmp/tidx: scratch of n).  Passes in
 * which every key has the same digit are skipped.  Returns the array that
 * holds the result (key or tmp), and sets *iout likewise. */
static uint64_t *pl_lv_radix(uint64_t *key, uint64_t *tmp, int64_t *idx, int64_t *tidx,
                             int64_t n, int lo, int hi, int64_t **iout)
{
    static const int64_t R = PL_LV_RADIX;
    int64_t *cnt = (int64_t *)malloc(sizeof(int64_t) * R);
    if (!cnt) return NULL;
    for (int sh = lo; sh < hi; sh += PL_LV_BITS) {
        const uint64_t mask = (uint64_t)(R - 1);
        memset(cnt, 0, sizeof(int64_t) * R);
        for (int64_t i = 0; i < n; i++) cnt[(key[i] >> sh) & mask]++;
        if (n == 0 || cnt[(key[0] >> sh) & mask] == n) continue;   /* one bucket: nothing moves */
        int64_t sum = 0;
        for (int64_t r = 0; r < R; r++) {
            int64_t c = cnt[r];
            cnt[r] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++) {
            const int64_t d = cnt[(key[i] >> sh) & mask]++;
            tmp[d] = key[i];
            if (idx) tidx[d] = idx[i];
        }
        uint64_t *t = key; key = tmp; tmp = t;
        if (idx) { int64_t *u = idx; idx = tidx; tidx = u; }
    }
    free(cnt);
    *iout = idx;
    return key;
}

#define PL_DOUBLE 0
#include "pl_type.h"
#include "lovasz_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "lovasz_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
