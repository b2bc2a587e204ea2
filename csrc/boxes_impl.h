/* boxes_impl.h -- the box-loss driver, once per dtype (see pl_type.h). */

/* Losses l[i] and gradients d[j][i] of n <= PL_BOX_CHUNK boxes of one kind:
 * a loop with no branch and no store that depends on an option, which GCC
 * vectorises over boxes for GIoU and DIoU (CIoU's atan2 is a libm call: that
 * loop stays scalar, still branch-free). */
static inline void PL_NAME(pl_box_chunk)(int64_t n, const T *restrict pred,
                                         const T *restrict target, int kind, double eps,
                                         double *restrict l, double (*restrict d)[PL_BOX_CHUNK])
{
    for (int64_t i = 0; i < n; i++) {
        double p[4], t[4], g[4];
        for (int j = 0; j < 4; j++) {
            p[j] = (double)pred[4 * i + j];
            t[j] = (double)target[4 * i + j];
        }
        l[i] = pl_box_point(p, t, kind, eps, g);
        d[0][i] = g[0];
        d[1][i] = g[1];
        d[2][i] = g[2];
        d[3][i] = g[3];
    }
}

static double PL_NAME(pl_box_block)(int64_t n, const T *pred, const T *target,
                                              const T *weight, int kind, double eps,
                                              double scale, T *loss, T *grad)
{
    double acc = 0.0;
    double l[PL_BOX_CHUNK], d[4][PL_BOX_CHUNK];
    for (int64_t s = 0; s < n; s += PL_BOX_CHUNK) {
        const int64_t m = n - s < PL_BOX_CHUNK ? n - s : PL_BOX_CHUNK;
        const T *p = pred + 4 * s, *t = target + 4 * s;
        /* the kind as a literal: each call inlines its own specialised loop */
        if (kind == 0)
            PL_NAME(pl_box_chunk)(m, p, t, 0, eps, l, d);
        else if (kind == 1)
            PL_NAME(pl_box_chunk)(m, p, t, 1, eps, l, d);
        else
            PL_NAME(pl_box_chunk)(m, p, t, 2, eps, l, d);
        if (weight)
            for (int64_t i = 0; i < m; i++) l[i] *= (double)weight[s + i];
        for (int64_t i = 0; i < m; i++) acc += l[i];   /* in index order, as before */
        if (loss)
            for (int64_t i = 0; i < m; i++) loss[s + i] = (T)l[i];
        if (grad) {
            T *gr = grad + 4 * s;
            if (weight) {
                for (int64_t i = 0; i < m; i++) {
                    const double sw = scale * (double)weight[s + i];
                    gr[4 * i + 0] = (T)(sw * d[0][i]);
                    gr[4 * i + 1] = (T)(sw * d[1][i]);
                    gr[4 * i + 2] = (T)(sw * d[2][i]);
                    gr[4 * i + 3] = (T)(sw * d[3][i]);
                }
            } else {
                for (int64_t i = 0; i < m; i++) {
                    gr[4 * i + 0] = (T)(scale * d[0][i]);
                    gr[4 * i + 1] = (T)(scale * d[1][i]);
                    gr[4 * i + 2] = (T)(scale * d[2][i]);
                    gr[4 * i + 3] = (T)(scale * d[3][i]);
                }
            }
        }
    }
    return acc;
}

typedef struct {
    int64_t n;
    const T *pred, *target, *weight;
    int kind;
    double eps, scale;
    T *loss, *grad;
} PL_NAME(box_job);

static double PL_NAME(box_one)(void *vj, int64_t b)
{
    const PL_NAME(box_job) *j = (const PL_NAME(box_job) *)vj;
    const int64_t s = b * PL_BOX_BLOCK;
    const int64_t len = j->n - s < PL_BOX_BLOCK ? j->n - s : PL_BOX_BLOCK;
    return PL_NAME(pl_box_block)(len, j->pred + 4 * s, j->target + 4 * s,
                                 j->weight ? j->weight + s : NULL, j->kind, j->eps, j->scale,
                                 j->loss ? j->loss + s : NULL, j->grad ? j->grad + 4 * s : NULL);
}

double PL_NAME(pl_box_iou)(int64_t n, const T *pred, const T *target, const T *weight, int kind,
                           double eps, double scale, T *loss, T *grad, double *work,
                           int nthreads)
{
    const int64_t nb = pl_box_work(n);
    PL_NAME(box_job) j = {n, pred, target, weight, kind, eps, scale, loss, grad};
    pl_run_blocks(nb, pl_threads(4 * n, nthreads), PL_NAME(box_one), &j, work);
    return pl_pairwise(work, nb);
}
