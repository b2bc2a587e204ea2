/* lovasz.h -- Lovasz-Softmax (Berman et al. 2018) over x (N, C, S) with labels
 * (N, S) in [0, C) or equal to ignore_index when has_ignore (validated by
 * Python).  activation: 0 probabilities given, 2 softmax over C.  per_image:
 * one loss per image (written to loss (N,)), else one for the whole batch
 * (loss (1,)).  all_classes: average over every class, else over the classes
 * present in the group's labels.  Returns the sum of the group losses and
 * writes scale * its gradient w.r.t. x to grad when non-NULL (grad may be x).
 * Errors are sorted per (group, class) by a stable LSD radix sort on their
 * bit patterns (decreasing error, ties in pixel order): bit-identical for any
 * nthreads.  Returns NAN with *status = 1 when memory runs out. */
double pl_lovasz_softmax_f32(int64_t n, int64_t c, int64_t s, const float *x, const int64_t *labels, int has_ignore, int64_t ignore_index, int activation, int per_image, int all_classes, double scale, float *loss, float *grad, int nthreads, int *status);
double pl_lovasz_softmax_f64(int64_t n, int64_t c, int64_t s, const double *x, const int64_t *labels, int has_ignore, int64_t ignore_index, int activation, int per_image, int all_classes, double scale, double *loss, double *grad, int nthreads, int *status);
