/*
 * pl_type.h -- type-generic names for one instantiation of a *_impl.h file.
 * Define PL_DOUBLE to 0 (float) or 1 (double), include this, include the
 * impl, then include pl_type_end.h.
 */
#if PL_DOUBLE
#define T double
#define PL_SFX _f64
#define PL_EXP pl_exp
#define PL_EXP_NONPOS pl_exp_nonpos
#define PL_LOG pl_log
#define PL_LOG1P_POS pl_log1p_pos
#define PL_LOG1P_UNIT pl_log1p_unit
#define PL_FABS fabs
#define PL_SQRT sqrt
#define PL_POW pow
#define PL_COPYSIGN copysign
#else
#define T float
#define PL_SFX _f32
#define PL_EXP pl_expf
#define PL_EXP_NONPOS pl_expf_nonpos
#define PL_LOG pl_logf
#define PL_LOG1P_POS pl_log1pf_pos
#define PL_LOG1P_UNIT pl_log1pf_unit
#define PL_FABS fabsf
#define PL_SQRT sqrtf
#define PL_POW powf
#define PL_COPYSIGN copysignf
#endif
/* PL_NAME(pl_mse) -> pl_mse_f32 / pl_mse_f64 */
#define PL_NAME(x) PL_CAT3(x, PL_SFX, )
