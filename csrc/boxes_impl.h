/* boxes_impl.h -- the box-loss driver, once per dtype (see pl_type.h). */

static double PL_NAME(pl_box_block)(int64_t n, const T *pred, const T *target, const T *weight,
                                    int kind, double eps, double scale, T *loss, T *grad)
{
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p[4], t[4], d[4];
        for (int j = 0; j < 4; j++) {
            p[j] = (double)pred[4 * i + j];
            t[j] = (double)target[4 * i + j];
        }
        double l = pl_box_point(p, t, kind, eps, d);
        const double w = weight ? (double)weight[i] : 1.0;
        l *= w;
        if (loss) loss[i] = (T)l;
        acc += l;
        if (grad) {
            const double s = scale * w;
            for (int j = 0; j < 4; j++) grad[4 * i + j] = (T)(s * d[j]);
        }
    }
    return acc;
}

double PL_NAME(pl_box_iou)(int64_t n, const T *pred, const T *target, const T *weight, int kind,
                           double eps, double scale, T *loss, T *grad, double *work,
                           int nthreads)
{
    const int64_t nb = pl_box_work(n);
    const int par = nthreads > 1 && n >= PL_PAR_MIN / 4;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) if (par)
#endif
    for (int64_t b = 0; b < nb; b++) {
        const int64_t s = b * PL_BOX_BLOCK;
        const int64_t len = n - s < PL_BOX_BLOCK ? n - s : PL_BOX_BLOCK;
        work[b] = PL_NAME(pl_box_block)(len, pred + 4 * s, target + 4 * s,
                                        weight ? weight + s : NULL, kind, eps, scale,
                                        loss ? loss + s : NULL, grad ? grad + 4 * s : NULL);
    }
    return pl_pairwise(work, nb);
}
